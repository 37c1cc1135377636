package imagediff

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// Summary is a one-line account of the result, e.g. "differs in 2
// manifest fields, 1 config field, 3 layer entries (strict); semantically
// equal".
func (r *Result) Summary() string {
	if r == nil {
		return "not compared"
	}
	if r.Equal {
		return "identical"
	}
	s := "differs in " + countsPhrase(r.Strict) + " (strict); "
	if r.SemanticEqual {
		return s + "semantically equal"
	}
	return s + "semantically differs in " + countsPhrase(r.Semantic)
}

func countsPhrase(c Counts) string {
	var parts []string
	add := func(n int, one, many string) {
		switch {
		case n == 1:
			parts = append(parts, "1 "+one)
		case n > 1:
			parts = append(parts, fmt.Sprintf("%d %s", n, many))
		}
	}
	add(c.Index, "index field", "index fields")
	add(c.Manifest, "manifest field", "manifest fields")
	add(c.Config, "config field", "config fields")
	add(c.Layer, "layer field", "layer fields")
	add(c.Entry, "layer entry", "layer entries")
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// TextOptions tune WriteTextOptions.
type TextOptions struct {
	// Max is the number of lines of differences shown (default 20); a line
	// may stand for a group of entries that differ alike.
	Max int
	// SemanticOnly shows only semantic differences.
	SemanticOnly bool
	// MaxHints caps the hints listed (default 8).
	MaxHints int
}

// WriteText renders the result as a short tree: the first and most
// important differences (semantic ones first), at most max lines of them,
// and a count of the rest, followed by the hints.
func (r *Result) WriteText(w io.Writer, max int) error {
	return r.WriteTextOptions(w, TextOptions{Max: max})
}

// collapseMin is the number of entries differing alike from which they are
// shown as one line.
const collapseMin = 3

// item is one displayed line of differences.
type item struct {
	order    int
	semantic bool
	text     string
	count    int // differences it stands for
}

type dnode struct {
	n        *Node
	items    []*item
	children []*dnode
}

// WriteTextOptions renders the result as WriteText does, with options.
func (r *Result) WriteTextOptions(w io.Writer, o TextOptions) error {
	if o.Max <= 0 {
		o.Max = 20
	}
	if o.MaxHints <= 0 {
		o.MaxHints = 8
	}
	ew := &errWriter{w: w}
	ew.printf("%s\n", r.Summary())
	for _, in := range []struct {
		label string
		in    Input
	}{{"A", r.A}, {"B", r.B}} {
		name := in.in.Name
		if name == "" {
			name = "image " + in.label
		}
		ew.printf("  %s: %s", in.label, name)
		if in.in.IndexDigest != "" {
			ew.printf("  (index %s)", shortDigest(in.in.IndexDigest))
		}
		ew.printf("\n")
	}
	if r.Equal || r.Tree == nil || (o.SemanticOnly && r.SemanticEqual) {
		return ew.err
	}

	order := 0
	var build func(n *Node) *dnode
	build = func(n *Node) *dnode {
		dn := &dnode{n: n}
		dn.items = nodeItems(n, o.SemanticOnly, &order)
		for _, c := range n.Children {
			if cd := build(c); cd != nil {
				dn.children = append(dn.children, cd)
			}
		}
		if len(dn.items) == 0 && len(dn.children) == 0 {
			return nil
		}
		return dn
	}
	root := build(r.Tree)
	if root == nil {
		return ew.err
	}
	var all []*item
	var gather func(dn *dnode)
	gather = func(dn *dnode) {
		all = append(all, dn.items...)
		for _, c := range dn.children {
			gather(c)
		}
	}
	gather(root)
	ranked := append([]*item(nil), all...)
	slices.SortStableFunc(ranked, func(x, y *item) int {
		// Semantic lines first, then in tree order.
		if x.semantic != y.semantic {
			if x.semantic {
				return -1
			}
			return 1
		}
		return cmp.Compare(x.order, y.order)
	})
	shown := map[*item]bool{}
	for i := 0; i < len(ranked) && i < o.Max; i++ {
		shown[ranked[i]] = true
	}
	hidden := 0
	for _, it := range all {
		if !shown[it] {
			hidden += it.count
		}
	}
	omitted := 0
	var countOmitted func(n *Node)
	countOmitted = func(n *Node) {
		omitted += n.Omitted
		for _, c := range n.Children {
			countOmitted(c)
		}
	}
	countOmitted(r.Tree)

	ew.printf("\n")
	if !o.SemanticOnly {
		ew.printf("(! marks differences a container sees; the others are ignored by --semantic)\n")
	}
	visible := func(dn *dnode) bool {
		var v func(*dnode) bool
		v = func(d *dnode) bool {
			for _, it := range d.items {
				if shown[it] {
					return true
				}
			}
			for _, c := range d.children {
				if v(c) {
					return true
				}
			}
			return false
		}
		return v(dn)
	}
	// render prints a node's header (but for the root), then its shown
	// lines and visible children as a tree. Top-level nodes are headers
	// of their own, flush left.
	var render func(dn *dnode, prefix string, last bool, depth int)
	render = func(dn *dnode, prefix string, last bool, depth int) {
		childPrefix := prefix
		switch {
		case depth == 1:
			ew.printf("%s\n", nodeHeader(dn.n))
		case depth > 1:
			branch, cont := "├─ ", "│  "
			if last {
				branch, cont = "└─ ", "   "
			}
			ew.printf("%s%s%s\n", prefix, branch, nodeHeader(dn.n))
			childPrefix = prefix + cont
		}
		type line struct {
			it *item
			dn *dnode
		}
		var lines []line
		for _, it := range dn.items {
			if shown[it] {
				lines = append(lines, line{it: it})
			}
		}
		for _, c := range dn.children {
			if visible(c) {
				lines = append(lines, line{dn: c})
			}
		}
		for i, l := range lines {
			isLast := i == len(lines)-1
			if l.dn != nil {
				render(l.dn, childPrefix, isLast, depth+1)
				continue
			}
			if depth == 0 {
				ew.printf("%s\n", l.it.text)
				continue
			}
			branch := "├─ "
			if isLast {
				branch = "└─ "
			}
			ew.printf("%s%s%s\n", childPrefix, branch, l.it.text)
		}
	}
	render(root, "", true, 0)
	if hidden+omitted > 0 {
		ew.printf("… and %d more difference%s (--max to show more, --json for all)\n", hidden+omitted, plural1(hidden+omitted))
	}
	if o.SemanticOnly {
		if n := r.Strict.Total() - r.Semantic.Total(); n > 0 {
			ew.printf("(%d strict-only difference%s not shown)\n", n, plural1(n))
		}
	}
	hints := r.Matched
	if o.SemanticOnly {
		// Only the hints that explain a semantic difference.
		ids := map[string]bool{}
		r.Walk(func(_ []string, d *Difference) {
			if d.Semantic {
				for _, h := range d.Hints {
					ids[h] = true
				}
			}
		})
		hints = nil
		for _, h := range r.Matched {
			if ids[h.ID] {
				hints = append(hints, h)
			}
		}
	}
	if len(hints) > 0 {
		ew.printf("\nhints:\n")
		for i, h := range hints {
			if i == o.MaxHints {
				ew.printf("  … %d more hints (--json)\n", len(hints)-i)
				break
			}
			ew.printf("  [%s] %s (%d: e.g. %s)\n", h.ID, h.Cause, h.Count, h.Example)
			ew.printf("      fix: %s\n", h.Fix)
		}
	}
	return ew.err
}

func plural1(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func nodeHeader(n *Node) string {
	s := n.Name
	if n.A != n.B && n.A != "" && n.B != "" {
		s += "  " + shortDigest(n.A) + " ≠ " + shortDigest(n.B)
	}
	if n.Note != "" {
		s += "  (" + n.Note + ")"
	}
	return s
}

// nodeItems turns a node's differences into display lines: one per
// difference, but one per entry for entry differences, and one per group
// of at least collapseMin entries that differ in the same fields.
func nodeItems(n *Node, semanticOnly bool, order *int) []*item {
	var items []*item
	type entryLine struct {
		path  string
		diffs []*Difference
		item  *item
	}
	var entries []*entryLine
	byPath := map[string]*entryLine{}
	for i := range n.Differences {
		d := &n.Differences[i]
		if semanticOnly && !d.Semantic {
			continue
		}
		if d.Level == LevelEntry && d.Path != "" {
			el := byPath[d.Path]
			if el == nil {
				el = &entryLine{path: d.Path, item: &item{}}
				byPath[d.Path] = el
				entries = append(entries, el)
				items = append(items, el.item)
			}
			el.diffs = append(el.diffs, d)
			continue
		}
		*order++
		items = append(items, &item{order: *order, semantic: d.Semantic, count: 1, text: diffLine(d)})
	}
	// Group entries by the fields that differ.
	groups := map[string][]*entryLine{}
	var sigs []string
	for _, el := range entries {
		var ks []string
		for _, d := range el.diffs {
			ks = append(ks, d.Field)
		}
		sig := strings.Join(ks, ", ")
		if _, ok := groups[sig]; !ok {
			sigs = append(sigs, sig)
		}
		groups[sig] = append(groups[sig], el)
	}
	drop := map[*item]bool{}
	for _, sig := range sigs {
		g := groups[sig]
		if len(g) < collapseMin {
			for _, el := range g {
				*order++
				el.item.order = *order
				el.item.count = 1
				el.item.semantic = anySemantic(el.diffs)
				el.item.text = entryText(el.path, el.diffs)
			}
			continue
		}
		first := g[0]
		*order++
		first.item.order = *order
		first.item.count = len(g)
		first.item.semantic = anySemantic(first.diffs)
		example := strings.TrimPrefix(entryText(first.path, first.diffs), "! ")
		if len(first.diffs) == 1 && first.diffs[0].Kind != KindMissing {
			// The field is named once, in front.
			example = first.path + ": " + valuesText(first.diffs[0]) + hintTags(first.diffs[0].Hints)
		}
		first.item.text = fmt.Sprintf("%s%s differ%s on %d entries, e.g. %s",
			marker(first.item.semantic), sig, plural2(len(first.diffs)), len(g), example)
		for _, el := range g[1:] {
			drop[el.item] = true
		}
	}
	out := items[:0]
	for _, it := range items {
		if !drop[it] {
			out = append(out, it)
		}
	}
	// Entry lines were appended on first sight; order them by their rank.
	slices.SortStableFunc(out, func(x, y *item) int { return cmp.Compare(x.order, y.order) })
	return out
}

func plural2(n int) string {
	if n == 1 {
		return "s"
	}
	return ""
}

func anySemantic(ds []*Difference) bool {
	for _, d := range ds {
		if d.Semantic {
			return true
		}
	}
	return false
}

func marker(semantic bool) string {
	if semantic {
		return "! "
	}
	return ""
}

func hintTags(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return "  [" + strings.Join(ids, ", ") + "]"
}

func diffLine(d *Difference) string {
	var b strings.Builder
	b.WriteString(marker(d.Semantic))
	b.WriteString(d.Field)
	b.WriteString(": ")
	b.WriteString(valuesText(d))
	if d.Note != "" && d.Kind != KindMissing {
		b.WriteString("  (" + d.Note + ")")
	}
	b.WriteString(hintTags(d.Hints))
	return b.String()
}

func valuesText(d *Difference) string {
	if d.Kind == KindMissing {
		if d.A != nil {
			return "only in A: " + fmtValue(d.A, d.Kind)
		}
		return "only in B: " + fmtValue(d.B, d.Kind)
	}
	return fmtValue(d.A, d.Kind) + " ≠ " + fmtValue(d.B, d.Kind)
}

func entryText(path string, ds []*Difference) string {
	var parts []string
	var notes []string
	var hints []string
	seen := map[string]bool{}
	for _, d := range ds {
		if d.Kind == KindMissing {
			parts = append(parts, valuesText(d))
		} else {
			parts = append(parts, d.Field+" "+valuesText(d))
		}
		if d.Note != "" && d.Kind != KindMissing {
			notes = append(notes, d.Note)
		}
		for _, h := range d.Hints {
			if !seen[h] {
				seen[h] = true
				hints = append(hints, h)
			}
		}
	}
	s := marker(anySemantic(ds)) + path + ": " + strings.Join(parts, "; ")
	if len(notes) > 0 {
		s += "  (" + strings.Join(notes, "; ") + ")"
	}
	return s + hintTags(hints)
}

var digestRE = regexp.MustCompile(`^[a-z0-9]+:[a-f0-9]{32,}$`)

// shortDigest cuts a digest to 12 hex digits for display; anything that
// does not look like a digest is returned whole.
func shortDigest(d digest.Digest) string {
	s := string(d)
	if digestRE.MatchString(s) {
		return d.Algorithm().String() + ":" + d.Encoded()[:12]
	}
	return s
}

func shortMediaType(mt string) string {
	return strings.TrimPrefix(mt, "application/vnd.")
}

const maxValueText = 72

func fmtValue(v any, k Kind) string {
	switch x := v.(type) {
	case nil:
		return "(none)"
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case digest.Digest:
		return shortDigest(x)
	case json.Number:
		return x.String()
	case fmt.Stringer:
		return truncate(x.String())
	case string:
		if k == KindMediaType {
			return shortMediaType(x)
		}
		if digestRE.MatchString(x) {
			return shortDigest(digest.Digest(x))
		}
		if x == "" || strings.ContainsAny(x, " \t\n\"") || !strconv.CanBackquote(x) {
			return truncate(strconv.Quote(x))
		}
		return truncate(x)
	case int, int64, bool:
		return fmt.Sprint(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return truncate(fmt.Sprint(v))
	}
	return truncate(string(b))
}

func truncate(s string) string {
	r := []rune(s)
	if len(r) <= maxValueText {
		return s
	}
	return string(r[:maxValueText-1]) + "…"
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err != nil {
		return
	}
	_, e.err = fmt.Fprintf(e.w, format, args...)
}

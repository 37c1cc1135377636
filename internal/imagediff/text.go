package imagediff

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
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

// dnode is a node of the tree as displayed: its lines and the children
// that have any.
type dnode struct {
	n        *Node
	items    []*item
	children []*dnode
}

// WriteTextOptions renders the result as WriteText does, with options. It
// returns the first error writing to w.
func (r *Result) WriteTextOptions(w io.Writer, o TextOptions) error {
	if o.Max <= 0 {
		o.Max = 20
	}
	if o.MaxHints <= 0 {
		o.MaxHints = 8
	}
	ew := &errWriter{w: w}
	ew.printf("%s\n", r.Summary())
	r.writeInputs(ew)
	if o.SemanticOnly && r.SemanticEqual {
		r.writeExplained(ew)
	}
	if r.Equal || r.Tree == nil || (o.SemanticOnly && r.SemanticEqual) {
		return ew.err
	}
	order := 0
	root := buildDisplay(r.Tree, o.SemanticOnly, &order)
	if root == nil {
		return ew.err
	}
	shown, hidden := pickShown(root, o.Max)
	omitted := countOmitted(r.Tree)
	ew.printf("\n")
	if !o.SemanticOnly {
		ew.printf("(! marks differences a container sees; the others are ignored by --semantic)\n")
	}
	(&treeWriter{ew: ew, shown: shown}).render(root, "", true, 0)
	if hidden+omitted > 0 {
		ew.printf("… and %d more difference%s (--max to show more, --json for all)\n", hidden+omitted, plural1(hidden+omitted))
	}
	if o.SemanticOnly {
		if n := r.Strict.Total() - r.Semantic.Total(); n > 0 {
			ew.printf("(%d strict-only difference%s not shown)\n", n, plural1(n))
		}
	}
	writeHints(ew, r.hintsShown(o.SemanticOnly), o.MaxHints)
	return ew.err
}

// writeExplained says, for each manifest pair whose layers differ, what
// the comparison of their filesystems made of it ("layers differ, the
// filesystems they make are equal").
func (r *Result) writeExplained(ew *errWriter) {
	if r.Tree == nil {
		return
	}
	for _, n := range r.Tree.Children {
		if n.Level == LevelManifest && strings.HasPrefix(n.Note, "layers differ") {
			ew.printf("  %s: %s\n", n.Name, n.Note)
		}
	}
}

// writeInputs names the two images, with their index digests.
func (r *Result) writeInputs(ew *errWriter) {
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
}

// buildDisplay turns the tree of differences into display lines per node,
// numbering them in tree order; nil when nothing is left to show.
func buildDisplay(n *Node, semanticOnly bool, order *int) *dnode {
	dn := &dnode{n: n, items: nodeItems(n, semanticOnly, order)}
	for _, c := range n.Children {
		if cd := buildDisplay(c, semanticOnly, order); cd != nil {
			dn.children = append(dn.children, cd)
		}
	}
	if len(dn.items) == 0 && len(dn.children) == 0 {
		return nil
	}
	return dn
}

// pickShown picks the max lines to show, semantic ones first, then in
// tree order, and counts the differences the others stand for.
func pickShown(root *dnode, max int) (shown map[*item]bool, hidden int) {
	var all []*item
	var gather func(dn *dnode)
	gather = func(dn *dnode) {
		all = append(all, dn.items...)
		for _, c := range dn.children {
			gather(c)
		}
	}
	gather(root)
	ranked := slices.Clone(all)
	slices.SortStableFunc(ranked, func(x, y *item) int {
		if x.semantic != y.semantic {
			if x.semantic {
				return -1
			}
			return 1
		}
		return cmp.Compare(x.order, y.order)
	})
	shown = map[*item]bool{}
	for _, it := range ranked[:min(max, len(ranked))] {
		shown[it] = true
	}
	for _, it := range all {
		if !shown[it] {
			hidden += it.count
		}
	}
	return shown, hidden
}

// countOmitted sums the differences the tree counted but did not keep.
func countOmitted(n *Node) int {
	total := n.Omitted
	for _, c := range n.Children {
		total += countOmitted(c)
	}
	return total
}

// treeWriter prints the shown lines of a display tree.
type treeWriter struct {
	ew    *errWriter
	shown map[*item]bool
}

// visible tells whether dn or a node below it has a shown line.
func (tw *treeWriter) visible(dn *dnode) bool {
	for _, it := range dn.items {
		if tw.shown[it] {
			return true
		}
	}
	return slices.ContainsFunc(dn.children, tw.visible)
}

// render prints a node's header (but for the root), then its shown lines
// and visible children as a tree. Top-level nodes are headers of their
// own, flush left.
func (tw *treeWriter) render(dn *dnode, prefix string, last bool, depth int) {
	childPrefix := prefix
	switch {
	case depth == 1:
		tw.ew.printf("%s\n", nodeHeader(dn.n))
	case depth > 1:
		branch, cont := "├─ ", "│  "
		if last {
			branch, cont = "└─ ", "   "
		}
		tw.ew.printf("%s%s%s\n", prefix, branch, nodeHeader(dn.n))
		childPrefix = prefix + cont
	}
	type line struct {
		it *item
		dn *dnode
	}
	var lines []line
	for _, it := range dn.items {
		if tw.shown[it] {
			lines = append(lines, line{it: it})
		}
	}
	for _, c := range dn.children {
		if tw.visible(c) {
			lines = append(lines, line{dn: c})
		}
	}
	for i, l := range lines {
		isLast := i == len(lines)-1
		switch {
		case l.dn != nil:
			tw.render(l.dn, childPrefix, isLast, depth+1)
		case depth == 0:
			tw.ew.printf("%s\n", l.it.text)
		case isLast:
			tw.ew.printf("%s└─ %s\n", childPrefix, l.it.text)
		default:
			tw.ew.printf("%s├─ %s\n", childPrefix, l.it.text)
		}
	}
}

// hintsShown is the hints to list: all of them, or with semanticOnly only
// those that explain a semantic difference.
func (r *Result) hintsShown(semanticOnly bool) []Hint {
	if !semanticOnly {
		return r.Matched
	}
	ids := map[string]bool{}
	r.Walk(func(_ []string, d *Difference) {
		if d.Semantic {
			for _, h := range d.Hints {
				ids[h] = true
			}
		}
	})
	var hints []Hint
	for _, h := range r.Matched {
		if ids[h.ID] {
			hints = append(hints, h)
		}
	}
	return hints
}

// writeHints lists at most max hints with their fixes.
func writeHints(ew *errWriter, hints []Hint, max int) {
	if len(hints) == 0 {
		return
	}
	ew.printf("\nhints:\n")
	for i, h := range hints {
		if i == max {
			ew.printf("  … %d more hints (--json)\n", len(hints)-i)
			break
		}
		ew.printf("  [%s] %s (%d: e.g. %s)\n", h.ID, h.Cause, h.Count, h.Example)
		ew.printf("      fix: %s\n", h.Fix)
	}
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

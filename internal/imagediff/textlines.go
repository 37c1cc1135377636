package imagediff

import (
	"cmp"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

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

// nodeItems turns a node's differences into display lines: one per
// difference, but one per entry for entry differences, and one per group
// of at least collapseMin entries that differ in the same fields.
func nodeItems(n *Node, semanticOnly bool, order *int) []*item {
	var items []*item
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
	drop := collapseEntries(entries, order)
	items = slices.DeleteFunc(items, func(it *item) bool { return drop[it] })
	// Entry lines were appended on first sight; order them by their rank.
	slices.SortStableFunc(items, func(x, y *item) int { return cmp.Compare(x.order, y.order) })
	return items
}

// entryLine is the display line of one entry's differences.
type entryLine struct {
	path  string
	diffs []*Difference
	item  *item
}

// collapseEntries fills in the entry lines: one per entry, but one for a
// group of at least collapseMin entries that differ in the same fields, in
// which case it returns the items of the group's other entries to drop.
func collapseEntries(entries []*entryLine, order *int) (drop map[*item]bool) {
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
	drop = map[*item]bool{}
	for _, sig := range sigs {
		g := groups[sig]
		if len(g) < collapseMin {
			for _, el := range g {
				*order++
				*el.item = item{order: *order, count: 1, semantic: anySemantic(el.diffs), text: entryText(el.path, el.diffs)}
			}
			continue
		}
		first := g[0]
		*order++
		semantic := anySemantic(first.diffs)
		example := strings.TrimPrefix(entryText(first.path, first.diffs), "! ")
		if len(first.diffs) == 1 && first.diffs[0].Kind != KindMissing {
			// The field is named once, in front.
			example = first.path + ": " + valuesText(first.diffs[0]) + hintTags(first.diffs[0].Hints)
		}
		*first.item = item{order: *order, count: len(g), semantic: semantic,
			text: fmt.Sprintf("%s%s differ%s on %d entries, e.g. %s",
				marker(semantic), sig, plural2(len(first.diffs)), len(g), example)}
		for _, el := range g[1:] {
			drop[el.item] = true
		}
	}
	return drop
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

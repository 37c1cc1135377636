package report

import (
	"fmt"
	"html"
	"slices"
	"strings"

	"github.com/repro-matrix/repro-matrix/internal/cell"
)

// variationNotes are the Markdown notes on g's variations in the tables:
// one per variation that built another digest (with the reason and link
// of the known divergence that acknowledges it, if one does), one per
// variation whose rebuild failed, else how many held; none without
// variations.
func variationNotes(g GroupVerdict, results []CellResult) []string {
	if len(g.Variations) == 0 {
		return nil
	}
	var notes []string
	for _, v := range g.variedDigests() {
		note := "🌀 varying " + code(v.Name) + " gives " + short(v.Varied) + ", not " + short(v.Digest)
		if v.Known != nil {
			note = "⚠️ varying " + code(v.Name) + " gives " + short(v.Varied) + ", not " + short(v.Digest) + " " + knownNote(*v.Known)
		}
		notes = append(notes, note)
	}
	for _, v := range g.failedVariations() {
		notes = append(notes, "💥 variation "+code(v.Name)+" of "+code(cellLabel(v.Cell, results)))
	}
	if len(notes) == 0 {
		n := len(g.Variations)
		notes = append(notes, fmt.Sprintf("🌀 %d %s held", n, plural(n, "variation", "variations")))
	}
	return notes
}

// knownNote is "(known: reason link)" in Markdown.
func knownNote(k cell.KnownDivergence) string {
	var parts []string
	if r := oneLine(k.Reason); r != "" {
		parts = append(parts, text(r))
	}
	if k.Link != "" {
		parts = append(parts, link(k.Link))
	}
	if len(parts) == 0 {
		parts = append(parts, code(k.Cells))
	}
	return "(known: " + strings.Join(parts, " ") + ")"
}

// variationCounts are, per variation name, the groups where it ran and
// those where it held, changed the digest (known: every such change
// acknowledged by a known divergence) or did not build; names in the order
// they first appear (groups by key, cells by name, as built).
type variationCounts struct {
	groups                            int // groups with at least one variation
	names                             []string
	ran, held, changed, known, failed map[string]int
}

// countVariations counts the variations of the groups of v. A variation
// holds in a group when every rebuild of it there built its cell's digest.
func countVariations(v Verdicts) variationCounts {
	c := variationCounts{ran: map[string]int{}, held: map[string]int{}, changed: map[string]int{}, known: map[string]int{}, failed: map[string]int{}}
	for _, g := range v.Groups {
		if len(g.Variations) == 0 {
			continue
		}
		c.groups++
		state := map[string]string{} // name -> "held", "known", "changed" or "failed" in g
		for _, x := range g.Variations {
			if !slices.Contains(c.names, x.Name) {
				c.names = append(c.names, x.Name)
			}
			switch {
			case x.Error != "":
				state[x.Name] = "failed"
			case x.Differs() && x.Known == nil && state[x.Name] != "failed":
				state[x.Name] = "changed"
			case x.Differs() && (state[x.Name] == "" || state[x.Name] == "held"):
				state[x.Name] = "known"
			case state[x.Name] == "":
				state[x.Name] = "held"
			}
		}
		for name, s := range state {
			c.ran[name]++
			switch s {
			case "held":
				c.held[name]++
			case "changed":
				c.changed[name]++
			case "known":
				c.changed[name]++
				c.known[name]++
			case "failed":
				c.failed[name]++
			}
		}
	}
	return c
}

// writeVariationLine writes, under the counts of the summary, one line on
// the groups whose cell was rebuilt under variations: which variations
// held wherever they ran, and which changed a digest or did not build, in
// how many groups; nothing when no group was varied.
func writeVariationLine(b *md, v Verdicts) {
	c := countVariations(v)
	if c.groups == 0 {
		return
	}
	var held []string
	everywhere := true // every variation that held ran in every varied group
	for _, n := range c.names {
		if c.held[n] == c.ran[n] {
			held = append(held, n)
			everywhere = everywhere && c.ran[n] == c.groups
		}
	}
	var parts []string
	switch {
	case len(held) > 0 && everywhere:
		parts = append(parts, fmt.Sprintf("%d %s held in %d %s: %s", len(held), plural(len(held), "variation", "variations"),
			c.groups, plural(c.groups, "group", "groups"), strings.Join(held, ", ")))
	case len(held) > 0:
		var each []string
		for _, n := range held {
			each = append(each, fmt.Sprintf("%s (%d %s)", n, c.ran[n], plural(c.ran[n], "group", "groups")))
		}
		parts = append(parts, fmt.Sprintf("%d %s held wherever they ran: %s", len(held), plural(len(held), "variation", "variations"), strings.Join(each, ", ")))
	}
	for _, n := range c.names {
		if k := c.changed[n]; k > 0 {
			part := fmt.Sprintf("%s changed the digest in %d of %d %s", code(n), k, c.ran[n], plural(c.ran[n], "group", "groups"))
			switch {
			case c.known[n] == k:
				part += " (known)"
			case c.known[n] > 0:
				part += fmt.Sprintf(" (known in %d)", c.known[n])
			}
			parts = append(parts, part)
		}
	}
	for _, n := range c.names {
		if k := c.failed[n]; k > 0 {
			parts = append(parts, fmt.Sprintf("%s did not build in %d of %d %s", code(n), k, c.ran[n], plural(c.ran[n], "group", "groups")))
		}
	}
	b.l("**Variations (%d %s, a cell of each rebuilt with one aspect of its build environment changed):** %s  ",
		c.groups, plural(c.groups, "group", "groups"), strings.Join(parts, " · "))
}

// writeVariationFailures writes the errors of g's failed variations.
func writeVariationFailures(b *md, g GroupVerdict) {
	for _, v := range g.failedVariations() {
		b.l("<details><summary>💥 variation <code>%s</code> of <code>%s</code>: %s</summary>", html.EscapeString(v.Name),
			html.EscapeString(v.Cell), html.EscapeString(firstLine(v.Error)))
		b.l("")
		if v.Changed != "" {
			b.l("%s", text("It changed: "+v.Changed+"."))
			b.l("")
		}
		writeFence(b, "text", tail(v.Error))
		b.l("</details>")
		b.l("")
	}
}

package report

// Variations (issue 13, matrix.yaml's vary): the runner rebuilds the cell
// of a group that it self-checks once per variation, on the cell's builder,
// with one aspect of the build environment changed (the context's mtimes,
// umask, setgid bits, file order or path, the building process's TZ or
// locale), and records each rebuild in CellResult.Variations. A rebuild
// that gives another digest than the cell's proves that the image depends
// on that aspect of the environment: the group is GroupVaries and names
// the variation, as reprotest names the variation that broke a build, with
// the pair of the two images for the diff. A rebuild that failed fails the
// group, as a cell that did not build does.
//
// A known divergence with variations (cell.KnownDivergence.Variations)
// acknowledges a variation of the cells it matches: a rebuild under it that
// gives another digest is covered (VariationCheck.Known) and does not make
// the group varies; the group takes the verdict it would otherwise have,
// known when its cells otherwise agree, so that the report still says it,
// with the entry's reason and link, and the pair is still diffed.

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/repro-matrix/repro-matrix/internal/cell"
)

// VariationCheck is what the rebuild of a built cell with one aspect of its
// build environment changed gave: the cell's digest (Varied equal to
// Digest), another one (the image depends on that aspect), or an error.
type VariationCheck struct {
	Cell string `json:"cell"`
	// Name is the variation (matrix.Variation*: mtime, umask, ...);
	// Changed says what it changed.
	Name    string `json:"name"`
	Changed string `json:"changed,omitempty"`
	Digest  string `json:"digest"` // what the cell built
	// Varied is the rebuild's digest; "" when it failed.
	Varied string `json:"varied,omitempty"`
	// Error is why the rebuild failed; "" when it built.
	Error string `json:"error,omitempty"`
	// Known is the known divergence that acknowledges this variation of
	// the cell when the rebuild gave another digest (one with Variations
	// naming it, whose pattern matches the cell); nil: none does.
	Known *cell.KnownDivergence `json:"known,omitempty"`
}

// Held reports whether the rebuild built the cell's digest.
func (v VariationCheck) Held() bool { return v.Error == "" && v.Varied == v.Digest }

// Differs reports whether the rebuild built another digest than the cell.
func (v VariationCheck) Differs() bool { return v.Error == "" && v.Varied != v.Digest }

// VariedName is the Against name of a variation's pair (Pair.Variation):
// the cell's name, then " (varied: <variation>)".
func VariedName(cellName, variation string) string {
	return cellName + " (varied: " + variation + ")"
}

// variationChecks lists the variations of the built cells of a group
// (cells sorted by name, verdicts their cell verdicts), each cell's in the
// order built. A cell that did not build has nothing to vary: its own
// failure fails the group. A variation that recorded neither digest nor
// error did not build either.
func variationChecks(cells []CellResult, verdicts []CellVerdict) []VariationCheck {
	var out []VariationCheck
	for i, r := range cells {
		if !verdicts[i].State.Built() {
			continue
		}
		for _, v := range r.Variations {
			c := VariationCheck{Cell: r.Name, Name: v.Name, Changed: v.Changed, Digest: r.Digest, Varied: v.Digest, Error: v.Error}
			switch {
			case c.Error != "":
				c.Varied = ""
			case c.Varied == "":
				c.Error = "no digest recorded"
			}
			out = append(out, c)
		}
	}
	return out
}

// variedDigests are the variations of g whose rebuild built another digest.
func (g GroupVerdict) variedDigests() []VariationCheck {
	var out []VariationCheck
	for _, v := range g.Variations {
		if v.Differs() {
			out = append(out, v)
		}
	}
	return out
}

// uncoveredVariations are the variations of g whose rebuild built another
// digest that no known divergence acknowledges: they make g varies.
func (g GroupVerdict) uncoveredVariations() []VariationCheck {
	var out []VariationCheck
	for _, v := range g.variedDigests() {
		if v.Known == nil {
			out = append(out, v)
		}
	}
	return out
}

// coveredVariations are the variations of g whose rebuild built another
// digest, acknowledged by a known divergence.
func (g GroupVerdict) coveredVariations() []VariationCheck {
	var out []VariationCheck
	for _, v := range g.variedDigests() {
		if v.Known != nil {
			out = append(out, v)
		}
	}
	return out
}

// coverVariations judges the known divergences with variations on g's
// variations (cells sorted by name): a rebuild that built another digest
// is covered by the first such divergence that names its variation,
// matches its cell and has not expired. Nothing is covered in a group
// whose fixture a self-check found not deterministic, where a variation
// proves nothing.
func (g *GroupVerdict) coverVariations(cells []CellResult, known []*knownEntry) {
	judged := g.unreproduced() == nil
	for i := range g.Variations {
		v := &g.Variations[i]
		r, ok := cellByName(cells, v.Cell)
		if !ok {
			continue
		}
		if e := coverVariation(known, r, *v, judged); e != nil && v.Differs() {
			v.Known = &e.k
			g.listKnown(e.k)
		}
	}
}

// cellByName is the result of the cell named name among cells.
func cellByName(cells []CellResult, name string) (CellResult, bool) {
	for _, r := range cells {
		if r.Name == name {
			return r, true
		}
	}
	return CellResult{}, false
}

// variationKnown reports whether the variation name of cell, which built
// varied, is acknowledged by a known divergence.
func (g GroupVerdict) variationKnown(cellName, name, varied string) bool {
	for _, v := range g.Variations {
		if v.Cell == cellName && v.Name == name && v.Varied == varied {
			return v.Known != nil
		}
	}
	return false
}

// failedVariations are the variations of g whose rebuild failed.
func (g GroupVerdict) failedVariations() []VariationCheck {
	var out []VariationCheck
	for _, v := range g.Variations {
		if v.Error != "" {
			out = append(out, v)
		}
	}
	return out
}

// addVariationPairs pairs every built cell with each of its variations
// that built another digest, for the image diff of the two builds.
func (g *GroupVerdict) addVariationPairs(cells []CellResult) {
	for i, r := range cells {
		if !g.Cells[i].State.Built() {
			continue
		}
		for _, v := range r.Variations {
			if v.Error == "" && v.Digest != "" && v.Digest != r.Digest {
				g.Pairs = append(g.Pairs, Pair{Cell: r.Name, Digest: r.Digest, Tarball: r.Tarball,
					Against: VariedName(r.Name, v.Name), AgainstDigest: v.Digest, AgainstTarball: v.Tarball, Variation: v.Name,
					Known: g.variationKnown(r.Name, v.Name, v.Digest)})
			}
		}
	}
}

// dependsText is the sentence on a variation that built another digest.
func dependsText(v VariationCheck) string {
	return fmt.Sprintf("the image depends on the build environment: varying %s%s gives %s instead of %s",
		v.Name, changedText(v), shortPlain(v.Varied), shortPlain(v.Digest))
}

// knownVariedText is the sentence on a variation that built another digest
// as a known divergence acknowledges: "varying umask (...) gives X instead
// of Y (known: reason link)".
func knownVariedText(v VariationCheck) string {
	return fmt.Sprintf("varying %s%s gives %s instead of %s%s", v.Name, changedText(v), shortPlain(v.Varied), shortPlain(v.Digest), knownText(v.Known))
}

// knownText is " (known: reason link)" for k; "" for nil.
func knownText(k *cell.KnownDivergence) string {
	if k == nil {
		return ""
	}
	parts := []string{}
	if r := oneLine(k.Reason); r != "" {
		parts = append(parts, r)
	}
	if k.Link != "" {
		parts = append(parts, k.Link)
	}
	if len(parts) == 0 {
		parts = append(parts, k.Cells)
	}
	return " (known: " + strings.Join(parts, " ") + ")"
}

// changedText is " (what v changed)", or "" when it does not say.
func changedText(v VariationCheck) string {
	if v.Changed == "" {
		return ""
	}
	return " (" + v.Changed + ")"
}

// variesHeadline is the headline of a group that varies: one line per
// variation that built another digest and that no known divergence
// acknowledges.
func variesHeadline(g GroupVerdict) string {
	var lines []string
	for _, v := range g.uncoveredVariations() {
		lines = append(lines, dependsText(v))
	}
	return strings.Join(lines, "\n")
}

// variationFailedHeadline is the headline of a group that failed only
// because the rebuild of a variation failed.
func variationFailedHeadline(v VariationCheck) string {
	return fmt.Sprintf("the variation %s of %s failed: rebuilt with %s, it did not build, so nothing shows that the image does not depend on it",
		v.Name, v.Cell, cmp.Or(v.Changed, "its build environment changed"))
}

// variationLines are the message lines of g's variations, but those its
// headline states: each that failed, each that built another digest (in a
// group whose headline says something else; with the known divergence that
// acknowledges it), and, per cell, those that held.
func variationLines(g GroupVerdict) []string {
	var out []string
	held := map[string][]string{}
	var order []string
	for _, v := range g.Variations {
		switch {
		case v.Error != "":
			out = append(out, fmt.Sprintf("failed:    variation %s of %s%s: %s", v.Name, v.Cell, changedText(v), firstLine(v.Error)))
		case v.Differs() && v.Known != nil && !knownHeadlineStates(g):
			out = append(out, "varied:    "+v.Cell+": "+knownVariedText(v))
		case v.Differs() && v.Known != nil:
			// the headline says it
		case v.Differs() && g.State != GroupVaries:
			out = append(out, "varied:    "+v.Cell+": "+dependsText(v))
		case v.Held():
			if held[v.Cell] == nil {
				order = append(order, v.Cell)
			}
			held[v.Cell] = append(held[v.Cell], v.Name)
		}
	}
	for _, c := range order {
		out = append(out, fmt.Sprintf("varied:    %s held under %s (rebuilt with each, the same digest)", c, strings.Join(held[c], ", ")))
	}
	return out
}

// knownHeadlineStates reports whether the headline of g states its
// acknowledged variations: g is known only because of them (its cells
// agree otherwise).
func knownHeadlineStates(g GroupVerdict) bool {
	return g.State == GroupKnown && len(coveredCells(g)) == 0
}

// knownVariesHeadline is the headline of a group that is known only
// because known divergences acknowledge variations that changed its
// digest: what its cells agree on, then each such variation with the
// known divergence's reason and link.
func knownVariesHeadline(g GroupVerdict, n int) string {
	var each []string
	for _, v := range g.coveredVariations() {
		each = append(each, knownVariedText(v))
	}
	head := fmt.Sprintf("%d cells agree on %s%s", n, g.ReferenceDigest, agreeTail(GroupVerdict{Golden: g.Golden, NoReference: g.NoReference, State: GroupAgree}))
	if n == 1 {
		head = fmt.Sprintf("only one cell: nothing to compare; its digest is %s%s", g.ReferenceDigest, agreeTail(GroupVerdict{Golden: g.Golden, NoReference: g.NoReference, State: GroupAgree}))
	}
	return head + "; the image depends on the build environment as known: " + strings.Join(each, "; ")
}

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

import (
	"cmp"
	"fmt"
	"strings"
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
					Against: VariedName(r.Name, v.Name), AgainstDigest: v.Digest, AgainstTarball: v.Tarball, Variation: v.Name})
			}
		}
	}
}

// dependsText is the sentence on a variation that built another digest.
func dependsText(v VariationCheck) string {
	return fmt.Sprintf("the image depends on the build environment: varying %s%s gives %s instead of %s",
		v.Name, changedText(v), shortPlain(v.Varied), shortPlain(v.Digest))
}

// changedText is " (what v changed)", or "" when it does not say.
func changedText(v VariationCheck) string {
	if v.Changed == "" {
		return ""
	}
	return " (" + v.Changed + ")"
}

// variesHeadline is the headline of a group that varies: one line per
// variation that built another digest.
func variesHeadline(g GroupVerdict) string {
	var lines []string
	for _, v := range g.variedDigests() {
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
// group whose headline says something else), and, per cell, those that held.
func variationLines(g GroupVerdict) []string {
	var out []string
	held := map[string][]string{}
	var order []string
	for _, v := range g.Variations {
		switch {
		case v.Error != "":
			out = append(out, fmt.Sprintf("failed:    variation %s of %s%s: %s", v.Name, v.Cell, changedText(v), firstLine(v.Error)))
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

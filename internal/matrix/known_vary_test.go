package matrix

import (
	"slices"
	"strings"
	"testing"
)

// knownVaryMatrix is varyMatrix with a known divergence that acknowledges
// variations of fixture f, and one that does not.
const knownVaryMatrix = varyMatrix + `knownDivergences:
  - cells: fixture=f
    variations: [umask, setgid]
    reason: the context's modes reach the image
    link: https://github.com/freedomofpress/repro-build
    expires: "2027-05-31"
  - cells: fixture=g/engine=podman-4.3.1
    reason: podman writes another annotation
    link: https://github.com/containers/podman/issues/1
    expires: "2027-05-31"
`

// The line of the first known divergence's variations in knownVaryMatrix.
const knownVaryLine = 22

func TestKnownVariationsParse(t *testing.T) {
	m, err := loadVary(t, knownVaryMatrix)
	if err != nil {
		t.Fatal(err)
	}
	known := m.Known()
	if len(known) != 2 {
		t.Fatalf("Known() = %d entries", len(known))
	}
	if !slices.Equal(known[0].Variations, []string{VariationUmask, VariationSetgid}) || !known[0].ForVariations() {
		t.Errorf("Known()[0].Variations = %q, want the file's", known[0].Variations)
	}
	if known[1].Variations != nil || known[1].ForVariations() {
		t.Errorf("Known()[1].Variations = %q, want none", known[1].Variations)
	}
	// Known hands out a copy.
	known[0].Variations[0] = "changed"
	if m.KnownDivergences[0].Variations[0] != VariationUmask {
		t.Error("Known() shares its variations with the matrix")
	}
	// The divergence that covers a cell's digest is never a variations-entry.
	cells, err := m.Expand("all")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cells {
		got := m.KnownDivergence(c)
		switch {
		case c.Fixture.Name == "f" && got != nil:
			t.Errorf("KnownDivergence(%s) = %q, want none: a variations-entry covers no digest", c.Name(), got.Cells)
		case c.Fixture.Name == "g" && c.Engine.Name == "podman-4.3.1" && (got == nil || got.Cells != "fixture=g/engine=podman-4.3.1"):
			t.Errorf("KnownDivergence(%s) = %v", c.Name(), got)
		}
	}
}

// An unknown, repeated or empty list of variations is refused at its field
// and line (validate exits 2 on it as on any ValidationErrors); a pattern
// that matches nothing is refused as any known divergence's is; reason,
// link and expires stay required.
func TestKnownVariationsRefused(t *testing.T) {
	for _, tc := range []struct {
		name, old, new string
		field          string
		line           int
		msg            string
	}{
		{"unknown", "variations: [umask, setgid]", "variations: [umask, setgit]", "knownDivergences[0].variations[1]", knownVaryLine,
			`unknown variation "setgit" (known: mtime, umask, setgid, order, path, tz, locale, time)`},
		{"on its own line", "variations: [umask, setgid]", "variations:\n      - wallclock", "knownDivergences[0].variations[0]", knownVaryLine + 1,
			`unknown variation "wallclock"`},
		{"twice", "variations: [umask, setgid]", "variations: [umask, umask]", "knownDivergences[0].variations[1]", knownVaryLine, "duplicate variation umask"},
		{"empty", "variations: [umask, setgid]", "variations: []", "knownDivergences[0].variations", knownVaryLine, "empty: name the variations"},
		{"not a list", "variations: [umask, setgid]", "variations: umask", "knownDivergences[0].variations", knownVaryLine, "want a list, got"},
		{"a pattern matching nothing", "cells: fixture=f\n", "cells: fixture=h\n", "knownDivergences[0].cells", knownVaryLine - 1,
			"fixture=h matches no fixture (known: f, g)"},
		{"reason still required", "    reason: the context's modes reach the image\n", "", "knownDivergences[0].reason", knownVaryLine - 1, "required"},
		{"link still required", "    link: https://github.com/freedomofpress/repro-build\n", "", "knownDivergences[0].link", knownVaryLine - 1, "required"},
		{"expires still required", "    expires: \"2027-05-31\"\n  - cells: fixture=g", "  - cells: fixture=g", "knownDivergences[0].expires", knownVaryLine - 1, "required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(knownVaryMatrix, tc.old) {
				t.Fatalf("matrix lacks %q", tc.old)
			}
			_, err := loadVary(t, strings.Replace(knownVaryMatrix, tc.old, tc.new, 1))
			onlyProblem(t, err, tc.field, tc.line, tc.msg)
		})
	}
}

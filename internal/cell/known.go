package cell

import (
	"slices"
	"time"
)

// KnownDivergence is a difference the matrix tolerates for a while
// (matrix.yaml's knownDivergences): a cell its pattern matches may differ
// from its group's reference and from the golden digest without failing
// the run, until the divergence expires. The reports show it with its
// reason and link.
//
// An entry with Variations acknowledges variations instead (matrix.yaml's
// vary; the names of matrix.Variations): the rebuild of a cell its pattern
// matches under one of those variations may give another digest than the
// cell without making the group "varies". It covers nothing else: not the
// cell's own digest, nor any difference between engines or BuildKits. An
// entry without Variations never covers a variation. The reports judge a
// variations-entry on the rebuilds it names: active when one of them gave
// another digest, no longer happening when they were rebuilt and all held,
// not exercised when none ran.
type KnownDivergence struct {
	// Cells is the Pattern of the cells concerned, as matrix.yaml writes it.
	Cells string `json:"cells"`
	// Variations are the variations it acknowledges; empty: it covers the
	// cells' digests, and no variation.
	Variations []string `json:"variations,omitempty"`
	Reason     string   `json:"reason"`
	Link       string   `json:"link"`
	// Expires is the last instant the divergence covers anything (the end
	// of matrix.yaml's expiry day, UTC); zero: it never expires.
	Expires time.Time `json:"expires,omitzero"`
}

// Pattern parses k's cells pattern (see ParsePattern).
func (k KnownDivergence) Pattern() (Pattern, error) { return ParsePattern(k.Cells) }

// Matches reports whether c is one of k's cells, expired or not. A pattern
// that does not parse matches nothing. For an entry with Variations, it
// says only whose rebuilds k may cover (see CoversVariation).
func (k KnownDivergence) Matches(c Coords) bool {
	p, err := k.Pattern()
	return err == nil && p.Matches(c)
}

// ForVariations reports whether k acknowledges variations (Variations is
// not empty) rather than the digests of its cells.
func (k KnownDivergence) ForVariations() bool { return len(k.Variations) > 0 }

// CoversVariation reports whether k acknowledges the variation named
// variation of the cell c, expired or not: k names it in Variations and
// its pattern matches c. An entry without Variations covers none.
func (k KnownDivergence) CoversVariation(c Coords, variation string) bool {
	return slices.Contains(k.Variations, variation) && k.Matches(c)
}

// Expired reports whether k no longer covers anything at now.
func (k KnownDivergence) Expired(now time.Time) bool {
	return !k.Expires.IsZero() && now.After(k.Expires)
}

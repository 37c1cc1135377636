package cell

import "time"

// KnownDivergence is a difference the matrix tolerates for a while
// (matrix.yaml's knownDivergences): a cell its pattern matches may differ
// from its group's reference and from the golden digest without failing
// the run, until the divergence expires. The reports show it with its
// reason and link.
type KnownDivergence struct {
	// Cells is the Pattern of the cells concerned, as matrix.yaml writes it.
	Cells  string `json:"cells"`
	Reason string `json:"reason"`
	Link   string `json:"link"`
	// Expires is the last instant the divergence covers anything (the end
	// of matrix.yaml's expiry day, UTC); zero: it never expires.
	Expires time.Time `json:"expires,omitzero"`
}

// Pattern parses k's cells pattern (see ParsePattern).
func (k KnownDivergence) Pattern() (Pattern, error) { return ParsePattern(k.Cells) }

// Matches reports whether c is one of k's cells, expired or not. A pattern
// that does not parse matches nothing.
func (k KnownDivergence) Matches(c Coords) bool {
	p, err := k.Pattern()
	return err == nil && p.Matches(c)
}

// Expired reports whether k no longer covers anything at now.
func (k KnownDivergence) Expired(now time.Time) bool {
	return !k.Expires.IsZero() && now.After(k.Expires)
}

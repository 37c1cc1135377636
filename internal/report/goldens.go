package report

import (
	"time"

	"github.com/repro-matrix/repro-matrix/internal/cell"
)

// Proposal is the golden digest that the cells of one group built by one
// BuildKit propose (see ProposeGoldens).
type Proposal struct {
	Group string // the group key
	// Coords hold the group's fixture, platform and exporter (those of its
	// first cell by name).
	Coords cell.Coords
	// Digest is the digest every cell of the group built; "" when Refused.
	Digest string
	// Refused says why the group proposes none: "cell NAME did not build"
	// (the first by name that failed or was interrupted), or "cells
	// disagree".
	Refused string
}

// ProposeGoldens returns, group by group (sorted by key), the golden digest
// that the results of buildkit (a BuildKit's name, the pinned one for `make
// goldens`) propose: each group of those cells is judged as Evaluate judges
// a group without golden digest or known divergence, and proposes its
// digest when it agrees (one cell or more). Results of other BuildKits are
// left out; nil when none is of buildkit.
func ProposeGoldens(results []CellResult, buildkit string) []Proposal {
	var own []CellResult
	for _, r := range results {
		if r.Axes.BuildKit == buildkit {
			r.Golden = ""
			own = append(own, r)
		}
	}
	if len(own) == 0 {
		return nil
	}
	// No known divergence: the time of judgement does not matter.
	v := Evaluate(own, nil, WithNow(time.Unix(0, 0)))
	out := make([]Proposal, 0, len(v.Groups))
	for _, g := range v.Groups {
		p := Proposal{Group: g.Key, Coords: cell.Coords{Fixture: g.Fixture, Platform: g.Platform, Exporter: g.Exporter}}
		switch g.State {
		case GroupAgree, GroupAgreeSingle:
			p.Digest = g.ReferenceDigest
		case GroupFailed, GroupInterrupted:
			p.Refused = "cell " + firstUnbuilt(g) + " did not build"
		default:
			p.Refused = "cells disagree"
		}
		out = append(out, p)
	}
	return out
}

// firstUnbuilt is the name of the first cell of g that failed or was
// interrupted.
func firstUnbuilt(g GroupVerdict) string {
	for _, c := range g.Cells {
		if !c.State.Built() {
			return c.Name
		}
	}
	return ""
}

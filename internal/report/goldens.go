package report

import (
	"fmt"

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
	// (the first by name that failed or was interrupted), "the self-check
	// of cell NAME did not build", "the variation V of cell NAME did not
	// build", "not reproducible: ..." (a self-check rebuilt another
	// digest), "the image depends on the build environment: varying V ..."
	// (a variation rebuilt another digest), "cells disagree", or "the run
	// that made these results pinned X, not Y: ...".
	Refused string
}

// ProposeGoldens returns, group by group (sorted by key), the golden digest
// that the cells of the pinned BuildKit buildkit (matrix.yaml's pinned
// BuildKit, as `make goldens` passes it) propose: the digest they all built,
// one cell or more, the reference Evaluate holds the group to without a
// golden digest (cases README, "verdicts/: the reference of a group is the
// pin, never a vote"). Cells of other BuildKits never vote. A group refuses
// when one of its pinned cells did not build, when a self-check of one
// rebuilt another digest (GroupNotReproducible: a fixture that is not
// deterministic has no digest to record) or did not build, when a
// variation of one rebuilt another digest (GroupVaries: the digest depends
// on the machine that built it) or did not build, when they
// disagree, or when the results say another BuildKit was pinned in the run
// that made them (CellResult.Pinned; results that do not say are taken by
// name). Cells of the rootless variant (CellResult.Rootless) run another
// image and never vote. nil when no result is of buildkit.
//
// Of known, only the divergences with variations count: a variation they
// acknowledge does not refuse the group (its digest is what the unvaried
// build gives). The others are left out, since no known divergence
// excuses the pin's cells.
func ProposeGoldens(results []CellResult, buildkit string, known ...cell.KnownDivergence) []Proposal {
	var own []CellResult
	for _, r := range results {
		if r.Axes.BuildKit == buildkit && !r.Rootless {
			r.Golden, r.Pinned = "", new(true)
			own = append(own, r)
		}
	}
	if len(own) == 0 {
		return nil
	}
	otherPin := pinnedElsewhere(results, buildkit)
	// Only the divergences that acknowledge variations, judged now (an
	// expired one acknowledges nothing).
	var varied []cell.KnownDivergence
	for _, k := range known {
		if k.ForVariations() {
			varied = append(varied, k)
		}
	}
	v := Evaluate(own, varied)
	out := make([]Proposal, 0, len(v.Groups))
	for _, g := range v.Groups {
		p := Proposal{Group: g.Key, Coords: cell.Coords{Fixture: g.Fixture, Platform: g.Platform, Exporter: g.Exporter}}
		switch {
		case otherPin[g.Key] != "":
			p.Refused = fmt.Sprintf("the run that made these results pinned %s, not %s: record with the matrix file it used", otherPin[g.Key], buildkit)
		case g.State == GroupAgree || g.State == GroupAgreeSingle:
			p.Digest = g.ReferenceDigest
		case g.State == GroupKnown && len(coveredCells(g)) == 0:
			// only acknowledged variations
			p.Digest = g.ReferenceDigest
		case g.State == GroupNotReproducible:
			p.Refused = "not reproducible: the fixture is not deterministic: " + rebuiltText(*g.unreproduced())
		case g.State == GroupVaries:
			p.Refused = dependsText(g.uncoveredVariations()[0]) + " (cell " + g.uncoveredVariations()[0].Cell + ")"
		case (g.State == GroupFailed || g.State == GroupInterrupted) && firstUnbuilt(g) != "":
			p.Refused = "cell " + firstUnbuilt(g) + " did not build"
		case g.State == GroupFailed && len(g.failedSelfChecks()) > 0:
			p.Refused = "the self-check of cell " + g.failedSelfChecks()[0].Cell + " did not build"
		case g.State == GroupFailed:
			v := g.failedVariations()[0]
			p.Refused = "the variation " + v.Name + " of cell " + v.Cell + " did not build"
		default:
			p.Refused = "cells disagree"
		}
		out = append(out, p)
	}
	return out
}

// pinnedElsewhere maps the key of each group whose results say that their
// run pinned another BuildKit than buildkit to that BuildKit's name
// ("another BuildKit" when only buildkit's cells say they were not pinned).
func pinnedElsewhere(results []CellResult, buildkit string) map[string]string {
	out := map[string]string{}
	for _, r := range results {
		if r.Axes.BuildKit != buildkit && r.pin() == pinYes {
			out[r.groupKey()] = r.Axes.BuildKit
		}
	}
	for _, r := range results {
		if r.Axes.BuildKit == buildkit && r.pin() == pinNo && !r.Rootless && out[r.groupKey()] == "" {
			out[r.groupKey()] = "another BuildKit"
		}
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

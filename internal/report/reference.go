package report

// The reference of a group is the pin, never a vote (cases README,
// "verdicts/: the reference of a group is the pin, never a vote"): a vote
// once crowned BuildKit latest's OCI media types (moby/buildkit#6824) over
// the pinned v0.19.0's on a 2-2 tie, and called the known divergence that
// covers latest "no longer happens".

import "fmt"

// pinSummary is what the cells of the pinned BuildKit built in one group.
type pinSummary struct {
	buildkit string  // its name; "" when no cell of the group is known to be pinned
	digests  counter // the digests its built cells built
	// unknown: no cell is known to be pinned and some results do not say
	// (recorded before CellResult.Pinned existed).
	unknown bool
}

func summarizePin(cells []CellResult, verdicts []CellVerdict) pinSummary {
	var p pinSummary
	for i, r := range cells {
		switch r.pin() {
		case pinYes:
			if p.buildkit == "" {
				p.buildkit = r.Axes.BuildKit
			}
			if verdicts[i].State.Built() {
				p.digests.add(r.Digest)
			}
		case pinUnknown:
			p.unknown = true
		}
	}
	p.unknown = p.unknown && p.buildkit == ""
	return p
}

// chooseReference sets the group's reference digest: the golden digest when
// one is recorded; else the digest that the pinned BuildKit's built cells
// agree on (what `make goldens` records); else none, and NoReference says
// why: no cell of the pinned BuildKit, its cells disagree or none built, or
// the results do not say which BuildKit is pinned (then the group is held
// to the golden digest only). Without a reference, cells that all built
// one digest still show it (they agree with each other); no digest is ever
// chosen by how many cells built it. all counts the built cells' digests.
func (g *GroupVerdict) chooseReference(all *counter, pin pinSummary) {
	g.PinnedBuildKit = pin.buildkit
	if len(pin.digests.order) == 1 {
		g.PinnedDigest = pin.digests.order[0]
	}
	switch {
	case g.Golden != "":
		g.ReferenceDigest = g.Golden
	case g.PinnedDigest != "":
		g.ReferenceDigest = g.PinnedDigest
	default:
		g.NoReference = noReference(pin)
		if len(all.order) == 1 {
			g.ReferenceDigest = all.order[0]
		}
	}
}

// noReference says why a group without golden digest has no reference.
func noReference(pin pinSummary) string {
	switch {
	case len(pin.digests.order) > 1:
		return fmt.Sprintf("no golden digest, and the cells of the pinned BuildKit %s disagree among themselves: no reference digest", pin.buildkit)
	case pin.buildkit != "":
		return fmt.Sprintf("no golden digest, and no cell of the pinned BuildKit %s built: no reference digest", pin.buildkit)
	case pin.unknown:
		return "no golden digest, and these results do not say which cells are of the pinned BuildKit " +
			"(recorded before the \"pinned\" field): nothing to hold the group to"
	}
	return "no golden digest and no cell of the pinned BuildKit: nothing to hold the group to"
}

// referenceCell sets the reference cell, the first built cell whose digest
// is the reference digest (a pinned one first), and returns the index of
// the cell that the others are diffed against: that one, else the first
// built pinned cell, else the first built cell; -1 when none built.
func (g *GroupVerdict) referenceCell(cells []CellResult) int {
	best, rank := -1, 0
	for i, r := range cells {
		if !g.Cells[i].State.Built() {
			continue
		}
		k := 1
		if r.pin() == pinYes {
			k++
		}
		if g.ReferenceDigest != "" && r.Digest == g.ReferenceDigest {
			k += 2
		}
		if k > rank {
			best, rank = i, k
		}
	}
	if best >= 0 && cells[best].Digest == g.ReferenceDigest {
		g.Reference = cells[best].Name
	}
	return best
}

// deviations are what the built cells of a group did against its
// reference digest.
type deviations struct {
	agree   int     // cells whose digest is the reference digest
	covered int     // other cells whose difference a known divergence covers
	pinOff  int     // pinned cells off the golden digest: nothing excuses them
	off     counter // digests of the other cells off the reference, uncovered
	// pinSplit: the pinned BuildKit's built cells built different digests.
	pinSplit bool
}

// compare holds every built cell to the reference digest. A cell that
// misses it is covered by a known divergence unless it is of the pinned
// BuildKit (cases README: a known divergence never excuses the pin); in a
// group without reference, or whose fixture a self-check proved not
// deterministic (held), nothing is covered and no divergence judged.
// Every cell whose digest differs from cells[ref] is paired with it for the
// image diff, after the cells whose rebuild differs with their rebuild.
func (g *GroupVerdict) compare(cells []CellResult, ref int, pin pinSummary, known []*knownEntry) deviations {
	dev := deviations{pinSplit: len(pin.digests.order) > 1}
	held := g.held()
	for i, r := range cells {
		cv := &g.Cells[i]
		if !cv.State.Built() {
			continue
		}
		witness(known, r, held)
		cv.Agrees = g.ReferenceDigest != "" && r.Digest == g.ReferenceDigest
		if cv.Agrees {
			dev.agree++
			continue
		}
		g.Differing = append(g.Differing, r.Name)
		switch {
		case !held:
			dev.off.add(r.Digest)
		case r.pin() == pinYes:
			dev.pinOff++
			refuse(known, r)
		default:
			if e := cover(known, r); e != nil {
				g.addKnown(cv, e.k)
				dev.covered++
			} else {
				dev.off.add(r.Digest)
			}
		}
	}
	g.addPairs(cells, ref)
	return dev
}

// addPairs pairs every built cell whose self-check differs with its
// rebuild, every built cell with each of its variations that built another
// digest, the cell cells[ref] with the golden digest when it misses it,
// and every built cell whose digest differs from cells[ref]'s with it.
func (g *GroupVerdict) addPairs(cells []CellResult, ref int) {
	g.addRebuildPairs(cells)
	g.addVariationPairs(cells)
	if ref < 0 {
		return
	}
	c := cells[ref]
	if g.Golden != "" && c.Digest != g.Golden {
		g.Pairs = append(g.Pairs, pair(c, CellResult{Name: AgainstGolden, Digest: g.Golden}, g.Cells[ref].Known != nil))
	}
	for i, r := range cells {
		if g.Cells[i].State.Built() && r.Digest != c.Digest {
			g.Pairs = append(g.Pairs, pair(r, c, g.Cells[i].Known != nil))
		}
	}
}

// goldenMismatch tells whether a group with a golden digest misses it as
// a whole: its pinned cells agree on another digest, which every other
// uncovered cell off the golden digest built too (a bump of the pin or a
// new base changes the golden digest); or, with no pinned cell off it, no
// cell built the golden digest and the uncovered ones agree on one other.
func goldenMismatch(g GroupVerdict, dev deviations) bool {
	switch {
	case g.Golden == "":
		return false
	case dev.pinOff > 0:
		return len(dev.off.order) == 0 || len(dev.off.order) == 1 && dev.off.order[0] == g.PinnedDigest
	}
	return dev.agree == 0 && len(dev.off.order) == 1
}

// pinChanged tells whether the pinned BuildKit's cells of g agree on a
// digest other than the golden one: pinning it changes the golden digest.
// Never when a self-check proved the fixture not deterministic: the pin's
// digest is then no digest to record.
func (g GroupVerdict) pinChanged() bool {
	return g.Golden != "" && g.PinnedDigest != "" && g.PinnedDigest != g.Golden && g.unreproduced() == nil
}

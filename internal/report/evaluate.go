package report

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/cell"
)

// Option configures Evaluate.
type Option func(*evalConfig)

type evalConfig struct {
	now    time.Time
	groups []string
}

// WithNow sets the time at which expiry of known divergences is judged
// (default: now).
func WithNow(t time.Time) Option { return func(c *evalConfig) { c.now = t } }

// WithGroups declares groups expected by the matrix: one that has no
// result is reported as GroupEmpty instead of missing silently.
func WithGroups(keys ...string) Option {
	return func(c *evalConfig) { c.groups = append(c.groups, keys...) }
}

// CheckCell is the verdict on one cell alone, against its golden digest
// (r.Golden), as the suite's spec of the cell asks it: interrupted, failed
// (an error, or no digest), no golden digest, match or mismatch. A
// mismatch that one of known covers (the first whose cells match r.Axes and
// that has not expired at r.Started, now when zero) carries it in Known,
// unless the cell is of the pinned BuildKit (r.Pinned): a known divergence
// never excuses the pin from its golden digest (cases README, "verdicts/:
// the reference of a group is the pin, never a vote"); its message then
// names the divergences that matched. Results that do not say whether they
// are pinned (r.Pinned nil) are covered as any other cell.
func CheckCell(r CellResult, known ...cell.KnownDivergence) CellVerdict {
	v := checkCell(r, r.Golden)
	if v.State != CellMismatch {
		return v
	}
	now := r.Started
	if now.IsZero() {
		now = time.Now()
	}
	entries := newKnownEntries(known, now)
	if r.pin() == pinYes {
		refuse(entries, r)
		if ks := refusedBy(entries, r.Name); len(ks) > 0 {
			v.Message += "; " + refusedText(ks)
		}
		return v
	}
	if e := cover(entries, r); e != nil {
		v.Known = &e.k
	}
	return v
}

func checkCell(r CellResult, golden string) CellVerdict {
	v := CellVerdict{Name: r.Name, Digest: r.Digest, Golden: golden}
	switch {
	case r.Interrupted:
		v.State = CellInterrupted
		v.Message = "interrupted before it finished"
	case r.Error != "":
		v.State = CellFailed
		v.Message = "failed: " + firstLine(r.Error)
	case r.Digest == "":
		v.State = CellFailed
		v.Message = "failed: no digest recorded"
	case golden == "":
		v.State = CellNoGolden
		v.Message = "digest " + r.Digest + "; no golden digest recorded"
	case r.Digest == golden:
		v.State = CellMatch
		v.Message = "digest " + r.Digest + " equals the golden digest"
	default:
		v.State = CellMismatch
		v.Message = "digest " + r.Digest + " differs from the golden digest " + golden
	}
	return v
}

// Evaluate computes cell and group verdicts. results need not be sorted;
// known is used in its order (the first match covers a cell). Each group
// (GroupVerdict, sorted by key) is held to its reference digest: its golden
// digest, else the digest its pinned BuildKit's cells agree on
// (CellResult.Pinned), never the most common digest (cases README,
// "verdicts/: the reference of a group is the pin, never a vote"; the vote
// once crowned moby/buildkit#6824's OCI media types over the pin's). A
// group with neither says so in NoReference and Message, and its cells are
// only compared with each other. Known divergences cover cells that miss
// the reference, never a pinned cell; results that do not say which cells
// are pinned are held to the golden digest only, and the message says so
// where it matters. A failed or interrupted cell never agrees. A built
// cell whose self-check (CellResult.SelfCheck, its rebuild on a fresh
// builder) gave another digest makes its group GroupNotReproducible, with
// the pair of the two builds first in Pairs and no known divergence judged
// in it; a self-check whose rebuild failed (SelfCheckError) makes it
// GroupFailed. A built cell's variation (CellResult.Variations, its rebuild
// with one aspect of its build environment changed) that gave another
// digest makes its group GroupVaries, naming the variation, with the pair
// of the two builds after the self-check's, unless a known divergence with
// variations acknowledges it (then the group is known where it would
// agree); one whose rebuild failed makes it GroupFailed (see groupState
// for the order of the states).
func Evaluate(results []CellResult, known []cell.KnownDivergence, opts ...Option) Verdicts {
	cfg := evalConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.now.IsZero() {
		cfg.now = time.Now()
	}
	entries := newKnownEntries(known, cfg.now)
	byGroup := groupResults(results, cfg.groups)
	var v Verdicts
	for _, k := range slices.Sorted(maps.Keys(byGroup)) {
		v.Groups = append(v.Groups, evaluateGroup(k, byGroup[k], entries))
	}
	if len(v.Groups) == 0 {
		v.Groups = []GroupVerdict{{
			State: GroupEmpty, Outcome: OutcomeFail, Cells: []CellVerdict{},
			Message: "no cells ran: nothing was compared",
		}}
	}
	for _, e := range entries {
		v.Known = append(v.Known, knownStatus(e, cfg.now))
	}
	v.Counts = count(v)
	return v
}

// groupResults sorts results by name into their groups; every declared
// group is present, with no results if none came.
func groupResults(results []CellResult, declared []string) map[string][]CellResult {
	sorted := slices.Clone(results)
	sortResults(sorted)
	byGroup := map[string][]CellResult{}
	for _, r := range sorted {
		byGroup[r.groupKey()] = append(byGroup[r.groupKey()], r)
	}
	for _, g := range declared {
		if _, ok := byGroup[g]; !ok {
			byGroup[g] = nil
		}
	}
	return byGroup
}

// evaluateGroup decides the verdict on the cells of one group (sorted by
// name), known divergences applied. The cells are held to the group's
// reference digest (chooseReference: the golden digest, else the pinned
// BuildKit's, never a vote).
func evaluateGroup(key string, cells []CellResult, known []*knownEntry) GroupVerdict {
	g := GroupVerdict{Key: key, Cells: []CellVerdict{}}
	if len(cells) == 0 {
		if c, err := cell.ParseKey(key); err == nil {
			g.Fixture, g.Platform, g.Exporter = c.Fixture, c.Platform, c.Exporter
		}
		g.State, g.Outcome = GroupEmpty, OutcomeFail
		g.Message = "no cells in this group: nothing was compared"
		return g
	}
	a := cells[0].Axes
	g.Fixture, g.Platform, g.Exporter = a.Fixture, a.Platform, a.Exporter
	golden, notes := groupGolden(cells)
	g.Golden = golden
	all := g.judgeCells(cells)
	g.SelfChecks = selfChecks(cells, g.Cells)
	g.Variations = variationChecks(cells, g.Cells)
	g.coverVariations(cells, known)
	pin := summarizePin(cells, g.Cells)
	g.chooseReference(all, pin)
	dev := g.compare(cells, g.referenceCell(cells), pin, known)
	g.State = groupState(g, dev, len(cells))
	g.Outcome = groupOutcome(g)
	g.Message = groupMessage(g, cells, dev, known, notes)
	return g
}

// judgeCells gives every cell its verdict against the group's golden
// digest, lists the failed and interrupted ones, and counts the digests of
// the built ones.
func (g *GroupVerdict) judgeCells(cells []CellResult) *counter {
	digests := &counter{}
	for _, r := range cells {
		cv := checkCell(r, g.Golden)
		g.Cells = append(g.Cells, cv)
		switch cv.State {
		case CellInterrupted:
			g.Interrupted = append(g.Interrupted, r.Name)
		case CellFailed:
			g.Failed = append(g.Failed, r.Name)
		default:
			digests.add(r.Digest)
		}
	}
	return digests
}

// pair is the comparison of cell r with what it should equal: another
// cell, or the golden digest (against named AgainstGolden, no tarball).
func pair(r, against CellResult, known bool) Pair {
	return Pair{Cell: r.Name, Digest: r.Digest, Tarball: r.Tarball,
		Against: against.Name, AgainstDigest: against.Digest, AgainstTarball: against.Tarball, Known: known}
}

// addKnown records that k covers the difference of cv, and lists k once
// among the group's known divergences.
func (g *GroupVerdict) addKnown(cv *CellVerdict, k cell.KnownDivergence) {
	cv.Known = &k
	g.listKnown(k)
}

// listKnown lists k once among the group's known divergences.
func (g *GroupVerdict) listKnown(k cell.KnownDivergence) {
	if !slices.ContainsFunc(g.Known, func(x cell.KnownDivergence) bool { return sameKnown(x, k) }) {
		g.Known = append(g.Known, k)
	}
}

// groupState is the verdict of a group whose cells are judged and
// compared: a failed or interrupted cell fails it (never agreement), and so
// does a self-check whose rebuild failed; then a self-check that rebuilt
// another digest makes it not-reproducible; pinned cells that disagree
// among themselves, or cells that differ in a group without reference,
// make it disagree; then golden-mismatch (goldenMismatch), disagree (an
// uncovered difference), known (covered ones only), agree.
//
// Why not-reproducible comes after failed and interrupted, and before the
// rest: disagree, golden-mismatch, known and agree are all verdicts on the
// comparison of built digests, which a fixture that builds two digests on
// one engine and BuildKit makes meaningless (what would differ between
// engines may be its own randomness), so it overrides them all, known
// divergences included. Failed and interrupted say instead that the group's
// evidence is incomplete, a failure of its own that someone must fix
// whatever the fixture does (a cell that did not build is a failure in this
// project, never hidden behind another verdict); they keep their place, and
// the message still says that the fixture is not deterministic
// (selfCheckLines) and the pair of the two builds is still diffed. A
// self-check whose rebuild failed is a build that did not build: it fails
// the group as a failed cell does, rather than warn, since a run must not
// pass when the proof it was asked for is missing.
//
// Why varies (a variation that rebuilt another digest) comes after
// not-reproducible, and before the rest: a fixture that builds two digests
// with nothing changed explains any digest a variation gives, so the
// variation proves nothing there (the message still names it and its pair
// is still diffed). Yet a variation that changes the digest of a
// deterministic fixture is proven on one builder, one engine and one
// BuildKit, whatever the other cells did: it says what to fix first, and
// it may be what the cells that disagree differ by (an engine that runs
// its builds under another umask or TZ). So it overrides disagree,
// golden-mismatch, known and agree, and no known divergence about cells
// excuses it (those describe differences between cells, not between a cell
// and its own rebuild); the cells that differ are still listed and diffed,
// and known divergences still judged on them. Only a known divergence that
// names the variation (cell.KnownDivergence.Variations) acknowledges it:
// then the group takes the verdict it would have without that variation,
// known where it would agree (so that the acknowledgement is still said),
// and the pair of the two builds is still diffed. A variation whose
// rebuild failed is a build that did not build: it fails the group, as a
// failed self-check does, whatever known divergence names it.
func groupState(g GroupVerdict, dev deviations, cells int) GroupState {
	switch {
	case len(g.Failed) > 0, len(g.failedSelfChecks()) > 0, len(g.failedVariations()) > 0:
		return GroupFailed
	case len(g.Interrupted) > 0:
		return GroupInterrupted
	case g.unreproduced() != nil:
		return GroupNotReproducible
	case len(g.uncoveredVariations()) > 0:
		return GroupVaries
	case dev.pinSplit, g.ReferenceDigest == "":
		return GroupDisagree
	case goldenMismatch(g, dev):
		return GroupGoldenMismatch
	case len(dev.off.order) > 0:
		return GroupDisagree
	case dev.covered > 0, len(g.coveredVariations()) > 0:
		return GroupKnown
	case cells == 1:
		return GroupAgreeSingle
	}
	return GroupAgree
}

// groupOutcome is how the group shows as a test case.
func groupOutcome(g GroupVerdict) Outcome {
	switch {
	case g.State.Fails():
		return OutcomeFail
	case g.State == GroupKnown:
		return OutcomeKnown
	case g.State == GroupAgreeSingle || g.Golden == "":
		return OutcomeWarn
	}
	return OutcomePass
}

func sameKnown(a, b cell.KnownDivergence) bool {
	return a.Cells == b.Cells && slices.Equal(a.Variations, b.Variations) && a.Reason == b.Reason && a.Link == b.Link && a.Expires.Equal(b.Expires)
}

// counter counts values in the order of their first appearance.
type counter struct {
	n     map[string]int
	order []string
}

func (c *counter) add(v string) {
	if c.n == nil {
		c.n = map[string]int{}
	}
	if c.n[v] == 0 {
		c.order = append(c.order, v)
	}
	c.n[v]++
}

// mostCommon is the value counted most often, the first one on a tie; ""
// when none was counted.
func (c *counter) mostCommon() string {
	best := ""
	for _, v := range c.order {
		if best == "" || c.n[v] > c.n[best] {
			best = v
		}
	}
	return best
}

// groupGolden returns the golden digest of a group: the one the cells
// carry; when they carry different ones (a bug upstream), the most common,
// with a note.
func groupGolden(cells []CellResult) (string, []string) {
	goldens := &counter{}
	for _, r := range cells {
		if r.Golden != "" {
			goldens.add(r.Golden)
		}
	}
	best := goldens.mostCommon()
	if len(goldens.order) < 2 {
		return best, nil
	}
	return best, []string{fmt.Sprintf("note: the cells carry %d different golden digests (%s); using %s",
		len(goldens.order), strings.Join(goldens.order, ", "), best)}
}

func count(v Verdicts) Counts {
	c := Counts{Cell: map[CellState]int{}, Group: map[GroupState]int{}, Known: map[KnownState]int{}}
	for _, s := range cellStates {
		c.Cell[s] = 0
	}
	for _, s := range groupStates {
		c.Group[s] = 0
	}
	for _, s := range knownStates {
		c.Known[s] = 0
	}
	for _, g := range v.Groups {
		c.Groups++
		c.Group[g.State]++
		for _, cv := range g.Cells {
			c.Cells++
			c.Cell[cv.State]++
		}
	}
	for _, k := range v.Known {
		c.Known[k.State]++
	}
	return c
}

func sortResults(rs []CellResult) {
	slices.SortStableFunc(rs, func(a, b CellResult) int { return cmp.Compare(a.Name, b.Name) })
}

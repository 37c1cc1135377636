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
// that has not expired at r.Started, now when zero) carries it in Known.
func CheckCell(r CellResult, known ...cell.KnownDivergence) CellVerdict {
	v := checkCell(r, r.Golden)
	if v.State == CellMismatch {
		now := r.Started
		if now.IsZero() {
			now = time.Now()
		}
		if e := cover(newKnownEntries(known, now), r); e != nil {
			v.Known = &e.k
		}
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

// knownEntry is a known divergence during one evaluation, with what became
// of it.
type knownEntry struct {
	k       cell.KnownDivergence
	pattern cell.Pattern
	err     error // the pattern does not parse: it covers nothing
	expired bool
	seen    bool     // matched a built cell
	covers  []string // differing cells it covered (or would have, if expired)
}

func newKnownEntries(known []cell.KnownDivergence, now time.Time) []*knownEntry {
	entries := make([]*knownEntry, len(known))
	for i, k := range known {
		p, err := k.Pattern()
		entries[i] = &knownEntry{k: k, pattern: p, err: err, expired: k.Expired(now)}
	}
	return entries
}

func (e *knownEntry) matches(c cell.Coords) bool { return e.err == nil && e.pattern.Matches(c) }

// cover records that the difference of cell r still happens for every
// divergence that matches it, and returns the first of them that has not
// expired (nil: none covers r).
func cover(known []*knownEntry, r CellResult) *knownEntry {
	var first *knownEntry
	for _, e := range known {
		if !e.matches(r.Axes) {
			continue
		}
		e.covers = append(e.covers, r.Name)
		if first == nil && !e.expired {
			first = e
		}
	}
	return first
}

// Evaluate computes cell and group verdicts. results need not be sorted;
// known is used in its order (the first match covers a cell).
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

func knownStatus(e *knownEntry, now time.Time) KnownStatus {
	s := KnownStatus{KnownDivergence: e.k, Covers: e.covers}
	switch {
	case e.err != nil:
		s.State, s.Note = KnownInvalid, e.err.Error()+": covers nothing"
	case e.seen && len(e.covers) == 0:
		s.State, s.Note = KnownNoLongerHappens, "no longer happens: its cells built and none differed; remove it"
	case e.expired:
		s.State = KnownExpired
		if len(e.covers) > 0 {
			s.Note = "expired on " + day(e.k.Expires) + " and still happens: fix it or extend the expiry"
		} else {
			s.Note = "expired on " + day(e.k.Expires) + " (none of its cells built in this run): remove it or extend the expiry"
		}
	case len(e.covers) > 0:
		s.State, s.Note = KnownActive, "still happens"
	default:
		s.State, s.Note = KnownNotExercised, "none of its cells built in this run: cannot tell whether it still happens"
	}
	return s
}

// deviations counts the built cells of a group that differ from the
// reference digest, or miss the golden digest with it.
type deviations struct {
	all             int // known-covered ones included
	uncoveredDiffer int // differ from the reference, no known divergence covers them
	uncoveredGolden int // agree with the reference, which misses the golden digest
}

// evaluateGroup decides the verdict on the cells of one group (sorted by
// name), known divergences applied.
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
	ref, tie := g.chooseReference(cells, g.judgeCells(cells))
	dev := g.compare(cells, ref, known)
	g.State = groupState(g, dev, len(cells))
	g.Outcome = groupOutcome(g)
	g.Message = groupMessage(g, cells, known, append(notes, tie...))
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

// chooseReference sets the reference digest, the golden digest when a cell
// built it, else the most common digest (ties go to the digest whose first
// cell sorts first), and the reference cell: the first built cell with that
// digest, cells[ref] (ref -1: none built). It returns a note when a tie
// decided.
func (g *GroupVerdict) chooseReference(cells []CellResult, digests *counter) (ref int, notes []string) {
	if g.Golden != "" && digests.n[g.Golden] > 0 {
		g.ReferenceDigest = g.Golden
	} else {
		g.ReferenceDigest = digests.mostCommon()
		for _, d := range digests.order {
			if d != g.ReferenceDigest && digests.n[d] == digests.n[g.ReferenceDigest] {
				notes = []string{fmt.Sprintf("note: digests tie at %d cells each; the reference digest is the one whose first cell sorts first by name", digests.n[d])}
				break
			}
		}
	}
	for i, r := range cells {
		if g.Cells[i].State.Built() && r.Digest == g.ReferenceDigest {
			g.Reference = r.Name
			return i, notes
		}
	}
	return -1, notes
}

// compare holds every built cell to the reference digest (and, when the
// reference misses the golden digest, to the golden digest), applies the
// known divergences, and pairs each differing cell with the reference cell
// (cells[ref]) for the image diff.
func (g *GroupVerdict) compare(cells []CellResult, ref int, known []*knownEntry) deviations {
	goldenMissed := g.Golden != "" && g.Reference != "" && g.ReferenceDigest != g.Golden
	var dev deviations
	for i, r := range cells {
		cv := &g.Cells[i]
		if !cv.State.Built() {
			continue
		}
		for _, e := range known {
			e.seen = e.seen || e.matches(r.Axes)
		}
		cv.Agrees = r.Digest == g.ReferenceDigest
		if cv.Agrees && !goldenMissed {
			continue
		}
		dev.all++
		e := cover(known, r)
		switch {
		case e != nil:
			g.addKnown(cv, e.k)
		case cv.Agrees:
			dev.uncoveredGolden++
		default:
			dev.uncoveredDiffer++
		}
		if !cv.Agrees {
			g.Differing = append(g.Differing, r.Name)
			g.Pairs = append(g.Pairs, pair(r, cells[ref], e != nil))
		}
	}
	if goldenMissed {
		p := pair(cells[ref], CellResult{Name: AgainstGolden, Digest: g.Golden}, g.Cells[ref].Known != nil)
		g.Pairs = append([]Pair{p}, g.Pairs...)
	}
	return dev
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
	if !slices.ContainsFunc(g.Known, func(x cell.KnownDivergence) bool { return sameKnown(x, k) }) {
		g.Known = append(g.Known, k)
	}
}

// groupState is the verdict of a group whose cells are judged and compared.
func groupState(g GroupVerdict, dev deviations, cells int) GroupState {
	switch {
	case len(g.Failed) > 0:
		return GroupFailed
	case len(g.Interrupted) > 0:
		return GroupInterrupted
	case dev.uncoveredDiffer > 0:
		return GroupDisagree
	case dev.uncoveredGolden > 0:
		return GroupGoldenMismatch
	case dev.all > 0:
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
	return a.Cells == b.Cells && a.Reason == b.Reason && a.Link == b.Link && a.Expires.Equal(b.Expires)
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

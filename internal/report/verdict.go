package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// CellState is the golden verdict of one cell.
type CellState string

const (
	CellMatch       CellState = "match"       // built; digest equals the golden digest
	CellMismatch    CellState = "mismatch"    // built; digest differs from the golden digest
	CellNoGolden    CellState = "no-golden"   // built; no golden digest recorded for its group
	CellFailed      CellState = "failed"      // build or analysis failed (or no digest)
	CellInterrupted CellState = "interrupted" // the run stopped before the cell finished
)

var cellStates = []CellState{CellMatch, CellMismatch, CellNoGolden, CellFailed, CellInterrupted}

// GroupState is the equality verdict of one group (fixture x platform x exporter).
type GroupState string

const (
	// GroupAgree: at least two cells, all built, same digest, equal to the
	// golden digest when one is recorded.
	GroupAgree GroupState = "agree"
	// GroupAgreeSingle: one cell only, nothing to compare (a warning, not a
	// failure); the golden check still applies.
	GroupAgreeSingle GroupState = "agree-single"
	// GroupEmpty: no cells at all; nothing was proven. Fails.
	GroupEmpty GroupState = "empty"
	// GroupDisagree: built cells differ and at least one difference is not
	// covered by a known divergence. Fails.
	GroupDisagree GroupState = "disagree"
	// GroupKnown: every difference is covered by a known divergence. Passes,
	// shown with its links.
	GroupKnown GroupState = "known"
	// GroupFailed: a cell failed to build or analyze. Fails; failed cells
	// never count as agreeing.
	GroupFailed GroupState = "failed"
	// GroupGoldenMismatch: the cells agree with each other but not with the
	// golden digest. Fails.
	GroupGoldenMismatch GroupState = "golden-mismatch"
	// GroupInterrupted: a cell did not finish because the run stopped. Fails.
	GroupInterrupted GroupState = "interrupted"
)

var groupStates = []GroupState{GroupAgree, GroupAgreeSingle, GroupKnown, GroupEmpty, GroupDisagree,
	GroupGoldenMismatch, GroupFailed, GroupInterrupted}

// Fails reports whether a group in state s fails the run.
func (s GroupState) Fails() bool {
	switch s {
	case GroupAgree, GroupAgreeSingle, GroupKnown:
		return false
	}
	return true
}

// Outcome is how a group verdict shows as a test case.
type Outcome string

const (
	OutcomePass  Outcome = "pass"  // passed
	OutcomeWarn  Outcome = "warn"  // passed, but says something: one cell only, or no golden recorded
	OutcomeKnown Outcome = "known" // passed because of known divergences (links in the message)
	OutcomeFail  Outcome = "fail"  // fails the run; Message is the failure text
)

// KnownState says what became of a known divergence in this run.
type KnownState string

const (
	KnownActive          KnownState = "active"            // it covered at least one differing cell
	KnownNoLongerHappens KnownState = "no-longer-happens" // its cells built and none differed: remove it
	KnownNotExercised    KnownState = "not-exercised"     // none of its cells built in this run: cannot tell
	KnownExpired         KnownState = "expired"           // past its expiry: covers nothing any more
	KnownInvalid         KnownState = "invalid"           // its cells pattern does not parse: covers nothing
)

var knownStates = []KnownState{KnownActive, KnownNoLongerHappens, KnownNotExercised, KnownExpired, KnownInvalid}

// CellVerdict is the verdict on one cell.
type CellVerdict struct {
	Name  string    `json:"name"`
	State CellState `json:"state"`
	// Digest is the cell's digest; Golden the golden digest of its group.
	Digest string `json:"digest"`
	Golden string `json:"golden"`
	// Agrees is true when the cell built and its digest equals the group's
	// reference digest. Failed and interrupted cells never agree.
	Agrees bool `json:"agrees"`
	// Known is the known divergence covering this cell's difference, if any.
	Known *KnownDivergence `json:"known,omitempty"`
	// Message is a one-line human account.
	Message string `json:"message"`
}

// Pair is the comparison of a cell with what it should equal: the group's
// reference cell, or "golden" (Against) when the whole group misses the
// golden digest. The image diff fills Diff, DiffSummary and Hints.
type Pair struct {
	Cell           string `json:"cell"`
	Digest         string `json:"digest"`
	Tarball        string `json:"tarball,omitempty"`
	Against        string `json:"against"` // reference cell name, or "golden"
	AgainstDigest  string `json:"against_digest"`
	AgainstTarball string `json:"against_tarball,omitempty"`
	// Known is true when a known divergence covers this difference.
	Known bool `json:"known,omitempty"`
	// Diff is the structured image diff (JSON), attached later.
	Diff json.RawMessage `json:"diff,omitempty"`
	// DiffSummary is one line: what differs (descriptor, media type, file...).
	DiffSummary string `json:"diff_summary,omitempty"`
	// DiffText is the diff as a short tree for people; the Markdown shows
	// it instead of the JSON, which stays in results.json.
	DiffText string `json:"diff_text,omitempty"`
	// Hints are likely causes and remedies.
	Hints []string `json:"hints,omitempty"`
}

// AgainstGolden is the Against value of a pair compared with the golden digest.
const AgainstGolden = "golden"

// GroupVerdict is the equality verdict of one group.
type GroupVerdict struct {
	Key      string     `json:"group"`
	Fixture  string     `json:"fixture"`
	Platform string     `json:"platform"`
	Exporter string     `json:"exporter"`
	State    GroupState `json:"state"`
	Outcome  Outcome    `json:"outcome"`
	Golden   string     `json:"golden"`
	// Reference is the reference cell: the first (by name) whose digest is
	// the golden digest, else the first with the most common digest (ties
	// go to the digest whose first cell sorts first).
	Reference       string `json:"reference"`
	ReferenceDigest string `json:"reference_digest"`
	// Cells are sorted by name.
	Cells []CellVerdict `json:"cells"`
	// Differing are built cells whose digest differs from the reference
	// (known-covered ones included).
	Differing   []string `json:"differing,omitempty"`
	Failed      []string `json:"failed,omitempty"`
	Interrupted []string `json:"interrupted,omitempty"`
	Pairs       []Pair   `json:"pairs,omitempty"`
	// Known are the known divergences that cover a difference in this group.
	Known []KnownDivergence `json:"known,omitempty"`
	// Message explains the verdict; for a failing group it is the failure
	// text (cells that differ with their digests, the reference cell).
	Message string `json:"message"`
}

// Name is the test-case name: "group: fixture=x/platform=y/exporter=z".
func (g GroupVerdict) Name() string {
	if g.Key == "" {
		return "group: (no cells)"
	}
	return "group: " + g.Key
}

// Fails reports whether this group fails the run.
func (g GroupVerdict) Fails() bool { return g.State.Fails() }

// KnownStatus is a known divergence with what became of it in this run.
type KnownStatus struct {
	KnownDivergence
	State KnownState `json:"state"`
	// Covers are the differing cells it covered (or, expired, would have).
	Covers []string `json:"covers,omitempty"`
	Note   string   `json:"note,omitempty"`
}

// Counts summarises the verdicts; every state is present, zero or not.
type Counts struct {
	Cells  int                `json:"cells"`
	Groups int                `json:"groups"`
	Cell   map[CellState]int  `json:"cell_states"`
	Group  map[GroupState]int `json:"group_states"`
	Known  map[KnownState]int `json:"known_states"`
}

// Verdicts is the outcome of Evaluate.
type Verdicts struct {
	// Groups are sorted by key. Never empty after Evaluate: a run without
	// any cell yields one GroupEmpty verdict with an empty Key.
	Groups []GroupVerdict `json:"groups"`
	// Known follows the input order of the known divergences.
	Known  []KnownStatus `json:"known"`
	Counts Counts        `json:"counts"`
}

// Failed reports whether any group fails (an empty run fails).
func (v Verdicts) Failed() bool {
	for _, g := range v.Groups {
		if g.Fails() {
			return true
		}
	}
	return false
}

// Cell returns the verdict on the named cell.
func (v Verdicts) Cell(name string) (CellVerdict, bool) {
	for _, g := range v.Groups {
		for _, c := range g.Cells {
			if c.Name == name {
				return c, true
			}
		}
	}
	return CellVerdict{}, false
}

// Pairs returns pointers to every pair of every group, in report order, so
// that the image diff can fill Diff, DiffSummary and Hints in place.
func (v *Verdicts) Pairs() []*Pair {
	var out []*Pair
	for gi := range v.Groups {
		for pi := range v.Groups[gi].Pairs {
			out = append(out, &v.Groups[gi].Pairs[pi])
		}
	}
	return out
}

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

// CheckCell is the golden verdict on one cell alone (no group context).
func CheckCell(r CellResult) CellVerdict { return checkCell(r, r.Golden) }

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

func (s CellState) built() bool {
	return s == CellMatch || s == CellMismatch || s == CellNoGolden
}

type knownEntry struct {
	k       KnownDivergence
	match   func(Axes) bool
	err     error
	expired bool
	seen    bool     // matched a built cell
	covers  []string // differing cells it covered (or would have, if expired)
}

// Evaluate computes cell and group verdicts. results need not be sorted;
// known is used in its order (the first match covers a cell).
func Evaluate(results []CellResult, known []KnownDivergence, opts ...Option) Verdicts {
	cfg := evalConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.now.IsZero() {
		cfg.now = time.Now()
	}

	entries := make([]*knownEntry, len(known))
	for i, k := range known {
		m, err := k.matcher()
		entries[i] = &knownEntry{k: k, match: m, err: err, expired: k.expired(cfg.now)}
	}

	sorted := slices.Clone(results)
	sortResults(sorted)
	byGroup := map[string][]CellResult{}
	for _, r := range sorted {
		byGroup[r.groupKey()] = append(byGroup[r.groupKey()], r)
	}
	for _, g := range cfg.groups {
		if _, ok := byGroup[g]; !ok {
			byGroup[g] = nil
		}
	}
	keys := make([]string, 0, len(byGroup))
	for k := range byGroup {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	var v Verdicts
	for _, k := range keys {
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

func knownStatus(e *knownEntry, now time.Time) KnownStatus {
	s := KnownStatus{KnownDivergence: e.k.strip(), Covers: e.covers}
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

func evaluateGroup(key string, cells []CellResult, known []*knownEntry) GroupVerdict {
	g := GroupVerdict{Key: key, Cells: []CellVerdict{}}
	if len(cells) > 0 {
		a := cells[0].Axes
		g.Fixture, g.Platform, g.Exporter = a.Fixture, a.Platform, a.Exporter
	} else {
		g.Fixture, g.Platform, g.Exporter = parseGroupKey(key)
	}
	if len(cells) == 0 {
		g.State, g.Outcome = GroupEmpty, OutcomeFail
		g.Message = "no cells in this group: nothing was compared"
		return g
	}

	var notes []string
	g.Golden, notes = groupGolden(cells)

	// Cell verdicts and the reference digest.
	count := map[string]int{}
	var order []string // digests by the name of their first cell
	for _, r := range cells {
		cv := checkCell(r, g.Golden)
		g.Cells = append(g.Cells, cv)
		switch {
		case cv.State == CellInterrupted:
			g.Interrupted = append(g.Interrupted, r.Name)
		case cv.State == CellFailed:
			g.Failed = append(g.Failed, r.Name)
		default:
			if count[r.Digest] == 0 {
				order = append(order, r.Digest)
			}
			count[r.Digest]++
		}
	}
	switch {
	case g.Golden != "" && count[g.Golden] > 0:
		g.ReferenceDigest = g.Golden
	case len(order) > 0:
		g.ReferenceDigest = order[0]
		for _, d := range order[1:] {
			if count[d] > count[g.ReferenceDigest] {
				g.ReferenceDigest = d
			}
		}
	}
	if g.ReferenceDigest != g.Golden {
		for _, d := range order {
			if d != g.ReferenceDigest && count[d] == count[g.ReferenceDigest] {
				notes = append(notes, fmt.Sprintf("note: digests tie at %d cells each; the reference digest is the one whose first cell sorts first by name", count[d]))
				break
			}
		}
	}
	var ref *CellResult
	refIdx := -1
	for i, r := range cells {
		if g.Cells[i].State.built() && r.Digest == g.ReferenceDigest {
			ref, refIdx = &cells[i], i
			g.Reference = r.Name
			break
		}
	}
	goldenMissed := g.Golden != "" && ref != nil && g.ReferenceDigest != g.Golden

	// Differences, known coverage and pairs.
	var uncoveredDiffer, uncoveredGolden int
	var deviating int
	for i, r := range cells {
		cv := &g.Cells[i]
		if !cv.State.built() {
			continue
		}
		for _, e := range known {
			if e.match != nil && e.match(r.Axes) {
				e.seen = true
			}
		}
		cv.Agrees = r.Digest == g.ReferenceDigest
		if cv.Agrees && !goldenMissed {
			continue
		}
		deviating++
		if !cv.Agrees {
			g.Differing = append(g.Differing, r.Name)
		}
		var cover *knownEntry
		for _, e := range known {
			if e.match == nil || !e.match(r.Axes) {
				continue
			}
			// Every matching divergence still happens; the first one
			// that has not expired covers the cell.
			e.covers = append(e.covers, r.Name)
			if cover == nil && !e.expired {
				cover = e
			}
		}
		if cover != nil {
			k := cover.k.strip()
			cv.Known = &k
			if !slices.ContainsFunc(g.Known, func(x KnownDivergence) bool { return sameKnown(x, k) }) {
				g.Known = append(g.Known, k)
			}
		} else if cv.Agrees {
			uncoveredGolden++
		} else {
			uncoveredDiffer++
		}
		if !cv.Agrees {
			g.Pairs = append(g.Pairs, Pair{
				Cell: r.Name, Digest: r.Digest, Tarball: r.Tarball,
				Against: ref.Name, AgainstDigest: ref.Digest, AgainstTarball: ref.Tarball,
				Known: cover != nil,
			})
		}
	}
	if goldenMissed {
		g.Pairs = append([]Pair{{
			Cell: ref.Name, Digest: ref.Digest, Tarball: ref.Tarball,
			Against: AgainstGolden, AgainstDigest: g.Golden,
			Known: g.Cells[refIdx].Known != nil,
		}}, g.Pairs...)
	}

	switch {
	case len(g.Failed) > 0:
		g.State = GroupFailed
	case len(g.Interrupted) > 0:
		g.State = GroupInterrupted
	case uncoveredDiffer > 0:
		g.State = GroupDisagree
	case uncoveredGolden > 0:
		g.State = GroupGoldenMismatch
	case deviating > 0:
		g.State = GroupKnown
	case len(cells) == 1:
		g.State = GroupAgreeSingle
	default:
		g.State = GroupAgree
	}
	switch {
	case g.State.Fails():
		g.Outcome = OutcomeFail
	case g.State == GroupKnown:
		g.Outcome = OutcomeKnown
	case g.State == GroupAgreeSingle || g.Golden == "":
		g.Outcome = OutcomeWarn
	default:
		g.Outcome = OutcomePass
	}
	g.Message = groupMessage(g, cells, known, notes)
	return g
}

func sameKnown(a, b KnownDivergence) bool {
	return a.Cells == b.Cells && a.Reason == b.Reason && a.Link == b.Link && a.Expires.Equal(b.Expires)
}

// groupGolden returns the golden digest of a group: the one the cells
// carry; when they carry different ones (a bug upstream), the most common,
// with a note.
func groupGolden(cells []CellResult) (string, []string) {
	count := map[string]int{}
	var order []string
	for _, r := range cells {
		if r.Golden == "" {
			continue
		}
		if count[r.Golden] == 0 {
			order = append(order, r.Golden)
		}
		count[r.Golden]++
	}
	if len(order) == 0 {
		return "", nil
	}
	best := order[0]
	for _, d := range order[1:] {
		if count[d] > count[best] {
			best = d
		}
	}
	if len(order) == 1 {
		return best, nil
	}
	return best, []string{fmt.Sprintf("note: the cells carry %d different golden digests (%s); using %s",
		len(order), strings.Join(order, ", "), best)}
}

func groupMessage(g GroupVerdict, cells []CellResult, known []*knownEntry, notes []string) string {
	var b strings.Builder
	n := len(cells)
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	goldenText := g.Golden
	if goldenText == "" {
		goldenText = "none recorded"
	}
	switch g.State {
	case GroupAgree:
		if g.Golden != "" {
			line("%d cells agree on %s, the golden digest", n, g.ReferenceDigest)
		} else {
			line("%d cells agree on %s; no golden digest recorded: record it", n, g.ReferenceDigest)
		}
	case GroupAgreeSingle:
		if g.Golden != "" {
			line("only one cell: nothing to compare; its digest %s equals the golden digest", g.ReferenceDigest)
		} else {
			line("only one cell: nothing to compare; its digest is %s and no golden digest is recorded", g.ReferenceDigest)
		}
	case GroupKnown:
		line("cells differ as known: %d of %d cells deviate, each covered by a known divergence", len(coveredCells(g)), n)
	case GroupDisagree:
		line("cells disagree: %d of %d cells differ from the reference cell", len(g.Differing), n)
	case GroupGoldenMismatch:
		line("cells agree with each other on %s but not with the golden digest %s", g.ReferenceDigest, g.Golden)
	case GroupFailed:
		line("%d of %d cells failed; a failed cell never counts as agreeing", len(g.Failed), n)
	case GroupInterrupted:
		line("%d of %d cells were interrupted before they finished", len(g.Interrupted), n)
	}
	if g.Reference != "" && g.State != GroupAgree && g.State != GroupAgreeSingle {
		why := "most common digest"
		if g.ReferenceDigest == g.Golden {
			why = "golden digest"
		}
		line("reference: %s %s (%s)", g.Reference, g.ReferenceDigest, why)
		line("golden:    %s", goldenText)
	}
	for _, c := range g.Cells {
		switch {
		case c.State.built() && !c.Agrees:
			line("differs:   %s %s%s", c.Name, c.Digest, knownSuffix(c))
		case c.State.built() && c.Name == g.Reference && c.Known != nil:
			line("golden:    %s misses the golden digest%s", c.Name, knownSuffix(c))
		case c.State == CellFailed:
			line("failed:    %s: %s", c.Name, strings.TrimPrefix(c.Message, "failed: "))
		case c.State == CellInterrupted:
			line("interrupted: %s", c.Name)
		}
	}
	// Expired known divergences that would have covered a cell here.
	for _, e := range known {
		if !e.expired {
			continue
		}
		for _, c := range g.Cells {
			if slices.Contains(e.covers, c.Name) && c.Known == nil {
				line("expired known divergence (%s, expired %s) matches %s: it no longer covers it", linkOr(e.k), day(e.k.Expires), c.Name)
			}
		}
	}
	for _, n := range notes {
		line("%s", n)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func coveredCells(g GroupVerdict) []string {
	var out []string
	for _, c := range g.Cells {
		if c.Known != nil {
			out = append(out, c.Name)
		}
	}
	return out
}

func knownSuffix(c CellVerdict) string {
	if c.Known == nil {
		return ""
	}
	return " (known: " + linkOr(*c.Known) + ")"
}

func linkOr(k KnownDivergence) string {
	if k.Link != "" {
		return k.Link
	}
	if k.Reason != "" {
		return k.Reason
	}
	return k.Cells
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

func parseGroupKey(key string) (fixture, platform, exporter string) {
	var last *string
	for _, seg := range strings.Split(key, "/") {
		k, val, ok := strings.Cut(seg, "=")
		if !ok {
			if last != nil {
				*last += "/" + seg
			}
			continue
		}
		switch k {
		case "fixture":
			fixture, last = val, &fixture
		case "platform":
			platform, last = val, &platform
		case "exporter":
			exporter, last = val, &exporter
		default:
			last = nil
		}
	}
	return fixture, platform, exporter
}

func sortResults(rs []CellResult) {
	slices.SortStableFunc(rs, func(a, b CellResult) int { return cmp.Compare(a.Name, b.Name) })
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i]) + " …"
	}
	return s
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

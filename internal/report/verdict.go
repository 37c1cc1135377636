package report

import (
	"encoding/json"

	"github.com/repro-matrix/repro-matrix/internal/cell"
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

// Built reports whether a cell in state s built and has a digest: match,
// mismatch or no-golden. Failed and interrupted cells did not.
func (s CellState) Built() bool {
	return s == CellMatch || s == CellMismatch || s == CellNoGolden
}

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
	// GroupKnown: every difference is covered by a known divergence (a
	// cell's difference from the reference, or a variation's from its
	// cell, which an entry with Variations acknowledges). Passes, shown
	// with its links.
	GroupKnown GroupState = "known"
	// GroupFailed: a cell failed to build or analyze. Fails; failed cells
	// never count as agreeing.
	GroupFailed GroupState = "failed"
	// GroupGoldenMismatch: the golden digest is not what the group builds:
	// the pinned BuildKit's cells agree on another digest (a bump of the pin
	// or a new base changes the golden digest; no known divergence excuses
	// the pin), or, without a pinned cell, every cell that misses it agrees
	// on one other digest and none built it. Fails.
	GroupGoldenMismatch GroupState = "golden-mismatch"
	// GroupInterrupted: a cell did not finish because the run stopped. Fails.
	GroupInterrupted GroupState = "interrupted"
	// GroupNotReproducible: a built cell, built a second time on a fresh
	// builder (its self-check, CellResult.SelfCheck), gave another digest:
	// the fixture is not deterministic, so its engines were not compared.
	// Fails; no known divergence excuses it. It takes precedence over
	// disagree, golden-mismatch, known and agree, not over failed and
	// interrupted (see groupState).
	GroupNotReproducible GroupState = "not-reproducible"
	// GroupVaries: a built cell, rebuilt on its builder with one aspect of
	// its build environment changed (a variation, CellResult.Variations),
	// gave another digest: the image depends on the build environment
	// (the variation is named, with the diff of the two images). Fails;
	// only a known divergence that names the variation (its Variations)
	// acknowledges it, and the group then takes the verdict it would have
	// without it (known where it would agree). It comes after failed, interrupted and
	// not-reproducible, before disagree, golden-mismatch, known and agree
	// (see groupState).
	GroupVaries GroupState = "varies"
)

var groupStates = []GroupState{GroupAgree, GroupAgreeSingle, GroupKnown, GroupEmpty, GroupDisagree,
	GroupGoldenMismatch, GroupNotReproducible, GroupVaries, GroupFailed, GroupInterrupted}

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
	// An entry with variations is active when a rebuild under one of them
	// gave another digest than its cell, no longer happens when each of
	// them was rebuilt and every rebuild held, not exercised otherwise.
	KnownActive          KnownState = "active"            // it covered at least one differing cell
	KnownNoLongerHappens KnownState = "no-longer-happens" // its cells built and none differed: remove it
	KnownNotExercised    KnownState = "not-exercised"     // none of its cells built in this run: cannot tell
	KnownExpired         KnownState = "expired"           // past its expiry: covers nothing any more
	KnownInvalid         KnownState = "invalid"           // its cells pattern does not parse: covers nothing
	// KnownRefused: it matched only differing cells of the pinned BuildKit,
	// which no known divergence excuses from the golden digest.
	KnownRefused KnownState = "refused"
)

var knownStates = []KnownState{KnownActive, KnownNoLongerHappens, KnownNotExercised, KnownExpired, KnownInvalid, KnownRefused}

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
	Known *cell.KnownDivergence `json:"known,omitempty"`
	// Message is a one-line human account.
	Message string `json:"message"`
}

// Pair is the comparison of a cell with what it should equal: the group's
// reference cell, "golden" (Against) when the whole group misses the
// golden digest, the cell's own rebuild on a fresh builder when its
// self-check gave another digest (SelfCheck; Against is then the cell's
// name + RebuiltSuffix), or the cell's own rebuild with one aspect of its
// build environment changed when that gave another digest (Variation;
// Against is then VariedName of the cell and the variation). The image
// diff fills Diff, DiffSummary and Hints.
type Pair struct {
	Cell           string `json:"cell"`
	Digest         string `json:"digest"`
	Tarball        string `json:"tarball,omitempty"`
	Against        string `json:"against"` // reference cell name, "golden", or the cell's rebuild
	AgainstDigest  string `json:"against_digest"`
	AgainstTarball string `json:"against_tarball,omitempty"`
	// SelfCheck is true when Against is Cell itself, rebuilt on a fresh
	// builder (CellResult.SelfCheck and SelfCheckTarball).
	SelfCheck bool `json:"self_check,omitempty"`
	// Variation names the variation when Against is Cell itself, rebuilt
	// with that aspect of its build environment changed (a
	// CellResult.Variations entry's Name, Digest and Tarball).
	Variation string `json:"variation,omitempty"`
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
	// Reference is the reference cell: the first built cell (a pinned one
	// first, then by name) whose digest is ReferenceDigest; empty when no
	// cell built it.
	Reference string `json:"reference"`
	// ReferenceDigest is what every cell is held to, never a vote (cases
	// README, "verdicts/: the reference of a group is the pin"): the golden
	// digest when one is recorded, else the digest the pinned BuildKit's
	// cells agree on (what `make goldens` records). Empty when there is
	// neither (NoReference says why), except that cells which all built one
	// digest show it here while NoReference stays set.
	ReferenceDigest string `json:"reference_digest"`
	// PinnedBuildKit names the pinned BuildKit when the group has cells of
	// it; PinnedDigest is the digest its built cells agree on ("" when they
	// disagree or none built). Both are empty for results that do not say
	// which BuildKit is pinned (CellResult.Pinned nil).
	PinnedBuildKit string `json:"pinned_buildkit,omitempty"`
	PinnedDigest   string `json:"pinned_digest,omitempty"`
	// NoReference says why the group has no reference digest (no golden
	// digest, and no pinned cell, or the pinned cells disagree or failed,
	// or the results do not say which cells are pinned): its cells were
	// only compared with each other and no known divergence was judged.
	NoReference string `json:"no_reference,omitempty"`
	// Cells are sorted by name.
	Cells []CellVerdict `json:"cells"`
	// Differing are built cells whose digest differs from the reference
	// (known-covered ones included).
	Differing   []string `json:"differing,omitempty"`
	Failed      []string `json:"failed,omitempty"`
	Interrupted []string `json:"interrupted,omitempty"`
	Pairs       []Pair   `json:"pairs,omitempty"`
	// Known are the known divergences that cover a difference in this group.
	Known []cell.KnownDivergence `json:"known,omitempty"`
	// SelfChecks are the built cells of the group that were built a second
	// time on a fresh builder, sorted by name, with what the rebuild gave.
	SelfChecks []SelfCheck `json:"self_checks,omitempty"`
	// Variations are the rebuilds of the built cells of the group with one
	// aspect of their build environment changed, cells sorted by name,
	// each cell's in the order built, with what each gave.
	Variations []VariationCheck `json:"variations,omitempty"`
	// Message explains the verdict; for a failing group it is the failure
	// text (cells that differ with their digests, the reference cell).
	Message string `json:"message"`
}

// SelfCheck is what the rebuild of a built cell on a fresh builder (an
// empty content store) gave: the same digest, another one (the fixture is
// not deterministic), or an error.
type SelfCheck struct {
	Cell   string `json:"cell"`
	Digest string `json:"digest"` // what the cell built
	// Rebuilt is the rebuild's digest; "" when it failed.
	Rebuilt string `json:"rebuilt,omitempty"`
	// Error is why the rebuild failed; "" when it built.
	Error string `json:"error,omitempty"`
}

// Identical reports whether the rebuild built the cell's digest.
func (s SelfCheck) Identical() bool { return s.Error == "" && s.Rebuilt == s.Digest }

// Differs reports whether the rebuild built another digest than the cell.
func (s SelfCheck) Differs() bool { return s.Error == "" && s.Rebuilt != s.Digest }

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
	cell.KnownDivergence
	State KnownState `json:"state"`
	// Covers are the differing cells it covered (or, expired, would have);
	// for an entry with variations, the rebuilds that gave another digest
	// than their cell (VariedName).
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

package report

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"golang.org/x/mod/semver"

	"github.com/repro-matrix/repro-matrix/internal/bisect"
)

// MinLadder is how many BuildKit versions a group's cells under one engine
// must span for FirstBad to read them as a ladder: the pin and at least two
// more. With fewer, the first version that differs is simply the other
// BuildKit, which the group's verdict says already.
const MinLadder = 3

// Transition is where a group's cells under one engine stop building the
// group's reference digest along the BuildKit versions the run built:
// the last version that builds it and the first that builds another
// (internal/bisect's linear scan over the recorded cells).
//
// The versions are those of the run: consecutive releases when it ran a
// BuildKit ladder (one per minor release), else only the ones it had.
type Transition struct {
	Group  string `json:"group"`
	Engine string `json:"engine"`
	// Reference is the digest the group is held to (its golden digest,
	// else the pinned BuildKit's).
	Reference string `json:"reference"`
	// LastGood and FirstBad are versions; LastGood is empty when the first
	// version that built already built another digest (bisect.BadFromStart).
	LastGood string `json:"last_good,omitempty"`
	FirstBad string `json:"first_bad"`
	// LastGoodCell and FirstBadCell name their cells, whose tarballs a diff
	// compares.
	LastGoodCell string `json:"last_good_cell,omitempty"`
	FirstBadCell string `json:"first_bad_cell"`
	// Answer is the scan: every version, every transition (a group that
	// flips back names both flips), the failed versions, notes.
	Answer bisect.Answer `json:"answer"`
}

// ReleaseNotes is the link to a BuildKit release's notes.
func ReleaseNotes(version string) string {
	return "https://github.com/moby/buildkit/releases/tag/" + version
}

// FirstBad names, for each group and engine whose cells span at least
// MinLadder BuildKit versions (a ladder run), the first BuildKit release
// whose digest differs from the group's reference and the last that builds
// it. Groups without a reference digest, and those whose every version
// builds it, are left out. Interrupted cells are left out; failed ones are
// skipped as the scan skips them (the answer says so). Where two cells of
// one engine ran one version (a rung, and latest resolved to it), the one
// named after the version counts. Sorted by group, then engine.
func FirstBad(run Run) []Transition {
	var out []Transition
	for _, g := range run.verdicts().Groups {
		if g.ReferenceDigest == "" || g.NoReference != "" {
			continue
		}
		byEngine := map[string][]CellResult{}
		for _, r := range run.Results {
			if r.groupKey() == g.Key && !r.Interrupted && semver.IsValid(r.Axes.Version()) {
				byEngine[r.Axes.Engine] = append(byEngine[r.Axes.Engine], r)
			}
		}
		for _, e := range slices.SortedFunc(maps.Keys(byEngine), natural) {
			if t, ok := ladderTransition(g, e, byEngine[e]); ok {
				out = append(out, t)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Transition) int {
		return cmp.Or(natural(a.Group, b.Group), natural(a.Engine, b.Engine))
	})
	return out
}

// ladderTransition scans one engine's cells of group g.
func ladderTransition(g GroupVerdict, engine string, cells []CellResult) (Transition, bool) {
	byVersion := map[string]CellResult{}
	for _, r := range cells {
		v := r.Axes.Version()
		if old, ok := byVersion[v]; !ok || old.Axes.BuildKit != v && r.Axes.BuildKit == v {
			byVersion[v] = r
		}
	}
	if len(byVersion) < MinLadder {
		return Transition{}, false
	}
	recorded := map[string]bisect.Outcome{}
	for v, r := range byVersion {
		o := bisect.Outcome{Digest: r.Digest, Err: r.Error}
		if o.Err == "" && o.Digest == "" {
			o.Err = "no digest recorded"
		}
		recorded[v] = o
	}
	a, err := bisect.Scan(slices.Collect(maps.Keys(byVersion)), g.ReferenceDigest, recorded)
	if err != nil || a.Result != bisect.Found && a.Result != bisect.BadFromStart {
		return Transition{}, false
	}
	t := Transition{Group: g.Key, Engine: engine, Reference: g.ReferenceDigest, Answer: a,
		FirstBad: a.FirstBad.Version, FirstBadCell: byVersion[a.FirstBad.Version].Name}
	if a.LastGood != nil {
		t.LastGood, t.LastGoodCell = a.LastGood.Version, byVersion[a.LastGood.Version].Name
	}
	return t, true
}

// Text is the transition in one line for people.
func (t Transition) Text() string {
	var s string
	if t.LastGood == "" {
		s = fmt.Sprintf("%s under %s: already %s, the first BuildKit version built, differs from the reference %s",
			t.Group, t.Engine, t.FirstBad, shortPlain(t.Reference))
	} else {
		s = fmt.Sprintf("%s under %s: first bad BuildKit %s, last good %s", t.Group, t.Engine, t.FirstBad, t.LastGood)
		if len(t.Answer.Candidates) > 0 {
			s = fmt.Sprintf("%s under %s: first bad BuildKit one of %s (the others failed to build), last good %s",
				t.Group, t.Engine, strings.Join(t.Answer.Candidates, ", "), t.LastGood)
		}
	}
	if more := t.later(); len(more) > 0 {
		s += "; then " + strings.Join(more, ", ")
	}
	return s
}

// later are the transitions after the first bad one, "restores at v0.31.0".
func (t Transition) later() []string {
	var out []string
	for _, tr := range t.Answer.Transitions {
		if semver.Compare(tr.After.Version, t.FirstBad) > 0 {
			out = append(out, fmt.Sprintf("%s at %s", tr.Kind, tr.After.Version))
		}
	}
	return out
}

// writeFirstBad writes the section "First bad BuildKit release" when the
// run holds a ladder with a transition.
func writeFirstBad(b *md, run Run) {
	ts := FirstBad(run)
	if len(ts) == 0 {
		return
	}
	b.l("## First bad BuildKit release")
	b.l("")
	b.l("Along the BuildKit versions this run built under one engine (a ladder: one per minor release), the last that builds the group's reference digest and the first that builds another.")
	b.l("")
	b.header("Group", "Engine", "Last good", "First bad", "Then")
	release := func(v string) string {
		if v == "" {
			return "—"
		}
		return "[" + v + "](" + ReleaseNotes(v) + ")"
	}
	for _, t := range ts {
		first := release(t.FirstBad)
		if len(t.Answer.Candidates) > 0 {
			var cs []string
			for _, c := range t.Answer.Candidates {
				cs = append(cs, release(c))
			}
			first = "one of " + strings.Join(cs, ", ") + " (failed builds between)"
		}
		then := strings.Join(t.later(), ", ")
		if then == "" {
			then = "—"
		}
		b.l("| %s | %s | %s | %s | %s |", code(t.Group), code(t.Engine), release(t.LastGood), first, then)
	}
	b.l("")
}

// Package bisect finds the first BuildKit release that builds another
// digest for one cell: the last version of a ladder that still builds the
// good digest (what the pinned BuildKit builds for the cell's group: the
// golden digest, else the pinned cell's), and the first that builds
// another, the first bad.
//
// It is pure: it knows versions, digests and an Oracle, never how a
// digest is obtained. The caller passes the digests it already has
// (Input.Recorded, e.g. the cells of a run's results.json) and an Oracle
// that builds a version it lacks; every version consulted is in the answer
// with how it was consulted (recorded or built).
//
// # Two ways
//
// Scan is used when every version's digest is known (a run that built the
// whole ladder): it reads the versions in release order and reports every
// transition, good to bad and back, so a group that flips twice (good, bad,
// good again) names both flips.
//
// Search is used otherwise: a binary search, as git bisect does, that builds
// only the versions it needs (about log2 of the ladder's length). It first
// uses what is recorded for free (the last recorded good version before the
// first recorded bad one bound the search), then builds midpoints. A
// version whose build fails is skipped like `git bisect skip`: the search
// tries its neighbours (the version nearest the midpoint that is left), and
// when only skipped versions lie between the last good and the first bad,
// the answer lists them as candidates (Answer.Candidates) instead of naming
// one first bad.
//
// A binary search assumes one transition. A group that flips twice (good,
// bad, good) can hide a flip: when both ends of the ladder are good the
// search stops at "all good" without seeing the bad versions between them,
// and when it finds a transition it names one, not all. The answer says so
// (Answer.Notes), and warns when the versions known (recorded or built)
// show more than one transition; Scan over a run with the whole ladder
// names them all.
package bisect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/mod/semver"
)

// Oracle returns the digest a cell builds at a BuildKit version, by
// building it. An error means the build failed: the version is skipped,
// unless ctx was cancelled, which stops the search.
type Oracle func(ctx context.Context, version string) (digest string, err error)

// Outcome is what a version built, as recorded: a digest, or the error of a
// build that failed (Err non-empty, Digest empty).
type Outcome struct {
	Digest string `json:"digest,omitempty"`
	Err    string `json:"error,omitempty"`
}

// Source says how a version's outcome was obtained.
type Source string

const (
	Recorded Source = "recorded" // from Input.Recorded (a run's results)
	Built    Source = "built"    // from the Oracle
	// Missing: not recorded, and Input.Build is nil; counts as failed.
	Missing Source = "missing"
)

// State is a version's verdict against the good digest.
type State string

const (
	Good   State = "good"   // built the good digest
	Bad    State = "bad"    // built another digest
	Failed State = "failed" // did not build: skipped
)

// Probe is one version consulted.
type Probe struct {
	Version string `json:"version"`
	Digest  string `json:"digest,omitempty"`
	Err     string `json:"error,omitempty"`
	Source  Source `json:"source"`
	State   State  `json:"state"`
}

func (p Probe) String() string {
	s := p.Version + " " + string(p.Source) + " " + string(p.State)
	switch {
	case p.State == Failed:
		s += ": " + firstLine(p.Err)
	case p.Digest != "":
		s += " " + p.Digest
	}
	return s
}

// Kind is the direction of a transition.
type Kind string

const (
	Breaks   Kind = "breaks"   // good to bad: the first bad version
	Restores Kind = "restores" // bad to good: the good digest again
	Changes  Kind = "changes"  // bad to another bad digest
)

// Transition is a change between two versions consulted next to each
// other in release order (failed versions aside): Before is the last of the
// old digest, After the first of the new one. Skipped are the versions
// between them whose build failed: the change may have come with one of
// them.
type Transition struct {
	Kind    Kind     `json:"kind"`
	Before  Probe    `json:"before"`
	After   Probe    `json:"after"`
	Skipped []string `json:"skipped,omitempty"`
}

func (t Transition) String() string {
	s := fmt.Sprintf("%s %s: %s (%s) -> %s (%s)", t.Kind, t.After.Version, t.Before.Version, t.Before.Digest, t.After.Version, t.After.Digest)
	if len(t.Skipped) > 0 {
		s += "; failed between them: " + strings.Join(t.Skipped, ", ")
	}
	return s
}

// Mode is how the answer was found.
type Mode string

const (
	Linear Mode = "linear" // Scan: every version known
	Binary Mode = "binary" // Search: binary search
)

// Result is the kind of answer.
type Result string

const (
	// Found: a good version followed by a bad one (LastGood, FirstBad).
	Found Result = "found"
	// AllGood: every version consulted built the good digest.
	AllGood Result = "all-good"
	// BadFromStart: the first version that built already built another
	// digest; nothing in the ladder builds the good digest before it.
	BadFromStart Result = "bad-from-start"
	// NoAnswer: too few versions built to tell (every build failed, or
	// every one after the last good).
	NoAnswer Result = "no-answer"
)

// Answer is what a bisection found.
type Answer struct {
	Mode   Mode   `json:"mode"`
	Result Result `json:"result"`
	Good   string `json:"good"` // the good digest
	// Versions is the ladder searched, ascending.
	Versions []string `json:"versions"`
	// LastGood and FirstBad are the first good-to-bad transition: set for
	// Found; for BadFromStart FirstBad is the first version that built;
	// for AllGood LastGood is the newest good version consulted.
	LastGood *Probe `json:"lastGood,omitempty"`
	FirstBad *Probe `json:"firstBad,omitempty"`
	// Candidates are set when failed versions lie between LastGood and
	// FirstBad: the first bad is one of them or FirstBad (as git bisect
	// says when only skipped commits are left).
	Candidates []string `json:"candidates,omitempty"`
	// Transitions: Scan's every transition, in release order; Search's the
	// one it found.
	Transitions []Transition `json:"transitions,omitempty"`
	// Consulted are the versions consulted, in the order they were.
	Consulted []Probe `json:"consulted"`
	// Notes say what the answer cannot tell: skipped versions, the limit
	// of a binary search, more than one transition in what is known.
	Notes []string `json:"notes,omitempty"`
}

// Built counts the versions the Oracle was asked for.
func (a Answer) Built() int {
	n := 0
	for _, p := range a.Consulted {
		if p.Source == Built {
			n++
		}
	}
	return n
}

// Summary is one line: the answer in words.
func (a Answer) Summary() string {
	switch a.Result {
	case Found:
		s := fmt.Sprintf("first bad %s, last good %s", a.FirstBad.Version, a.LastGood.Version)
		if len(a.Candidates) > 0 {
			s = fmt.Sprintf("first bad one of %s (failed ones could not tell), last good %s",
				strings.Join(a.Candidates, ", "), a.LastGood.Version)
		}
		return s
	case AllGood:
		return fmt.Sprintf("no transition: every version consulted built the good digest (the newest: %s)", a.LastGood.Version)
	case BadFromStart:
		return fmt.Sprintf("no transition: %s, the first version that built, already builds another digest (%s)", a.FirstBad.Version, a.FirstBad.Digest)
	}
	return "no answer: " + strings.Join(a.Notes, "; ")
}

// Input is what Search needs.
type Input struct {
	// Versions is the ladder, BuildKit releases vX.Y.Z; Search sorts them
	// by semver and refuses duplicates and non-versions.
	Versions []string
	// Good is the good digest.
	Good string
	// Recorded are the outcomes already known, by version; versions not in
	// the ladder are ignored.
	Recorded map[string]Outcome
	// Build obtains a version not recorded; nil: such a version cannot be
	// consulted and counts as failed ("not recorded, nothing to build it").
	Build Oracle
}

// ErrInput is wrapped by the errors of input that cannot be searched.
var ErrInput = errors.New("bisect: unusable input")

// Search answers in, scanning linearly when every version is recorded
// (Scan) and by binary search otherwise. The error is in's (ErrInput) or
// ctx's, when it was cancelled: the answer then holds what was consulted.
func Search(ctx context.Context, in Input) (Answer, error) {
	versions, err := ladder(in.Versions, in.Good)
	if err != nil {
		return Answer{}, err
	}
	all := true
	for _, v := range versions {
		if _, ok := in.Recorded[v]; !ok {
			all = false
		}
	}
	if all {
		return scan(versions, in.Good, in.Recorded), nil
	}
	s := &search{in: in, versions: versions, known: map[int]Probe{}}
	return s.run(ctx)
}

// Scan reads every version of the ladder from recorded, in release order,
// and reports every transition. A version not recorded is an input error.
func Scan(versions []string, good string, recorded map[string]Outcome) (Answer, error) {
	vs, err := ladder(versions, good)
	if err != nil {
		return Answer{}, err
	}
	for _, v := range vs {
		if _, ok := recorded[v]; !ok {
			return Answer{}, fmt.Errorf("%w: %s is not recorded: Scan needs every version", ErrInput, v)
		}
	}
	return scan(vs, good, recorded), nil
}

// ladder checks and sorts the versions.
func ladder(versions []string, good string) ([]string, error) {
	if good == "" {
		return nil, fmt.Errorf("%w: no good digest", ErrInput)
	}
	if len(versions) == 0 {
		return nil, fmt.Errorf("%w: no versions", ErrInput)
	}
	vs := slices.Clone(versions)
	for _, v := range vs {
		if !semver.IsValid(v) {
			return nil, fmt.Errorf("%w: %q is not a version vX.Y.Z", ErrInput, v)
		}
	}
	slices.SortStableFunc(vs, semver.Compare)
	for i := 1; i < len(vs); i++ {
		if semver.Compare(vs[i-1], vs[i]) == 0 {
			return nil, fmt.Errorf("%w: %s is listed twice", ErrInput, vs[i])
		}
	}
	return vs, nil
}

func probe(v string, o Outcome, src Source, good string) Probe {
	p := Probe{Version: v, Digest: o.Digest, Err: o.Err, Source: src}
	switch {
	case o.Err != "" || o.Digest == "":
		p.State, p.Digest = Failed, ""
		if p.Err == "" {
			p.Err = "no digest"
		}
	case o.Digest == good:
		p.State = Good
	default:
		p.State = Bad
	}
	return p
}

// transitions lists the changes between consecutive probes that built,
// in release order (probes sorted by version).
func transitions(probes []Probe) []Transition {
	var out []Transition
	var prev *Probe
	var skipped []string
	for i := range probes {
		p := probes[i]
		if p.State == Failed {
			if prev != nil {
				skipped = append(skipped, p.Version)
			}
			continue
		}
		if prev != nil && prev.Digest != p.Digest {
			k := Changes
			switch {
			case prev.State == Good:
				k = Breaks
			case p.State == Good:
				k = Restores
			}
			out = append(out, Transition{Kind: k, Before: *prev, After: p, Skipped: skipped})
		}
		prev, skipped = &probes[i], nil
	}
	return out
}

// flips counts the transitions between good and bad (Changes aside).
func flips(ts []Transition) int {
	n := 0
	for _, t := range ts {
		if t.Kind != Changes {
			n++
		}
	}
	return n
}

func scan(versions []string, good string, recorded map[string]Outcome) Answer {
	a := Answer{Mode: Linear, Good: good, Versions: versions}
	for _, v := range versions {
		a.Consulted = append(a.Consulted, probe(v, recorded[v], Recorded, good))
	}
	a.Transitions = transitions(a.Consulted)
	var first *Probe
	var lastGood *Probe
	for i := range a.Consulted {
		p := &a.Consulted[i]
		if p.State == Failed {
			continue
		}
		if first == nil {
			first = p
		}
		if p.State == Good {
			lastGood = p
		}
	}
	if failed := failedVersions(a.Consulted); len(failed) > 0 {
		a.Notes = append(a.Notes, "failed to build, skipped: "+strings.Join(failed, ", "))
	}
	switch {
	case first == nil:
		a.Result = NoAnswer
		a.Notes = append(a.Notes, "no version built")
	case first.State == Bad:
		a.Result, a.FirstBad = BadFromStart, first
	default:
		i := slices.IndexFunc(a.Transitions, func(t Transition) bool { return t.Kind == Breaks })
		if i < 0 {
			a.Result, a.LastGood = AllGood, lastGood
			break
		}
		t := a.Transitions[i]
		a.Result, a.LastGood, a.FirstBad = Found, &t.Before, &t.After
		if len(t.Skipped) > 0 {
			a.Candidates = append(slices.Clone(t.Skipped), t.After.Version)
		}
	}
	if n := flips(a.Transitions); n > 1 {
		a.Notes = append(a.Notes, fmt.Sprintf("the digest flips %d times between good and bad along the ladder: every transition is listed", n))
	}
	return a
}

func failedVersions(ps []Probe) []string {
	var out []string
	for _, p := range ps {
		if p.State == Failed {
			out = append(out, p.Version)
		}
	}
	return out
}

// search is one binary search.
type search struct {
	in       Input
	versions []string
	known    map[int]Probe // by index in versions
	answer   Answer
}

// consult returns the probe of version i: recorded, else built once.
func (s *search) consult(ctx context.Context, i int) (Probe, error) {
	if p, ok := s.known[i]; ok {
		return p, nil
	}
	v := s.versions[i]
	var p Probe
	if o, ok := s.in.Recorded[v]; ok {
		p = probe(v, o, Recorded, s.in.Good)
	} else {
		if err := ctx.Err(); err != nil {
			return Probe{}, context.Cause(ctx)
		}
		var o Outcome
		src := Built
		if s.in.Build == nil {
			o.Err, src = "not recorded, and nothing can build it", Missing
		} else {
			d, err := s.in.Build(ctx, v)
			if ctx.Err() != nil {
				return Probe{}, context.Cause(ctx)
			}
			o.Digest = d
			if err != nil {
				o.Err, o.Digest = err.Error(), ""
			}
		}
		p = probe(v, o, src, s.in.Good)
	}
	s.known[i] = p
	s.answer.Consulted = append(s.answer.Consulted, p)
	return p, nil
}

// recorded returns the recorded probe of version i, if any, without
// consulting it.
func (s *search) recorded(i int) (Probe, bool) {
	o, ok := s.in.Recorded[s.versions[i]]
	if !ok {
		return Probe{}, false
	}
	return probe(s.versions[i], o, Recorded, s.in.Good), true
}

func (s *search) run(ctx context.Context) (Answer, error) {
	s.answer = Answer{Mode: Binary, Good: s.in.Good, Versions: s.versions}
	err := s.bisect(ctx)
	s.finish()
	return s.answer, err
}

// bisect sets the answer's result; its error is ctx's.
func (s *search) bisect(ctx context.Context) error {
	n := len(s.versions)
	a := &s.answer
	// The lower bound: the first version that builds.
	lo := -1
	for i := range n {
		p, err := s.consult(ctx, i)
		if err != nil {
			return err
		}
		if p.State == Failed {
			continue
		}
		if p.State == Bad {
			a.Result, a.FirstBad = BadFromStart, &p
			return nil
		}
		lo = i
		break
	}
	if lo < 0 {
		a.Result = NoAnswer
		a.Notes = append(a.Notes, "no version built")
		return nil
	}
	// What is recorded narrows the range for free: the last recorded good
	// version before the first recorded bad one.
	hi := -1
	for i := lo + 1; i < n && hi < 0; i++ {
		if p, ok := s.recorded(i); ok && p.State != Failed {
			if _, err := s.consult(ctx, i); err != nil {
				return err
			}
			if p.State == Good {
				lo = i
			} else {
				hi = i
			}
		}
	}
	// Else the upper bound: the newest version that builds.
	for i := n - 1; hi < 0 && i > lo; i-- {
		p, err := s.consult(ctx, i)
		if err != nil {
			return err
		}
		switch p.State {
		case Good:
			a.Result, a.LastGood = AllGood, &p
			return nil
		case Bad:
			hi = i
		}
	}
	if hi < 0 {
		p := s.known[lo]
		a.Result, a.LastGood = AllGood, &p
		if lo < n-1 {
			a.Notes = append(a.Notes, fmt.Sprintf("every version after %s failed to build: the answer holds up to %s only", p.Version, p.Version))
		}
		return nil
	}
	// Bisect between lo (good) and hi (bad), skipping failed versions.
	for {
		mid := s.next(lo, hi)
		if mid < 0 {
			break
		}
		p, err := s.consult(ctx, mid)
		if err != nil {
			return err
		}
		switch p.State {
		case Good:
			lo = mid
		case Bad:
			hi = mid
		}
	}
	before, after := s.known[lo], s.known[hi]
	a.Result, a.LastGood, a.FirstBad = Found, &before, &after
	var skipped []string
	for i := lo + 1; i < hi; i++ {
		skipped = append(skipped, s.versions[i])
	}
	if len(skipped) > 0 {
		a.Candidates = append(skipped, after.Version)
	}
	a.Transitions = []Transition{{Kind: Breaks, Before: before, After: after, Skipped: skipped}}
	return nil
}

// next is the version to consult between lo and hi: the one nearest the
// midpoint (the lower first on a tie) that has not failed; -1 when none is
// left.
func (s *search) next(lo, hi int) int {
	mid := (lo + hi) / 2
	for d := 0; mid-d > lo || mid+d+1 < hi; d++ {
		for _, i := range []int{mid - d, mid + d + 1} {
			if i <= lo || i >= hi {
				continue
			}
			if p, ok := s.known[i]; !ok || p.State != Failed {
				return i
			}
		}
	}
	return -1
}

// finish adds the notes: failed versions, the limit of a binary search,
// and more than one transition among the versions known.
func (s *search) finish() {
	a := &s.answer
	if failed := failedVersions(a.Consulted); len(failed) > 0 {
		a.Notes = append(a.Notes, "failed to build, skipped: "+strings.Join(failed, ", "))
	}
	if a.Result == "" {
		a.Notes = append(a.Notes, "stopped before an answer")
		a.Result = NoAnswer
		return
	}
	// Everything known, consulted or recorded, in release order.
	var known []Probe
	for i := range s.versions {
		if p, ok := s.known[i]; ok {
			known = append(known, p)
		} else if p, ok := s.recorded(i); ok {
			known = append(known, p)
		}
	}
	ts := transitions(known)
	if n := flips(ts); n > 1 {
		var names []string
		for _, t := range ts {
			if t.Kind != Changes {
				names = append(names, fmt.Sprintf("%s at %s", t.Kind, t.After.Version))
			}
		}
		a.Notes = append(a.Notes, fmt.Sprintf("warning: the versions known show %d transitions between good and bad (%s): a binary search names one; a run with the whole ladder (Scan) names every one",
			n, strings.Join(names, ", ")))
	}
	consulted := len(s.known)
	if consulted < len(s.versions) {
		a.Notes = append(a.Notes, fmt.Sprintf("binary search: %d of %d versions consulted, assuming one transition; a digest that flips and flips back between two versions consulted would not show",
			consulted, len(s.versions)))
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

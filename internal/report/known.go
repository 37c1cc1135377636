package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/semver"

	"github.com/repro-matrix/repro-matrix/internal/cell"
)

// knownEntry is a known divergence during one evaluation, with what became
// of it.
type knownEntry struct {
	k       cell.KnownDivergence
	pattern cell.Pattern
	err     error // the pattern does not parse: it covers nothing
	expired bool
	seen    bool     // matched a built cell of a group held to a reference
	covers  []string // differing cells it covered (or would have, if expired)
	// refused are differing cells of the pinned BuildKit it matched: no
	// known divergence excuses the pin from its golden digest.
	refused []string
	// unjudged are built cells it matched in groups without a reference
	// digest, or not reproducible, where nothing tells which cell diverges.
	// For an entry with variations: the rebuilds under its variations in
	// groups not reproducible, or that did not build (VariedName).
	unjudged []string
	// held are, for an entry with variations, the variations it names that
	// were rebuilt in a judged group and gave their cell's digest. Its
	// covers are then the rebuilds that gave another (VariedName).
	held []string
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

// matchesCell reports whether e concerns the digest of the cell c: its
// pattern matches c and it acknowledges no variation.
func (e *knownEntry) matchesCell(c cell.Coords) bool { return !e.k.ForVariations() && e.matches(c) }

// matchesVariation reports whether e acknowledges the variation v of the
// cell c.
func (e *knownEntry) matchesVariation(c cell.Coords, v string) bool {
	return slices.Contains(e.k.Variations, v) && e.matches(c)
}

// EnvBuildKitVersion is the key of the BuildKit version a cell ran, in
// its environment record (CellResult.Env).
const EnvBuildKitVersion = "buildkit_version"

// coords are r's coordinates as known divergences match them: r.Axes, with
// the concrete version of its BuildKit taken from its environment record
// when Axes lack it (a "latest" that the cell's process had not resolved),
// so that a version range (buildkit>=v0.31.0) matches it.
func (r CellResult) coords() cell.Coords {
	c := r.Axes
	v := r.Env[EnvBuildKitVersion]
	if !strings.HasPrefix(v, "v") {
		v = "v" + v // as BuildKit's own version string may spell it
	}
	if c.BuildKitVersion == "" && semver.IsValid(v) {
		c.BuildKitVersion = v
	}
	return c
}

// cover records that the difference of cell r still happens for every
// divergence that matches it, and returns the first of them that has not
// expired (nil: none covers r).
func cover(known []*knownEntry, r CellResult) *knownEntry {
	var first *knownEntry
	for _, e := range known {
		if !e.matchesCell(r.coords()) {
			continue
		}
		e.covers = append(e.covers, r.Name)
		if first == nil && !e.expired {
			first = e
		}
	}
	return first
}

// refuse records, for every divergence that matches the pinned cell r,
// that it would have covered r's difference from the golden digest but
// cannot: a known divergence never excuses the pinned BuildKit (cases
// README, "verdicts/: the reference of a group is the pin, never a vote").
func refuse(known []*knownEntry, r CellResult) {
	for _, e := range known {
		if e.matchesCell(r.coords()) {
			e.refused = append(e.refused, r.Name)
		}
	}
}

// witness records that the built cell r was compared: held to a reference
// (held), or only with the other cells of a group that has none.
func witness(known []*knownEntry, r CellResult, held bool) {
	for _, e := range known {
		switch {
		case !e.matchesCell(r.coords()):
		case held:
			e.seen = true
		default:
			e.unjudged = append(e.unjudged, r.Name)
		}
	}
}

// coverVariation records, for every divergence that acknowledges the
// variation v of the built cell r, what its rebuild gave: held, another
// digest (covered), or nothing to judge (judged false: the group's fixture
// is not deterministic; or the rebuild did not build). It returns the first
// of them that has not expired when the rebuild gave another digest in a
// judged group (nil: none covers it).
func coverVariation(known []*knownEntry, r CellResult, v VariationCheck, judged bool) *knownEntry {
	var first *knownEntry
	name := VariedName(r.Name, v.Name)
	for _, e := range known {
		switch {
		case !e.matchesVariation(r.coords(), v.Name):
		case !judged || v.Error != "":
			e.unjudged = append(e.unjudged, name)
		case v.Held():
			if !slices.Contains(e.held, v.Name) {
				e.held = append(e.held, v.Name)
			}
		default:
			e.covers = append(e.covers, name)
			if first == nil && !e.expired {
				first = e
			}
		}
	}
	return first
}

// refusedBy are the known divergences that matched the pinned cell name
// without excusing it.
func refusedBy(known []*knownEntry, name string) []cell.KnownDivergence {
	var out []cell.KnownDivergence
	for _, e := range known {
		for _, n := range e.refused {
			if n == name {
				out = append(out, e.k)
				break
			}
		}
	}
	return out
}

// knownStatus says what became of a known divergence in this run. It never
// calls one that matched cells it could not judge "no longer happens".
func knownStatus(e *knownEntry, now time.Time) KnownStatus {
	if e.k.ForVariations() && e.err == nil {
		return variationsStatus(e)
	}
	s := KnownStatus{KnownDivergence: e.k, Covers: e.covers}
	switch {
	case e.err != nil:
		s.State, s.Note = KnownInvalid, e.err.Error()+": covers nothing"
	case len(e.covers) == 0 && len(e.refused) > 0:
		s.State = KnownRefused
		s.Note = fmt.Sprintf("matches only cells of the pinned BuildKit that differ from the golden digest (%d), "+
			"which no known divergence excuses: if the pin's new digests are intended, record them (make goldens) and narrow or remove this entry",
			len(e.refused))
	case e.seen && len(e.covers) == 0 && len(e.unjudged) == 0:
		s.State, s.Note = KnownNoLongerHappens, "no longer happens: its cells built and none differed; remove it"
	case e.expired:
		s.State = KnownExpired
		switch {
		case len(e.covers) > 0:
			s.Note = "expired on " + day(e.k.Expires) + " and still happens: fix it or extend the expiry"
		case len(e.unjudged) > 0:
			s.Note = "expired on " + day(e.k.Expires) + " (its cells could not be judged in this run): remove it or extend the expiry"
		default:
			s.Note = "expired on " + day(e.k.Expires) + " (none of its cells built in this run): remove it or extend the expiry"
		}
	case len(e.covers) > 0:
		s.State, s.Note = KnownActive, "still happens"
		if len(e.refused) > 0 {
			s.Note += fmt.Sprintf("; it does not excuse the pinned BuildKit's cells it also matches (%d)", len(e.refused))
		}
	case len(e.unjudged) > 0:
		s.State = KnownNotExercised
		s.Note = "its cells built only in groups with nothing to hold them to (no golden digest, no agreeing cell of the pinned BuildKit, " +
			"or a fixture that a self-check found not deterministic): cannot tell whether it still happens"
	default:
		s.State, s.Note = KnownNotExercised, "none of its cells built in this run: cannot tell whether it still happens"
	}
	return s
}

// variationsStatus says what became of a known divergence that
// acknowledges variations: active when a rebuild under one of them gave
// another digest than its cell; no longer happening when each of them was
// rebuilt and every rebuild held; not exercised otherwise (none ran, some
// of them did not, or only where nothing could be judged).
func variationsStatus(e *knownEntry) KnownStatus {
	s := KnownStatus{KnownDivergence: e.k, Covers: e.covers}
	var missing []string
	for _, v := range e.k.Variations {
		if !slices.Contains(e.held, v) {
			missing = append(missing, v)
		}
	}
	switch {
	case e.expired:
		s.State = KnownExpired
		switch {
		case len(e.covers) > 0:
			s.Note = "expired on " + day(e.k.Expires) + " and still happens: fix it or extend the expiry"
		case len(e.held) > 0 || len(e.unjudged) > 0:
			s.Note = "expired on " + day(e.k.Expires) + ": remove it or extend the expiry"
		default:
			s.Note = "expired on " + day(e.k.Expires) + " (none of its variations was rebuilt in this run): remove it or extend the expiry"
		}
	case len(e.covers) > 0:
		s.State, s.Note = KnownActive, "still happens: varying "+strings.Join(variedNames(e.covers), ", ")+" changes the digest"
	case len(missing) == 0 && len(e.unjudged) == 0:
		s.State = KnownNoLongerHappens
		s.Note = "no longer happens: its cells were rebuilt under " + strings.Join(e.k.Variations, ", ") + " and every rebuild held; remove it"
	case len(e.held) > 0 || len(e.unjudged) > 0:
		s.State = KnownNotExercised
		var parts []string
		if len(e.held) > 0 {
			parts = append(parts, strings.Join(e.held, ", ")+" held")
		}
		if len(missing) > 0 {
			parts = append(parts, strings.Join(missing, ", ")+" not rebuilt where it could be judged")
		}
		if n := len(e.unjudged); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s could not be judged (did not build, or a fixture that a self-check found not deterministic)",
				n, plural(n, "rebuild", "rebuilds")))
		}
		s.Note = strings.Join(parts, "; ") + ": cannot tell whether it still happens"
	default:
		s.State, s.Note = KnownNotExercised, "none of its variations was rebuilt in this run: cannot tell whether it still happens"
	}
	return s
}

// variedNames are the variations named by VariedName strings, each once, in
// order.
func variedNames(varied []string) []string {
	var out []string
	for _, n := range varied {
		_, v, ok := strings.Cut(n, " (varied: ")
		v = strings.TrimSuffix(v, ")")
		if ok && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

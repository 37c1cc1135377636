package matrix

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/mod/semver"

	"github.com/repro-matrix/repro-matrix/internal/cell"
)

// ErrUnresolvedLadder: Expand was asked for a profile that uses a BuildKit
// ladder before Matrix.ResolveLadders resolved it.
var ErrUnresolvedLadder = errors.New("BuildKit ladder not resolved")

// Ladder is a range of BuildKit releases, written in matrix.yaml's
// buildkits list as an entry of its own:
//
//	buildkits:
//	  - ladder: {from: v0.19.0, to: latest}
//
// It stands for one BuildKit per minor release from From to To, both
// included: the newest patch of each minor (v0.20.2 for v0.20), from the
// releases the Go module proxy serves for github.com/moby/buildkit (offline)
// or the registry's tags (online). Pre-releases (v0.27.0-rc1) are left out.
//
// Fields (both required):
//   - from: a release vX.Y.Z.
//   - to: a release vX.Y.Z, not before from, or "latest" (the newest
//     release).
//
// Each rung is a BuildKit named after its version ("v0.20.2"), with the
// image moby/buildkit:<version> and the offline recipe of the module at that
// version. A version the file lists as an entry of its own (the pinned
// v0.19.0, a candidate) is not repeated: that entry is the rung, and keeps
// its name and settings. "latest" is not a version and takes no rung.
//
// The caller resolves ladders before expanding cells, with
// Matrix.ResolveLadders and a Lister; until then the ladder is one
// placeholder entry (see BuildKit.Ladder), and Expand refuses a profile
// that uses it with ErrUnresolvedLadder.
type Ladder struct {
	From string `yaml:"from" json:"from"`
	To   string `yaml:"to" json:"to"`

	// Versions are the ladder's rungs, ascending, set by
	// Matrix.ResolveLadders: the versions it added and those of entries
	// of the file it did not repeat.
	Versions []string `yaml:"-" json:"versions,omitempty"`
}

// String is "v0.19.0..latest".
func (l *Ladder) String() string { return l.From + ".." + l.To }

// Lister answers every version of a Go module the Go module proxy serves,
// as its "<module>/@v/list" endpoint does (provision.Versions), or the tags
// of BuildKit's image repository online; order does not matter, and what
// is not a release vX.Y.Z is ignored. Tests supply a fake.
type Lister func(ctx context.Context, module string) (versions []string, err error)

// Ladders returns the ladders of m in the order of the file, resolved or
// not.
func (m *Matrix) Ladders() []*Ladder {
	var out []*Ladder
	for _, b := range m.BuildKits {
		switch {
		case b == nil:
		case b.Ladder != nil:
			out = append(out, b.Ladder)
		case b.Rung != nil && !slices.Contains(out, b.Rung):
			out = append(out, b.Rung)
		}
	}
	return out
}

// ResolveLadders asks list for the releases of BuildKit's module (once) and
// replaces each ladder entry of m.BuildKits with its rungs, ascending (see
// Ladder), recording them in Ladder.Versions. Entries of the file at a
// rung's version become that rung (BuildKit.Rung); so does a BuildKit that
// an earlier ladder added. A matrix without ladders, or whose ladders are
// resolved, is left as it is, without calling list.
//
// Errors, which leave m unchanged: list's, wrapped with the module; a
// ladder with no release between from and to among the versions listed
// (see LadderVersions); a rung whose name an entry of the file with
// another version has.
func (m *Matrix) ResolveLadders(ctx context.Context, list Lister) error {
	if !slices.ContainsFunc(m.BuildKits, func(b *BuildKit) bool { return b != nil && b.IsLadder() }) {
		return nil
	}
	listed, err := list(ctx, DefaultBuildKitModule)
	if err != nil {
		return fmt.Errorf("list the releases of %s: %w", DefaultBuildKitModule, err)
	}
	var out []*BuildKit
	var resolved []rungs
	for _, b := range m.BuildKits {
		if b == nil || !b.IsLadder() {
			out = append(out, b)
			continue
		}
		versions, err := LadderVersions(listed, b.Ladder.From, b.Ladder.To)
		if err != nil {
			return fmt.Errorf("buildkit ladder %s: %w", b.Ladder, err)
		}
		added, err := addedRungs(b.Ladder, versions, append(slices.Clone(out), m.BuildKits...))
		if err != nil {
			return fmt.Errorf("buildkit ladder %s: %w", b.Ladder, err)
		}
		out = append(out, added...)
		resolved = append(resolved, rungs{b.Ladder, versions})
	}
	m.BuildKits = out
	for _, r := range resolved {
		r.ladder.Versions = r.versions
		for _, b := range out {
			if b != nil && b.Rung == nil && slices.Contains(r.versions, b.Version) {
				b.Rung = r.ladder // an entry of the file at one of its versions
			}
		}
	}
	return nil
}

// rungs are the versions a ladder resolved to.
type rungs struct {
	ladder   *Ladder
	versions []string
}

// addedRungs are the BuildKits that ladder l adds for versions: one per
// version that none of entries carries.
func addedRungs(l *Ladder, versions []string, entries []*BuildKit) ([]*BuildKit, error) {
	var out []*BuildKit
	for _, v := range versions {
		if find(entries, func(b *BuildKit) bool { return !b.IsLadder() && b.Version == v }) != nil {
			continue // an entry of the file, or of an earlier ladder, is the rung
		}
		if other := find(entries, func(b *BuildKit) bool { return b.Name == v }); other != nil {
			return nil, fmt.Errorf("rung %s: the BuildKit named %s is version %s: rename it", v, v, other.Version)
		}
		out = append(out, &BuildKit{
			Name: v, Version: v, Image: DefaultBuildKitRepository + ":" + v, RootlessImage: DefaultBuildKitRepository + ":" + rootlessTag(v),
			Offline: &BuildKitRecipe{Module: DefaultBuildKitModule, Version: v},
			Rung:    l, added: true,
		})
	}
	return out, nil
}

// LadderVersions picks a ladder's rungs from versions, a module's versions
// in any order: the releases vX.Y.Z (no pre-release, no build suffix, in
// canonical form) from from to to, both included, and of those the newest
// of each minor release, ascending. to "latest" is the newest release
// listed. from must be a release; to a release not before from, or latest.
//
// Errors: from or to not a release, to before from, or no release in the
// range (the error says how many versions were listed and the newest).
func LadderVersions(versions []string, from, to string) ([]string, error) {
	if err := checkLadderBounds(from, to); err != nil {
		return nil, err
	}
	releases := releasesOf(versions)
	if to == Latest && len(releases) > 0 {
		to = releases[len(releases)-1]
	}
	newest := map[string]string{} // minor -> newest patch in range
	for _, v := range releases {
		if semver.Compare(v, from) >= 0 && semver.Compare(v, to) <= 0 {
			newest[semver.MajorMinor(v)] = v // releases are ascending
		}
	}
	var out []string
	for _, v := range newest {
		out = append(out, v)
	}
	semver.Sort(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("no release from %s to %s among the %d versions listed%s", from, to, len(versions), newestNote(releases))
	}
	return out, nil
}

// checkLadderBounds checks from and to (see LadderVersions).
func checkLadderBounds(from, to string) error {
	switch {
	case !isRelease(from):
		return fmt.Errorf("from %q: want a release vX.Y.Z such as v0.19.0", from)
	case to != Latest && !isRelease(to):
		return fmt.Errorf("to %q: want a release vX.Y.Z such as v0.34.2, or latest", to)
	case to != Latest && semver.Compare(from, to) > 0:
		return fmt.Errorf("to %s is before from %s", to, from)
	}
	return nil
}

// isRelease reports whether v is a release vX.Y.Z: no pre-release, no
// build suffix, canonical.
func isRelease(v string) bool {
	return semver.IsValid(v) && semver.Canonical(v) == v && semver.Prerelease(v) == ""
}

// releasesOf are the releases among versions, ascending, each once.
func releasesOf(versions []string) []string {
	var out []string
	for _, v := range versions {
		if v = strings.TrimSpace(v); isRelease(v) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	semver.Sort(out)
	return out
}

func newestNote(releases []string) string {
	if len(releases) == 0 {
		return " (none is a release vX.Y.Z)"
	}
	return " (the newest is " + releases[len(releases)-1] + ")"
}

// checkLadder checks a ladder entry at field f: from and to, and that it
// sets nothing else.
func checkLadder(p *problems, f string, b *BuildKit) {
	l := b.Ladder
	switch {
	case l.From == "":
		p.add(f+".ladder.from", "required: the oldest release of the ladder, vX.Y.Z")
	case !isRelease(l.From):
		p.add(f+".ladder.from", "%q: want a release vX.Y.Z such as v0.19.0", l.From)
	}
	switch {
	case l.To == "":
		p.add(f+".ladder.to", "required: the newest release of the ladder, vX.Y.Z, or latest")
	case l.To != Latest && !isRelease(l.To):
		p.add(f+".ladder.to", "%q: want a release vX.Y.Z such as v0.34.2, or latest", l.To)
	case l.To != Latest && isRelease(l.From) && semver.Compare(l.From, l.To) > 0:
		p.add(f+".ladder.to", "%s is before from %s: a ladder goes from the older release to the newer", l.To, l.From)
	}
	others := map[string]bool{"version": b.Version != "", "name": b.Name != "" && b.Name != "ladder("+l.String()+")",
		"image": b.Image != "", "rootlessImage": b.RootlessImage != "", "pinned": b.Pinned, "candidate": b.Candidate, "offline": b.Offline != nil}
	for _, key := range []string{"version", "name", "image", "rootlessImage", "pinned", "candidate", "offline"} {
		if others[key] {
			p.add(f+"."+key, "a ladder entry sets only ladder: {from, to}; each rung is named after its version and built from moby/buildkit's module and image")
		}
	}
}

// selectBuildKits is the BuildKits profile p selects (see Profile): an
// omitted list takes the entries of the file, not the ladders, whose rungs
// "@ladder" selects.
func (m *Matrix) selectBuildKits(p *Profile) (map[*BuildKit]bool, []selError) {
	selected, errs := selectEntries(m.BuildKits, p.BuildKits, "BuildKit", func(x *BuildKit) []string { return []string{x.Name} },
		map[string]func(*BuildKit) bool{
			SelectPinned:    func(x *BuildKit) bool { return x.Pinned },
			SelectCandidate: func(x *BuildKit) bool { return x.Candidate },
			SelectLadder:    func(x *BuildKit) bool { return x.IsLadder() || x.Rung != nil },
		})
	if len(p.BuildKits) == 0 {
		for b := range selected {
			if b.IsLadder() || b.added {
				delete(selected, b)
			}
		}
	}
	return selected, errs
}

// versionGlobRE is what the start of a glob that may name a release looks
// like: "v0.3" in "v0.3*".
var versionGlobRE = regexp.MustCompile(`^(v[0-9.]*)?$`)

// mayNameRung reports whether the BuildKit name or glob g could name a rung
// of a ladder not resolved yet: a release in its range, or a glob that
// could match one ("v0.3*", "*").
func (m *Matrix) mayNameRung(g string) bool {
	literal, isGlob := g, false
	if i := strings.IndexAny(g, `*?[\`); i >= 0 {
		literal, isGlob = g[:i], true
	}
	for _, b := range m.BuildKits {
		if b == nil || !b.IsLadder() {
			continue
		}
		if isGlob && versionGlobRE.MatchString(literal) || !isGlob && isRelease(g) && ladderMayHold(b.Ladder, g) {
			return true
		}
	}
	return false
}

// ladderMayHold reports whether release v lies between l's from and to.
func ladderMayHold(l *Ladder, v string) bool {
	return isRelease(l.From) && semver.Compare(v, l.From) >= 0 && (l.To == Latest || semver.Compare(v, l.To) <= 0)
}

// unresolvedLadder is ErrUnresolvedLadder, naming the ladder, when cells
// hold a ladder not resolved yet or a BuildKit name of errs may name one of
// its rungs; nil otherwise.
func unresolvedLadder(cells []Cell, errs []selError) error {
	for _, c := range cells {
		if c.BuildKit.IsLadder() {
			return fmt.Errorf("%w: it uses the ladder %s; call Matrix.ResolveLadders before Expand", ErrUnresolvedLadder, c.BuildKit.Ladder)
		}
	}
	for _, e := range errs {
		if e.ladder {
			return fmt.Errorf("%w: %s[%d] %q may name one of its rungs; call Matrix.ResolveLadders before Expand", ErrUnresolvedLadder, e.list, e.index, e.glob)
		}
	}
	return nil
}

// rangeMayMatch reports whether some BuildKit of m may have a version in r:
// an entry's version; for a ladder not resolved yet, any version from its
// from to its to; for latest not resolved yet, any version from the newest
// one the file declares on. A ladder whose bounds are not releases (a
// problem reported at the ladder) may match anything.
func (m *Matrix) rangeMayMatch(r cell.VersionRange) bool {
	newest := m.newestDeclared()
	for _, b := range m.BuildKits {
		switch {
		case b == nil:
		case b.IsLadder():
			top := b.Ladder.To
			if top == Latest {
				top = "" // open above
			}
			if checkLadderBounds(b.Ladder.From, b.Ladder.To) != nil || r.Overlaps(b.Ladder.From, top) {
				return true
			}
		case b.IsLatest() && b.Resolved == "":
			if r.Overlaps(newest, "") {
				return true
			}
		case r.Contains(b.EffectiveVersion()):
			return true
		}
	}
	return false
}

// newestDeclared is the newest release that an entry or ladder of m names
// ("" when none does): what an unresolved latest is at least.
func (m *Matrix) newestDeclared() string {
	var vs []string
	for _, b := range m.BuildKits {
		switch {
		case b == nil:
		case b.IsLadder():
			vs = append(vs, b.Ladder.From, b.Ladder.To)
		default:
			vs = append(vs, b.EffectiveVersion())
		}
	}
	if vs = releasesOf(vs); len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// versionSpace describes the BuildKit versions of m for an error message:
// "v0.19.0, v0.26.3, latest (not resolved: v0.26.3 or newer), ladder
// v0.19.0..latest (not resolved)".
func (m *Matrix) versionSpace() string {
	var parts []string
	for _, b := range m.BuildKits {
		switch {
		case b == nil:
		case b.IsLadder():
			parts = append(parts, "ladder "+b.Ladder.String()+" (not resolved)")
		case b.IsLatest() && b.Resolved == "":
			parts = append(parts, fmt.Sprintf("latest (not resolved: %s or newer)", cmp.Or(m.newestDeclared(), "any release")))
		default:
			parts = append(parts, b.EffectiveVersion())
		}
	}
	return strings.Join(parts, ", ")
}

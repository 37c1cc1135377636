package matrix

import (
	"fmt"
	"maps"
	"math"
	"path"
	"slices"
	"strings"

	"golang.org/x/mod/semver"

	"github.com/repro-matrix/repro-matrix/internal/cell"
)

// Cell is one build of the matrix. Its entries point into the Matrix it was
// expanded from.
type Cell struct {
	Fixture  *Fixture
	Platform string // "linux/amd64"
	Engine   *Engine
	BuildKit *BuildKit
	Exporter *Exporter
	// Vary are the variations the cell is checked under when it is the one
	// its group rebuilds (Variations): the union of its profile's vary and
	// its fixture's, each once, in the canonical order of Variations; nil
	// when neither lists any. Matrix.Cell, which knows no profile, gives the
	// fixture's. They change neither the cell's name nor its group.
	Vary []string
}

// Coords are the cell's coordinates as its name spells them: the names of
// its entries and its platform's slug (see cell.Coords), with the concrete
// version of its BuildKit when it is known (BuildKit.EffectiveVersion: not
// for latest before Matrix.ResolveLatest).
func (c Cell) Coords() cell.Coords {
	version := c.BuildKit.EffectiveVersion()
	if !semver.IsValid(version) {
		version = ""
	}
	return cell.Coords{Fixture: c.Fixture.Name, Platform: cell.Slug(c.Platform), Engine: c.Engine.Name,
		BuildKit: c.BuildKit.Name, Exporter: c.Exporter.Name, BuildKitVersion: version}
}

// Name is the cell's spec name (cell.Coords.Name):
// "fixture=scratch-copy/platform=linux-amd64/engine=docker-26.1.5/buildkit=v0.19.0/exporter=docker".
func (c Cell) Name() string { return c.Coords().Name() }

// Group is the key of the cells that must agree on one digest (cell.Coords.Group):
// "fixture=x/platform=linux-amd64/exporter=docker".
func (c Cell) Group() string { return c.Coords().Group() }

// GoldenKey is the cell's key in its fixture's golden.yaml: "linux/amd64/docker".
func (c Cell) GoldenKey() string { return c.Coords().GoldenKey() }

// Labels are the cell's Ginkgo labels, one per axis plus the engine's kind
// (cell.Coords.Labels): "fixture:x", ..., "kind:docker".
func (c Cell) Labels() []string { return c.Coords().Labels(string(c.Engine.Kind)) }

func (c Cell) String() string { return c.Name() }

// Pinned reports whether the cell runs the pinned BuildKit's image, the one
// golden digests are recorded from and a group is held to: the pinned
// BuildKit under a rootful engine. A rootless engine runs the release's
// rootless variant, another image (moby/buildkit:vX-rootless), which is
// held to the golden digest like any other BuildKit and, like them, may
// be excused by a known divergence (moby/buildkit#6686).
func (c Cell) Pinned() bool { return c.BuildKit.Pinned && !c.Engine.Rootless }

// matches reports whether p matches c. An engine taken as found also
// matches by the name "<kind>-found" it had before Matrix.ResolveFound
// renamed it.
func matches(p cell.Pattern, c Cell) bool {
	coords := c.Coords()
	if p.Matches(coords) {
		return true
	}
	if c.Engine.unresolved == "" || c.Engine.unresolved == c.Engine.Name {
		return false
	}
	coords.Engine = c.Engine.unresolved
	return p.Matches(coords)
}

// Expand returns the cells of the named profile (see Profile) in a
// deterministic order: fixtures, each fixture's platforms, engines,
// BuildKits and exporters, each in the order of the file (a resolved
// ladder's rungs where the ladder was). An unknown profile is an error
// that lists the known ones (ErrUnknownProfile); a profile without cells is
// an error too (ErrEmptyExpansion), and so is a profile that uses a ladder
// not resolved yet (ErrUnresolvedLadder; see Matrix.ResolveLadders).
func (m *Matrix) Expand(profile string) ([]Cell, error) {
	p, ok := m.Profiles[profile]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownProfile, profile, strings.Join(m.ProfileNames(), ", "))
	}
	cells, errs := m.expand(p)
	if err := unresolvedLadder(cells, errs); err != nil {
		return nil, fmt.Errorf("profile %q: %w", profile, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("profile %q: %s", profile, errs[0].msg)
	}
	if len(cells) == 0 {
		return nil, fmt.Errorf("profile %q %w", profile, ErrEmptyExpansion)
	}
	return cells, nil
}

// cellChecks is how many cells expanding every profile checks (see
// Limits.Cells), capped at math.MaxInt64.
func (m *Matrix) cellChecks() int64 {
	var platforms int64
	for _, f := range m.Fixtures {
		if f != nil {
			platforms += int64(len(f.Platforms))
		}
	}
	cells := platforms
	for _, n := range []int64{nonNil(m.Engines), nonNil(m.BuildKits), nonNil(m.Exporters)} {
		cells = mulCapped(cells, n)
	}
	var checks int64
	for _, p := range m.Profiles {
		passes := int64(1)
		if p != nil {
			passes += int64(len(p.Include) + len(p.Exclude))
		}
		checks = addCapped(checks, mulCapped(cells, passes))
	}
	return checks
}

func nonNil[T any](list []*T) int64 {
	n := int64(0)
	for _, x := range list {
		if x != nil {
			n++
		}
	}
	return n
}

func mulCapped(a, b int64) int64 {
	if a != 0 && b > math.MaxInt64/a {
		return math.MaxInt64
	}
	return a * b
}

func addCapped(a, b int64) int64 {
	if b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}

// ProfileNames lists the profiles, sorted.
func (m *Matrix) ProfileNames() []string { return slices.Sorted(maps.Keys(m.Profiles)) }

// selError is a problem with one entry of a profile list.
type selError struct {
	list    string // "engines", "include", ...
	index   int
	msg     string
	noMatch bool   // a name or glob that selects no entry
	glob    string // the name or glob, when noMatch
	// ladder: a BuildKit name or glob that selects nothing but may name a
	// rung of a ladder not resolved yet (see Matrix.mayNameRung).
	ladder bool
}

// expand computes a profile's cells and the problems of its lists.
func (m *Matrix) expand(p *Profile) ([]Cell, []selError) {
	var errs []selError
	collect := func(list string, e []selError) {
		for _, x := range e {
			if x.noMatch && m.incomplete[listAxis[list]] {
				continue // the entry it names may be one with a problem
			}
			x.ladder = x.noMatch && list == "buildkits" && m.mayNameRung(x.glob)
			x.list = list
			errs = append(errs, x)
		}
	}
	engines, e := selectEntries(m.Engines, p.Engines, "engine", (*Engine).names,
		map[string]func(*Engine) bool{
			SelectHost:      func(x *Engine) bool { return x.Where == Host },
			SelectFound:     func(x *Engine) bool { return x.Where == Host && x.AsFound },
			SelectContainer: func(x *Engine) bool { return x.Where == Container },
		})
	collect("engines", e)
	buildkits, e := m.selectBuildKits(p)
	collect("buildkits", e)
	fixtures, e := selectEntries(m.Fixtures, p.Fixtures, "fixture", func(x *Fixture) []string { return []string{x.Name} }, nil)
	collect("fixtures", e)
	exporters, e := selectEntries(m.Exporters, p.Exporters, "exporter", func(x *Exporter) []string { return []string{x.Name} }, nil)
	collect("exporters", e)

	known := m.platforms()
	for i, pl := range p.Platforms {
		if _, err := cell.ParsePlatforms(pl); err != nil {
			errs = append(errs, selError{list: "platforms", index: i, msg: err.Error()})
		} else if !slices.Contains(known, pl) && !m.incomplete[cell.Platform] {
			errs = append(errs, selError{list: "platforms", index: i, msg: fmt.Sprintf("no fixture is built for %s (fixtures' platforms: %s)", pl, strings.Join(known, ", "))})
		}
	}
	parse := func(list string, raw []string) []cell.Pattern {
		var out []cell.Pattern
		for i, s := range raw {
			pat, err := m.parseKnownPattern(s)
			if err != nil {
				errs = append(errs, selError{list: list, index: i, msg: err.Error()})
				continue
			}
			out = append(out, pat)
		}
		return out
	}
	include, exclude := parse("include", p.Include), parse("exclude", p.Exclude)

	var cells []Cell
	named := map[string]bool{}
	for _, f := range m.Fixtures {
		if f == nil {
			continue
		}
		for _, pl := range f.Platforms {
			for _, en := range m.Engines {
				for _, bk := range m.BuildKits {
					for _, ex := range m.Exporters {
						if en == nil || bk == nil || ex == nil {
							continue
						}
						c := Cell{Fixture: f, Platform: pl, Engine: en, BuildKit: bk, Exporter: ex}
						if !Buildable(c) {
							continue
						}
						in := fixtures[f] && engines[en] && buildkits[bk] && exporters[ex] &&
							(len(p.Platforms) == 0 || slices.Contains(p.Platforms, pl))
						if !in && !matchesAny(include, c) || matchesAny(exclude, c) || named[c.Name()] {
							continue // a found engine that is a declared one (ResolveFound) builds its cells once
						}
						named[c.Name()] = true
						if !f.Git {
							c.Vary = cellVary(c, p.Vary, f.Vary)
						}
						cells = append(cells, c)
					}
				}
			}
		}
	}
	return cells, errs
}

// listAxis is the axis each profile list selects on.
var listAxis = map[string]cell.Axis{"engines": cell.Engine, "buildkits": cell.BuildKit, "fixtures": cell.Fixture, "exporters": cell.Exporter}

func matchesAny(patterns []cell.Pattern, c Cell) bool {
	return slices.ContainsFunc(patterns, func(p cell.Pattern) bool { return matches(p, c) })
}

// selectEntries resolves a profile list (names, globs, role selectors) into
// the set of entries it selects; an entry is selected when a glob matches
// one of its names. An empty list selects all.
func selectEntries[T comparable](entries []T, list []string, noun string, name func(T) []string, roles map[string]func(T) bool) (map[T]bool, []selError) {
	var zero T
	selected := map[T]bool{}
	if len(list) == 0 {
		for _, x := range entries {
			if x != zero {
				selected[x] = true
			}
		}
		return selected, nil
	}
	var errs []selError
	var names []string
	seen := map[string]bool{}
	for _, x := range entries {
		if x != zero && !seen[name(x)[0]] {
			names = append(names, name(x)[0])
			seen[name(x)[0]] = true
		}
	}
	for i, s := range list {
		if strings.HasPrefix(s, "@") {
			role, ok := roles[s]
			if !ok {
				errs = append(errs, selError{index: i, msg: fmt.Sprintf("unknown selector %q (known: %s)", s, strings.Join(slices.Sorted(maps.Keys(roles)), ", "))})
				continue
			}
			for _, x := range entries {
				if x != zero && role(x) {
					selected[x] = true
				}
			}
			continue
		}
		if _, err := path.Match(s, ""); err != nil {
			errs = append(errs, selError{index: i, msg: fmt.Sprintf("bad glob %q: %v", s, err)})
			continue
		}
		found := false
		for _, x := range entries {
			if x == zero {
				continue
			}
			if slices.ContainsFunc(name(x), func(n string) bool { ok, _ := path.Match(s, n); return ok }) {
				selected[x] = true
				found = true
			}
		}
		if !found {
			errs = append(errs, selError{index: i, msg: fmt.Sprintf("%q matches no %s (known: %s)", s, noun, strings.Join(names, ", ")), noMatch: true, glob: s})
		}
	}
	return selected, errs
}

// Buildable reports whether c can be built at all, so that expansions
// leave it out rather than fail it:
//   - a platform set needs an image index, which BuildKit's docker exporter
//     does not write ("docker exporter does not currently support exporting
//     manifest lists", exporter/oci in moby/buildkit);
//   - a git context is served on the host's 127.0.0.1, which BuildKit under
//     Docker in a container (a network namespace of its own) cannot reach.
func Buildable(c Cell) bool {
	if cell.IsSet(c.Platform) && c.Exporter.Type == DockerExporter {
		return false
	}
	return !c.Fixture.Git || c.Engine.Kind != Docker || c.Engine.Where != Container
}

// platforms lists every fixture platform once, in order of appearance.
func (m *Matrix) platforms() []string {
	var out []string
	for _, f := range m.Fixtures {
		if f == nil {
			continue
		}
		for _, p := range f.Platforms {
			if _, err := cell.ParsePlatforms(p); err == nil && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// axisValues lists the values the matrix has on axis a, as in cell names.
func (m *Matrix) axisValues(a cell.Axis) []string {
	var out []string
	switch a {
	case cell.Fixture:
		for _, f := range m.Fixtures {
			if f != nil {
				out = append(out, f.Name)
			}
		}
	case cell.Platform:
		for _, p := range m.platforms() {
			out = append(out, cell.Slug(p))
		}
	case cell.Engine:
		for _, e := range m.Engines {
			if e != nil {
				out = append(out, e.names()...)
			}
		}
	case cell.BuildKit:
		for _, b := range m.BuildKits {
			if b != nil {
				out = append(out, b.Name)
			}
		}
	case cell.Exporter:
		for _, e := range m.Exporters {
			if e != nil {
				out = append(out, e.Name)
			}
		}
	}
	return out
}

// parseKnownPattern parses s and checks that each of its globs matches some
// value of its axis, so that a typo is an error rather than a rule that
// never applies. An engine glob that could name some version of an engine
// taken as found ("docker-28.*") counts as matching: what the host runs is
// known only at run time.
func (m *Matrix) parseKnownPattern(s string) (cell.Pattern, error) {
	pat, err := cell.ParsePattern(s)
	if err != nil {
		return pat, err
	}
	for _, a := range cell.Axes {
		g, ok := pat.Glob(a)
		if !ok {
			continue
		}
		if m.incomplete[a] {
			continue // the value it names may be an entry with a problem
		}
		values := m.axisValues(a)
		if !slices.ContainsFunc(values, func(v string) bool { return pat.MatchesValue(a, v) }) &&
			(a != cell.Engine || !m.mayNameFound(g)) && (a != cell.BuildKit || !m.mayNameRung(g)) {
			return pat, fmt.Errorf("%s=%s matches no %s (known: %s)", a, g, a, strings.Join(values, ", "))
		}
	}
	if r, ok := pat.Range(); ok && !m.incomplete[cell.BuildKit] && !m.rangeMayMatch(r) {
		return pat, fmt.Errorf("buildkit range %s matches no BuildKit version of the matrix (versions: %s)", r, m.versionSpace())
	}
	return pat, nil
}

// KnownDivergence returns the first known divergence that matches c and
// covers its digest, or nil. Entries with variations are left out: they
// cover rebuilds of c under those variations, never c's digest.
func (m *Matrix) KnownDivergence(c Cell) *KnownDivergence {
	for _, k := range m.KnownDivergences {
		if k != nil && len(k.Variations) == 0 && k.Matches(c) {
			return k
		}
	}
	return nil
}

// Cell finds the cell with the given name (as Cell.Name prints it) in the
// whole matrix, whatever the profile; its Vary is its fixture's.
func (m *Matrix) Cell(name string) (Cell, error) {
	want, err := cell.ParseKey(name)
	if err != nil {
		return Cell{}, fmt.Errorf("%w %q: %v", ErrUnknownCell, name, err)
	}
	for _, a := range cell.Axes {
		if want.Value(a) == "" {
			return Cell{}, fmt.Errorf("%w %q: no %s", ErrUnknownCell, name, a)
		}
	}
	for _, f := range m.Fixtures {
		for _, pl := range f.Platforms {
			for _, en := range m.Engines {
				for _, bk := range m.BuildKits {
					for _, ex := range m.Exporters {
						if f == nil || en == nil || bk == nil || ex == nil {
							continue
						}
						c := Cell{Fixture: f, Platform: pl, Engine: en, BuildKit: bk, Exporter: ex}
						if c.Name() == want.Name() && Buildable(c) {
							if !f.Git {
								c.Vary = cellVary(c, f.Vary)
							}
							return c, nil
						}
					}
				}
			}
		}
	}
	return Cell{}, fmt.Errorf("%w %q", ErrUnknownCell, name)
}

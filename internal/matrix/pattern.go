package matrix

import (
	"fmt"
	"path"
	"strings"
)

// Pattern selects cells: a "/"-separated list of axis=glob, for example
// "engine=podman-*/exporter=oci". Axes are those of Axes, each at most once,
// in any order; a missing axis matches everything. Globs are path.Match
// patterns over the values in cell names, where a platform is "linux-arm64";
// "platform=linux/arm64" is accepted too and means the same.
type Pattern struct {
	raw   string
	globs map[Axis]string
}

// ParsePattern parses and checks s: known axes, each once, non-empty and
// well-formed globs.
func ParsePattern(s string) (Pattern, error) {
	p := Pattern{raw: s, globs: map[Axis]string{}}
	if strings.TrimSpace(s) == "" {
		return p, fmt.Errorf("empty cell pattern: want axis=glob[/axis=glob...]")
	}
	var last Axis
	for _, part := range strings.Split(s, "/") {
		name, glob, ok := strings.Cut(part, "=")
		if !ok {
			// "platform=linux/amd64": the platform's own slashes.
			if last == AxisPlatform && part != "" {
				p.globs[last] += "-" + part
				continue
			}
			return p, fmt.Errorf("cell pattern %q: %q is not axis=glob", s, part)
		}
		a := Axis(name)
		if !isAxis(a) {
			return p, fmt.Errorf("cell pattern %q: unknown axis %q (known: %s)", s, name, axisList())
		}
		if _, dup := p.globs[a]; dup {
			return p, fmt.Errorf("cell pattern %q: axis %s given twice", s, a)
		}
		if glob == "" {
			return p, fmt.Errorf("cell pattern %q: empty glob for %s", s, a)
		}
		p.globs[a] = glob
		last = a
	}
	for a, glob := range p.globs {
		if _, err := path.Match(glob, ""); err != nil {
			return p, fmt.Errorf("cell pattern %q: bad glob %q for %s: %v", s, glob, a, err)
		}
	}
	return p, nil
}

// Matches reports whether every glob of p matches c's value on its axis.
// An engine taken as found also matches by the name "<kind>-found" it had
// before Matrix.ResolveFound renamed it.
func (p Pattern) Matches(c Cell) bool {
	if p.match(c.Value) {
		return true
	}
	if c.Engine == nil || len(c.Engine.names()) < 2 {
		return false
	}
	return p.match(func(a Axis) string {
		if a == AxisEngine {
			return c.Engine.unresolved
		}
		return c.Value(a)
	})
}

// MatchValues is Matches for a cell given by its axis values, as a report
// holds them; a platform may be given as "linux/amd64" or "linux-amd64".
func (p Pattern) MatchValues(values map[Axis]string) bool {
	return p.match(func(a Axis) string {
		if a == AxisPlatform {
			return PlatformSlug(values[a])
		}
		return values[a]
	})
}

func (p Pattern) match(value func(Axis) string) bool {
	for a, g := range p.globs {
		if ok, _ := path.Match(g, value(a)); !ok {
			return false
		}
	}
	return true
}

// Glob returns p's glob for axis a, if p has one.
func (p Pattern) Glob(a Axis) (string, bool) {
	g, ok := p.globs[a]
	return g, ok
}

// String is the pattern as written.
func (p Pattern) String() string { return p.raw }

func isAxis(a Axis) bool {
	for _, x := range Axes {
		if x == a {
			return true
		}
	}
	return false
}

func axisList() string {
	names := make([]string, len(Axes))
	for i, a := range Axes {
		names[i] = string(a)
	}
	return strings.Join(names, ", ")
}

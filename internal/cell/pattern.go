package cell

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// Pattern selects cells: a "/"-separated list of axis=glob, for example
// "engine=podman-*/exporter=oci". Axes are those of Axes, each at most
// once, in any order; a missing axis matches everything. Globs are
// path.Match patterns over the values in cell names. A platform may be
// written in either spelling ("platform=linux/arm64" is
// "platform=linux-arm64") and matches every spelling of the same platform
// as containerd normalizes it: linux/arm64 is linux/arm64/v8, linux/arm is
// linux/arm/v7.
//
// matrix.yaml's profiles (include, exclude) and known divergences are
// patterns; so are the cells of a known divergence in results.json.
type Pattern struct {
	raw   string
	globs map[Axis]string // the platform's as a slug
}

// ParsePattern parses and checks s: known axes, each once, non-empty and
// well-formed globs. The error names s and what is wrong in it.
func ParsePattern(s string) (Pattern, error) {
	globs, err := split("cell pattern", s)
	if err != nil {
		return Pattern{}, err
	}
	if g, ok := globs[Platform]; ok {
		globs[Platform] = Slug(g)
	}
	for _, a := range Axes {
		if g, ok := globs[a]; ok {
			if _, err := path.Match(g, ""); err != nil {
				return Pattern{}, fmt.Errorf("cell pattern %q: bad glob %q for %s: %v", s, g, a, err)
			}
		}
	}
	return Pattern{raw: s, globs: globs}, nil
}

// Matches reports whether every glob of p matches c's value on its axis.
func (p Pattern) Matches(c Coords) bool {
	for a, g := range p.globs {
		if !matchValue(a, g, c.Value(a)) {
			return false
		}
	}
	return true
}

// MatchesValue reports whether p's glob for axis a matches value, a value
// on that axis as cell names spell it; true when p has no glob for a.
func (p Pattern) MatchesValue(a Axis, value string) bool {
	g, ok := p.globs[a]
	return !ok || matchValue(a, g, value)
}

// Glob returns p's glob for axis a, if p has one; a platform's as a slug.
func (p Pattern) Glob(a Axis) (string, bool) {
	g, ok := p.globs[a]
	return g, ok
}

// String is the pattern as written.
func (p Pattern) String() string { return p.raw }

// matchValue matches glob g against value v of axis a; a platform also
// matches in its normalized spelling.
func matchValue(a Axis, g, v string) bool {
	if ok, _ := path.Match(g, v); ok {
		return true
	}
	if a != Platform {
		return false
	}
	norm := normalSlug(v)
	if norm == "" {
		return false
	}
	ok, _ := path.Match(g, norm)
	return ok || normalSlug(g) == norm
}

// split reads "axis=value/axis=value..." into its values; what names the
// kind of text in errors. A part without "=" after the platform continues
// it: "platform=linux/arm/v7" is the platform "linux/arm/v7".
func split(what, s string) (map[Axis]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty %s: want axis=glob[/axis=glob...]", what)
	}
	values := map[Axis]string{}
	var last Axis
	for _, part := range strings.Split(s, "/") {
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			if last == Platform && part != "" {
				values[last] += "/" + part
				continue
			}
			return nil, fmt.Errorf("%s %q: %q is not axis=glob", what, s, part)
		}
		a := Axis(name)
		switch {
		case !slices.Contains(Axes, a):
			return nil, fmt.Errorf("%s %q: unknown axis %q (known: %s)", what, s, name, axisList())
		case values[a] != "":
			return nil, fmt.Errorf("%s %q: axis %s given twice", what, s, a)
		case value == "":
			return nil, fmt.Errorf("%s %q: empty glob for %s", what, s, a)
		}
		values[a] = value
		last = a
	}
	return values, nil
}

func axisList() string {
	names := make([]string, len(Axes))
	for i, a := range Axes {
		names[i] = string(a)
	}
	return strings.Join(names, ", ")
}

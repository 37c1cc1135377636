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
// The BuildKit axis may be given a version range instead of a glob: a lower
// bound "buildkit>=v0.31.0" (or ">"), an upper bound "buildkit<v0.34.0" (or
// "<="), or both as two parts, "buildkit>v0.19.0/buildkit<v0.31.0". A range
// matches a cell whose BuildKit's concrete version (Coords.BuildKitVersion,
// else its name when that is a version) lies in it (see VersionRange); a
// BuildKit whose version is not known, such as an unresolved "latest",
// lies in no range. Bounds are versions vX.Y.Z (a pre-release such as
// v0.31.0-rc1 is allowed); a glob and a range for buildkit together are an
// error, as is a range that holds no version.
//
// matrix.yaml's profiles (include, exclude) and known divergences are
// patterns; so are the cells of a known divergence in results.json.
type Pattern struct {
	raw      string
	globs    map[Axis]string // the platform's as a slug
	versions *VersionRange   // the buildkit range, if any
}

// ParsePattern parses and checks s: known axes, each once, non-empty and
// well-formed globs, a well-formed BuildKit range. The error names s and
// what is wrong in it.
func ParsePattern(s string) (Pattern, error) {
	rest, versions, err := splitRange(s)
	if err != nil {
		return Pattern{}, err
	}
	globs := map[Axis]string{}
	if rest != "" || versions == nil {
		if globs, err = split("cell pattern", rest); err != nil {
			return Pattern{}, fmt.Errorf("%w%s", err, inPattern(s, rest))
		}
	}
	if _, ok := globs[BuildKit]; ok && versions != nil {
		return Pattern{}, fmt.Errorf("cell pattern %q: buildkit has a glob and a version range: give one", s)
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
	return Pattern{raw: s, globs: globs, versions: versions}, nil
}

// splitRange takes the BuildKit range parts ("buildkit>=v0.31.0") out of
// the pattern s; rest is s without them.
func splitRange(s string) (rest string, versions *VersionRange, err error) {
	var kept []string
	for _, part := range strings.Split(s, "/") {
		m := rangePartRE.FindStringSubmatch(part)
		if m == nil {
			kept = append(kept, part)
			continue
		}
		if versions == nil {
			versions = &VersionRange{}
		}
		if err := versions.addBound(fmt.Sprintf("cell pattern %q", s), m[1], m[2], m[3]); err != nil {
			return "", nil, err
		}
	}
	return strings.Join(kept, "/"), versions, nil
}

// inPattern names the whole pattern s in an error about its part rest,
// when the range parts were taken out of it.
func inPattern(s, rest string) string {
	if s == rest {
		return ""
	}
	return fmt.Sprintf(" (in %q)", s)
}

// Matches reports whether every glob of p matches c's value on its axis,
// and c's BuildKit version lies in p's range, if p has one.
func (p Pattern) Matches(c Coords) bool {
	for a, g := range p.globs {
		if !matchValue(a, g, c.Value(a)) {
			return false
		}
	}
	return p.versions == nil || p.versions.Contains(c.Version())
}

// Range returns p's BuildKit version range, if p has one.
func (p Pattern) Range() (VersionRange, bool) {
	if p.versions == nil {
		return VersionRange{}, false
	}
	return *p.versions, true
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

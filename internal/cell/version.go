package cell

import (
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/mod/semver"
)

// VersionRange is a range of BuildKit versions, the bounds of a pattern's
// "buildkit>=v0.31.0" and "buildkit<v0.34.0" parts (see Pattern). A missing
// bound is open; versions compare as semantic versions
// (golang.org/x/mod/semver), so v0.31.0-rc1 < v0.31.0 < v0.31.1.
type VersionRange struct {
	Lower, Upper string // "vX.Y.Z[-pre]" or "" (open)
	// LowerIncl and UpperIncl say whether a bound belongs to the range
	// (>= and <=) or not (> and <).
	LowerIncl, UpperIncl bool
}

// rangePartRE is one bound of a range part: "buildkit>=v0.31.0".
var rangePartRE = regexp.MustCompile(`^([a-z]+)(>=|<=|>|<)(.*)$`)

// Contains reports whether version v lies in r; v must be a semantic
// version (a name such as "latest" lies in no range).
func (r VersionRange) Contains(v string) bool {
	if !semver.IsValid(v) {
		return false
	}
	return r.aboveLower(v) && r.belowUpper(v)
}

func (r VersionRange) aboveLower(v string) bool {
	if r.Lower == "" {
		return true
	}
	c := semver.Compare(v, r.Lower)
	return c > 0 || c == 0 && r.LowerIncl
}

func (r VersionRange) belowUpper(v string) bool {
	if r.Upper == "" {
		return true
	}
	c := semver.Compare(v, r.Upper)
	return c < 0 || c == 0 && r.UpperIncl
}

// Empty reports whether no version lies in r: its lower bound is above its
// upper one, or equal to it and not in both.
func (r VersionRange) Empty() bool {
	if r.Lower == "" || r.Upper == "" {
		return false
	}
	c := semver.Compare(r.Lower, r.Upper)
	return c > 0 || c == 0 && !(r.LowerIncl && r.UpperIncl)
}

// Overlaps reports whether r shares a version with the interval from lo to
// hi, both included; lo "" is open below, hi "" open above (every version
// from lo on).
func (r VersionRange) Overlaps(lo, hi string) bool {
	return !r.Empty() && (lo == "" || r.belowUpper(lo)) && (hi == "" || r.aboveLower(hi))
}

// String is r as a pattern writes it: "buildkit>=v0.31.0/buildkit<v0.34.0".
func (r VersionRange) String() string {
	var parts []string
	if r.Lower != "" {
		parts = append(parts, string(BuildKit)+map[bool]string{true: ">=", false: ">"}[r.LowerIncl]+r.Lower)
	}
	if r.Upper != "" {
		parts = append(parts, string(BuildKit)+map[bool]string{true: "<=", false: "<"}[r.UpperIncl]+r.Upper)
	}
	return strings.Join(parts, "/")
}

// addBound adds the bound "op version" of a pattern part to r; what names
// the pattern in errors. Only the buildkit axis has versions; a range has
// at most one lower and one upper bound, and no version in it is an error.
func (r *VersionRange) addBound(what, axis, op, version string) error {
	switch {
	case Axis(axis) != BuildKit:
		return fmt.Errorf("%s: %s%s%s: only buildkit takes a version range", what, axis, op, version)
	case !semver.IsValid(version) || semver.Canonical(version) != version:
		return fmt.Errorf("%s: %s%s%q: want a version vX.Y.Z such as v0.31.0", what, axis, op, version)
	}
	lower, incl := op[0] == '>', strings.HasSuffix(op, "=")
	if lower && r.Lower != "" || !lower && r.Upper != "" {
		return fmt.Errorf("%s: two %s bounds for buildkit: give at most one lower (> or >=) and one upper (< or <=)", what, map[bool]string{true: "lower", false: "upper"}[lower])
	}
	if lower {
		r.Lower, r.LowerIncl = version, incl
	} else {
		r.Upper, r.UpperIncl = version, incl
	}
	if r.Empty() {
		return fmt.Errorf("%s: buildkit range %s holds no version", what, r)
	}
	return nil
}

package cell

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/platforms"
)

var arm = Coords{Fixture: "one", Platform: "linux/arm64", Engine: "podman-5.4.2", BuildKit: "latest", Exporter: "docker-oci-mediatypes"}

func TestNameGroupLabelsGoldenKey(t *testing.T) {
	for _, c := range []Coords{arm, {Fixture: "one", Platform: "linux-arm64", Engine: "podman-5.4.2", BuildKit: "latest", Exporter: "docker-oci-mediatypes"}} {
		if got, want := c.Name(), "fixture=one/platform=linux-arm64/engine=podman-5.4.2/buildkit=latest/exporter=docker-oci-mediatypes"; got != want {
			t.Errorf("Name = %q, want %q", got, want)
		}
		if got, want := c.Group(), "fixture=one/platform=linux-arm64/exporter=docker-oci-mediatypes"; got != want {
			t.Errorf("Group = %q, want %q", got, want)
		}
		want := []string{"fixture:one", "platform:linux-arm64", "engine:podman-5.4.2", "buildkit:latest", "exporter:docker-oci-mediatypes", "kind:podman"}
		if got := c.Labels("podman"); !slices.Equal(got, want) {
			t.Errorf("Labels = %q, want %q", got, want)
		}
		if got := c.GoldenKey(); got != "linux/arm64/docker-oci-mediatypes" {
			t.Errorf("GoldenKey = %q", got)
		}
	}
	if p, e := SplitGoldenKey("linux/arm64/v8/oci"); p != "linux/arm64/v8" || e != "oci" {
		t.Errorf("SplitGoldenKey = %q, %q", p, e)
	}
	if p, e := SplitGoldenKey("oci"); p != "" || e != "oci" {
		t.Errorf("SplitGoldenKey(oci) = %q, %q", p, e)
	}
}

func TestParseKey(t *testing.T) {
	c, err := ParseKey(arm.Name())
	if err != nil || c.Name() != arm.Name() || c.Platform != "linux-arm64" {
		t.Errorf("ParseKey(name) = %+v, %v", c, err)
	}
	g, err := ParseKey("fixture=timestamps/platform=linux/arm64/exporter=oci")
	if err != nil || g.Platform != "linux/arm64" || g.Exporter != "oci" || g.Engine != "" {
		t.Errorf("ParseKey(group) = %+v, %v", g, err)
	}
	for _, bad := range []string{"", "fixture=one/colour=blue", "fixture=a/fixture=b", "podman"} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) succeeded", bad)
		}
	}
}

func TestParsePattern(t *testing.T) {
	for _, tt := range []struct{ in, err string }{
		{"engine=docker-*", ""},
		{"exporter=oci/fixture=one/platform=linux-*", ""},
		{"", "empty cell pattern"},
		{"engine", `"engine" is not axis=glob`},
		{"kind=docker", `unknown axis "kind"`},
		{"engine=a/engine=b", "axis engine given twice"},
		{"engine=", "empty glob"},
		{"engine=[a", "bad glob"},
		{"platform=linux/amd64", ""},
		{"platform=linux/arm/v7/engine=x", ""},
		{"engine=x/linux", `"linux" is not axis=glob`},
	} {
		_, err := ParsePattern(tt.in)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("ParsePattern(%q): %v", tt.in, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParsePattern(%q) = %v, want %q", tt.in, err, tt.err)
		}
	}
}

func TestPatternMatches(t *testing.T) {
	a := Coords{Fixture: "timestamps", Platform: "linux/arm64", Engine: "podman-4", BuildKit: "v0.19.0", Exporter: "oci"}
	for pat, want := range map[string]bool{
		"engine=podman-4":                    true,
		"engine=podman-*/buildkit=v0.1?.*":   true,
		"engine=podman-[45]":                 true,
		"platform=linux/arm64":               true,
		"platform=linux/*/exporter=oci":      true,
		"platform=*64/engine=docker*":        false,
		"fixture=timestamps/exporter=docker": false,
		"fixture=*":                          true,
	} {
		p, err := ParsePattern(pat)
		if err != nil {
			t.Errorf("%s: %v", pat, err)
			continue
		}
		if got := p.Matches(a); got != want {
			t.Errorf("%s: %v, want %v", pat, got, want)
		}
	}
	for _, bad := range []string{"", "colour=blue", "engine=a/engine=b", "podman"} {
		if _, err := ParsePattern(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// Every spelling of a platform the runner produces, slug or slash, matches
// a pattern that names the same platform in any spelling, and no other.
func TestPatternPlatformSpellings(t *testing.T) {
	same := [][]string{
		{"linux/amd64", "linux-amd64"},
		{"linux/arm64", "linux-arm64", "linux/arm64/v8", "linux-arm64-v8"},
		{"linux/arm/v7", "linux-arm-v7"},
	}
	for i, group := range same {
		for _, written := range group {
			p, err := ParsePattern("platform=" + written + "/engine=docker-*")
			if err != nil {
				t.Fatal(err)
			}
			for j, other := range same {
				for _, platform := range other {
					c := Coords{Platform: platform, Engine: "docker-26.1.5"}
					if got := p.Matches(c); got != (i == j) {
						t.Errorf("platform=%s on %s: %v, want %v", written, platform, got, i == j)
					}
					if got := p.MatchesValue(Platform, Slug(platform)); got != (i == j) {
						t.Errorf("MatchesValue(platform=%s, %s) = %v", written, platform, got)
					}
				}
			}
		}
	}
	slash, err := ParsePattern("platform=linux/arm/v7/engine=docker-*")
	if err != nil {
		t.Fatal(err)
	}
	if g, _ := slash.Glob(Platform); g != "linux-arm-v7" {
		t.Errorf("platform glob = %q", g)
	}
	if slash.Matches(Coords{Platform: "linux/arm/v7", Engine: "podman-4"}) {
		t.Error("engine=docker-* matched podman-4")
	}
	glob, _ := ParsePattern("platform=linux-arm*")
	for platform, want := range map[string]bool{"linux/arm64/v8": true, "linux-arm-v7": true, "linux/amd64": false} {
		if got := glob.Matches(Coords{Platform: platform}); got != want {
			t.Errorf("platform=linux-arm* on %s: %v", platform, got)
		}
	}
}

func TestParsePlatform(t *testing.T) {
	for _, ok := range []string{"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm64/v8", "linux/riscv64"} {
		if p, err := ParsePlatform(ok); err != nil || platforms.Format(p) != ok {
			t.Errorf("ParsePlatform(%q) = %v, %v", ok, p, err)
		}
	}
	for _, bad := range []string{"", "linux", "amd64/linux", "linux/amd46", "linux/amd64/v7", "linux/arm/v7/x", "Linux/amd64"} {
		if _, err := ParsePlatform(bad); err == nil {
			t.Errorf("ParsePlatform(%q) succeeded", bad)
		}
	}
	if got := Slug("linux/arm/v7"); got != "linux-arm-v7" {
		t.Errorf("Slug = %q", got)
	}
	if got := Unslug("linux-arm-v7"); got != "linux/arm/v7" {
		t.Errorf("Unslug = %q", got)
	}
}

func TestKnownDivergence(t *testing.T) {
	day := time.Date(2027, 5, 31, 23, 59, 59, 0, time.UTC)
	k := KnownDivergence{Cells: "platform=linux/arm64/exporter=oci", Expires: day}
	if !k.Matches(Coords{Platform: "linux-arm64-v8", Exporter: "oci"}) || k.Matches(Coords{Platform: "linux-amd64", Exporter: "oci"}) {
		t.Error("Matches")
	}
	if k.Expired(day) || !k.Expired(day.Add(time.Second)) || (KnownDivergence{}).Expired(day) {
		t.Error("Expired")
	}
	if (KnownDivergence{Cells: "colour=blue"}).Matches(arm) {
		t.Error("an invalid pattern matched")
	}
}

// An entry with variations covers the named variations of its cells and
// nothing else; one without covers no variation.
func TestKnownDivergenceVariations(t *testing.T) {
	c := Coords{Fixture: "scratch-copy", Platform: "linux-amd64", Engine: "docker-20.10.24", BuildKit: "v0.19.0", Exporter: "oci"}
	k := KnownDivergence{Cells: "fixture=scratch-copy", Variations: []string{"umask"}}
	if !k.ForVariations() || !k.CoversVariation(c, "umask") {
		t.Error("the umask rebuild of a matching cell is not covered")
	}
	if k.CoversVariation(c, "setgid") {
		t.Error("a variation the entry does not name is covered")
	}
	other := c
	other.Fixture = "debian-run"
	if k.CoversVariation(other, "umask") {
		t.Error("a cell the pattern does not match is covered")
	}
	plain := KnownDivergence{Cells: "fixture=scratch-copy"}
	if plain.ForVariations() || plain.CoversVariation(c, "umask") {
		t.Error("an entry without variations covers a variation")
	}
}

func TestPatternVersionRange(t *testing.T) {
	at := func(name, version string) Coords {
		return Coords{Fixture: "one", Platform: "linux-amd64", Engine: "docker-28.5.2", BuildKit: name, BuildKitVersion: version, Exporter: "docker"}
	}
	for _, tt := range []struct {
		pattern string
		cell    Coords
		want    bool
	}{
		{"buildkit>=v0.31.0", at("v0.31.0", ""), true},
		{"buildkit>=v0.31.0", at("v0.30.9", ""), false},
		{"buildkit>=v0.31.0", at("v0.31.0-rc1", ""), false}, // a pre-release comes before its release
		{"buildkit>=v0.31.0/exporter=docker", at("latest", "v0.34.2"), true},
		{"buildkit>=v0.31.0/exporter=oci", at("latest", "v0.34.2"), false},
		{"buildkit>=v0.31.0", at("latest", ""), false}, // latest not resolved: no version
		{"buildkit>v0.19.0", at("v0.19.0", ""), false},
		{"buildkit>v0.19.0", at("v0.20.2", ""), true},
		{"fixture=one/buildkit>v0.19.0/buildkit<v0.31.0", at("v0.30.0", ""), true},
		{"fixture=one/buildkit>v0.19.0/buildkit<v0.31.0", at("v0.31.0", ""), false},
		{"buildkit<=v0.31.0", at("v0.31.0", ""), true},
		{"buildkit>=v0.20.0/buildkit<=v0.20.0", at("bk", "v0.20.0"), true},
	} {
		p, err := ParsePattern(tt.pattern)
		if err != nil {
			t.Errorf("ParsePattern(%q): %v", tt.pattern, err)
			continue
		}
		if got := p.Matches(tt.cell); got != tt.want {
			t.Errorf("%q matches %s (version %q) = %v, want %v", tt.pattern, tt.cell.BuildKit, tt.cell.BuildKitVersion, got, tt.want)
		}
	}
}

func TestPatternVersionRangeRefused(t *testing.T) {
	for _, tt := range []struct{ in, err string }{
		{"buildkit>=0.31", `want a version vX.Y.Z`},
		{"buildkit>=v0.31", `want a version vX.Y.Z`},
		{"engine>=docker-28", "only buildkit takes a version range"},
		{"buildkit>=v0.31.0/buildkit>v0.20.0", "two lower bounds"},
		{"buildkit>=v0.31.0/buildkit<v0.31.0", "holds no version"},
		{"buildkit>v0.31.0/buildkit<=v0.20.0", "holds no version"},
		{"buildkit=v0.3*/buildkit>=v0.31.0", "a glob and a version range"},
		{"buildkit>=v0.31.0/colour=blue", `unknown axis "colour"`},
	} {
		_, err := ParsePattern(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("ParsePattern(%q) = %v, want an error containing %q", tt.in, err, tt.err)
		}
	}
}

func TestVersionRangeOverlaps(t *testing.T) {
	r := VersionRange{Lower: "v0.31.0", LowerIncl: true}
	for _, tt := range []struct {
		lo, hi string
		want   bool
	}{
		{"v0.19.0", "", true},         // a ladder to latest
		{"v0.19.0", "v0.30.0", false}, // a ladder that stops before
		{"v0.19.0", "v0.31.0", true},
		{"v0.34.2", "v0.34.2", true}, // one version
	} {
		if got := r.Overlaps(tt.lo, tt.hi); got != tt.want {
			t.Errorf("%s overlaps [%s, %s] = %v, want %v", r, tt.lo, tt.hi, got, tt.want)
		}
	}
}

func TestPlatformSets(t *testing.T) {
	set := "linux/amd64,linux/arm64"
	ps, err := ParsePlatforms(set)
	if err != nil || len(ps) != 2 || ps[1].Architecture != "arm64" {
		t.Fatalf("ParsePlatforms(%q) = %v, %v", set, ps, err)
	}
	if got := Slug(set); got != "linux-amd64+linux-arm64" {
		t.Errorf("Slug = %q", got)
	}
	if got := Unslug(Slug(set)); got != set {
		t.Errorf("Unslug(Slug) = %q", got)
	}
	if !IsSet(set) || !IsSet(Slug(set)) || IsSet("linux/arm64") {
		t.Error("IsSet")
	}
	if ps, err := ParsePlatforms("linux/arm64"); err != nil || len(ps) != 1 {
		t.Errorf("one platform: %v, %v", ps, err)
	}
	for s, want := range map[string]string{
		"linux/amd64,linux/amd64":    "linux/amd64 twice",
		"linux/arm64,linux/arm64/v8": "linux/arm64 twice",
		"linux/amd64,":               "malformed platform",
		"linux/amd64,linux/amd46":    `unknown architecture "amd46"`,
	} {
		if _, err := ParsePlatforms(s); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePlatforms(%q) = %v, want an error with %q", s, err, want)
		}
	}
	k := GoldenKey(Slug(set), "oci")
	if p, e := SplitGoldenKey(k); p != set || e != "oci" {
		t.Errorf("golden key %q splits into %q, %q", k, p, e)
	}
	c, err := ParseKey("fixture=index/platform=" + Slug(set) + "/exporter=oci")
	if err != nil || c.Platform != Slug(set) {
		t.Errorf("ParseKey: %+v, %v", c, err)
	}
}

package matrix

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// recorded is a Lister answering the versions recorded in
// testdata/ladder/<files>, one a line ('#' starts a comment).
func recorded(t *testing.T, files ...string) Lister {
	t.Helper()
	var versions []string
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join("testdata", "ladder", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				versions = append(versions, line)
			}
		}
	}
	return func(_ context.Context, module string) ([]string, error) {
		if module != DefaultBuildKitModule {
			t.Errorf("asked for the versions of %s", module)
		}
		return versions, nil
	}
}

func listed(t *testing.T, files ...string) []string {
	v, _ := recorded(t, files...)(context.Background(), DefaultBuildKitModule)
	return v
}

// The proxy's recorded list (no v0.19.x, no v0.21.x), with pre-releases
// mixed in: the newest patch of each minor, ascending, no pre-release.
func TestLadderVersions(t *testing.T) {
	versions := listed(t, "prereleases.txt", "goproxy.txt")
	for _, tt := range []struct {
		from, to string
		want     []string
	}{
		{"v0.19.0", "latest", []string{"v0.20.2", "v0.22.0", "v0.23.2", "v0.24.0", "v0.25.2", "v0.26.3", "v0.27.1",
			"v0.28.1", "v0.29.0", "v0.30.0", "v0.31.2", "v0.32.2", "v0.33.1", "v0.34.2"}},
		{"v0.25.1", "v0.27.0", []string{"v0.25.2", "v0.26.3", "v0.27.0"}}, // both bounds included, patches beyond to left out
		{"v0.31.0", "v0.31.0", []string{"v0.31.0"}},
		{"v0.34.0", "latest", []string{"v0.34.2"}}, // latest is v0.34.2, not v0.35.0-rc1
	} {
		got, err := LadderVersions(versions, tt.from, tt.to)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("LadderVersions(%s, %s) = %q, %v; want %q", tt.from, tt.to, got, err, tt.want)
		}
	}
}

func TestLadderVersionsRefused(t *testing.T) {
	versions := listed(t, "goproxy.txt")
	for _, tt := range []struct{ from, to, err string }{
		{"v0.30.0", "v0.20.0", "to v0.20.0 is before from v0.30.0"},
		{"v0.19", "latest", `from "v0.19": want a release`},
		{"v0.27.0-rc1", "latest", "want a release"},
		{"v0.19.0", "newest", `to "newest": want a release`},
		{"v0.18.0", "v0.19.5", "no release from v0.18.0 to v0.19.5 among the 31 versions listed (the newest is v0.34.2)"},
		{"v0.35.0", "latest", "no release from v0.35.0 to v0.34.2"},
	} {
		if _, err := LadderVersions(versions, tt.from, tt.to); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("LadderVersions(%s, %s) = %v, want an error containing %q", tt.from, tt.to, err, tt.err)
		}
	}
}

func loadLadder(t *testing.T) *Matrix {
	t.Helper()
	m, err := loadTestdata(t, "ladder/matrix.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func buildKitsOf(cells []Cell) []string {
	var out []string
	for _, c := range cells {
		if !slices.Contains(out, c.BuildKit.Name) {
			out = append(out, c.BuildKit.Name)
		}
	}
	return out
}

func TestResolveLadders(t *testing.T) {
	m := loadLadder(t)
	local, err := m.Expand("local") // no ladder: expands unresolved
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"nightly", "newer"} {
		if _, err := m.Expand(p); !errors.Is(err, ErrUnresolvedLadder) || !strings.Contains(err.Error(), "v0.19.0..latest") && p == "nightly" {
			t.Errorf("Expand(%s) before ResolveLadders: %v, want ErrUnresolvedLadder", p, err)
		}
	}
	if err := m.ResolveLadders(context.Background(), recorded(t, "goproxy.txt", "prereleases.txt")); err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Errorf("Validate after ResolveLadders: %v", err)
	}
	nightly, err := m.Expand("nightly")
	if err != nil {
		t.Fatal(err)
	}
	// The pin first, the candidate (a rung the ladder does not repeat) in
	// its place, then the rungs the ladder added, ascending.
	want := []string{"v0.19.0", "v0.26.3", "v0.20.2", "v0.22.0", "v0.23.2", "v0.24.0", "v0.25.2", "v0.27.1",
		"v0.28.1", "v0.29.0", "v0.30.0", "v0.31.2", "v0.32.2", "v0.33.1", "v0.34.2"}
	if got := buildKitsOf(nightly); !slices.Equal(got, want) {
		t.Errorf("nightly BuildKits:\n got %q\nwant %q", got, want)
	}
	if l := m.Ladders(); len(l) != 1 || len(l[0].Versions) != 14 || l[0].Versions[5] != "v0.26.3" {
		t.Errorf("Ladders = %+v", l)
	}
	checkRungs(t, m)
	after, err := m.Expand("local")
	if err != nil || !slices.Equal(names(after), names(local)) {
		t.Errorf("local changed with the ladder resolved: %v\n%q\n%q", err, names(after), names(local))
	}
	if newer, err := m.Expand("newer"); err != nil || !slices.Equal(buildKitsOf(newer), []string{"v0.30.0", "v0.31.2", "v0.32.2", "v0.33.1", "v0.34.2"}) {
		t.Errorf("newer: %q, %v", buildKitsOf(newer), err)
	}
	// Resolved ladders are not resolved again.
	if err := m.ResolveLadders(context.Background(), nil); err != nil {
		t.Errorf("second ResolveLadders: %v", err)
	}
}

// checkRungs checks the BuildKits of m after ResolveLadders: one per
// version, named in the cell vocabulary, the file's entries kept.
func checkRungs(t *testing.T, m *Matrix) {
	t.Helper()
	seen := map[string]bool{}
	for _, b := range m.BuildKits {
		if seen[b.EffectiveVersion()] {
			t.Errorf("version %s twice", b.EffectiveVersion())
		}
		seen[b.EffectiveVersion()] = true
		if !nameRE.MatchString(b.Name) || b.IsLadder() {
			t.Errorf("BuildKit %q: not a cell name, or still a ladder", b.Name)
		}
	}
	pin, cand, rung := m.BuildKit("v0.19.0"), m.BuildKit("v0.26.3"), m.BuildKit("v0.31.2")
	switch {
	case !pin.Pinned || pin.Rung != nil: // not listed by the proxy: not a rung
		t.Errorf("pin: %+v", pin)
	case !cand.Candidate || cand.Rung == nil || cand.AddedByLadder():
		t.Errorf("candidate: %+v", cand)
	case rung == nil || !rung.AddedByLadder() || rung.Image != "moby/buildkit:v0.31.2" || rung.RootlessImage != "moby/buildkit:v0.31.2-rootless" || rung.Offline.Version != "v0.31.2":
		t.Errorf("rung v0.31.2: %+v", rung)
	}
}

func TestResolveLaddersErrors(t *testing.T) {
	boom := errors.New("proxy unreachable")
	m := loadLadder(t)
	before := slices.Clone(m.BuildKits)
	err := m.ResolveLadders(context.Background(), func(context.Context, string) ([]string, error) { return nil, boom })
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), DefaultBuildKitModule) {
		t.Errorf("err = %v", err)
	}
	err = m.ResolveLadders(context.Background(), func(context.Context, string) ([]string, error) { return []string{"v0.12.5", "v0.35.0-rc1"}, nil })
	if err == nil || !strings.Contains(err.Error(), "buildkit ladder v0.19.0..latest: no release from v0.19.0") {
		t.Errorf("err = %v", err)
	}
	if !slices.Equal(m.BuildKits, before) {
		t.Error("a failed ResolveLadders changed the matrix")
	}
	m.BuildKits[1].Name = "v0.20.2" // the candidate v0.26.3, named as a rung
	err = m.ResolveLadders(context.Background(), recorded(t, "goproxy.txt"))
	if err == nil || !strings.Contains(err.Error(), "the BuildKit named v0.20.2 is version v0.26.3") {
		t.Errorf("err = %v", err)
	}
}

// A known divergence by version range matches a cell whose BuildKit's
// concrete version lies in it: a rung, an entry, latest once resolved.
func TestKnownDivergenceVersionRange(t *testing.T) {
	m := loadLadder(t)
	if err := m.ResolveLadders(context.Background(), recorded(t, "goproxy.txt")); err != nil {
		t.Fatal(err)
	}
	oci, newer := m.KnownDivergences[0], m.KnownDivergences[1]
	cellOf := func(buildkit, exporter string) Cell {
		c, err := m.Cell("fixture=one/platform=linux-amd64/engine=docker-20.10.24/buildkit=" + buildkit + "/exporter=" + exporter)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tt := range []struct {
		k                  *KnownDivergence
		buildkit, exporter string
		want               bool
	}{
		{oci, "v0.31.2", "docker", true},
		{oci, "v0.34.2", "docker", true},
		{oci, "v0.30.0", "docker", false},
		{oci, "v0.31.2", "oci", false},
		{oci, "latest", "docker", false}, // not resolved yet: no version
		{newer, "v0.19.0", "oci", false},
		{newer, "v0.20.2", "oci", true},
		{newer, "v0.26.3", "docker", true},
		{newer, "v0.31.2", "oci", false},
	} {
		if got := tt.k.Matches(cellOf(tt.buildkit, tt.exporter)); got != tt.want {
			t.Errorf("%s on buildkit=%s/exporter=%s: %v, want %v", tt.k.Cells, tt.buildkit, tt.exporter, got, tt.want)
		}
	}
	if err := m.ResolveLatest(context.Background(), func(context.Context, string) (string, error) { return "v0.34.2", nil }); err != nil {
		t.Fatal(err)
	}
	latest := cellOf("latest", "docker")
	if !oci.Matches(latest) || m.KnownDivergence(latest) != oci || latest.Coords().BuildKitVersion != "v0.34.2" {
		t.Errorf("latest resolved to v0.34.2: matches %v, coords %+v", oci.Matches(latest), latest.Coords())
	}
}

// Validate refuses a range that matches no BuildKit version, by the
// versions the file declares (Load) and by the concrete ones once the
// ladders and latest are resolved (Matrix.Validate).
func TestVersionRangeMatchesNothing(t *testing.T) {
	_, err := loadTestdata(t, "invalid/range-matches-nothing.yaml")
	verrs := validationErrors(t, err)
	if len(verrs) != 1 || verrs[0].Field != "knownDivergences[0].cells" || verrs[0].Line != 29 ||
		!strings.Contains(verrs[0].Msg, "buildkit range buildkit<v0.19.0 matches no BuildKit version of the matrix (versions: v0.19.0, v0.26.3, latest (not resolved: v0.26.3 or newer), ladder v0.19.0..latest (not resolved))") {
		t.Fatalf("errors: %v", err)
	}
	m := loadLadder(t)
	m.KnownDivergences[0].Cells = "buildkit>=v0.35.0" // a release to come: latest may be it
	if err := m.Validate(); err != nil {
		t.Errorf("Validate before resolving: %v", err)
	}
	if err := m.ResolveLadders(context.Background(), recorded(t, "goproxy.txt")); err != nil {
		t.Fatal(err)
	}
	if err := m.ResolveLatest(context.Background(), func(context.Context, string) (string, error) { return "v0.34.2", nil }); err != nil {
		t.Fatal(err)
	}
	err = m.Validate()
	if verrs := validationErrors(t, err); len(verrs) != 1 || verrs[0].Field != "knownDivergences[0].cells" ||
		!strings.Contains(verrs[0].Msg, "(versions: v0.19.0, v0.26.3, v0.34.2, v0.20.2,") {
		t.Errorf("Validate after resolving: %v", err)
	}
}

func TestLadderValidation(t *testing.T) {
	for _, tt := range []struct {
		file, field string
		line        int
		msg         string
	}{
		{"ladder-from", "buildkits[3].ladder.from", 12, `"0.19": want a release vX.Y.Z such as v0.19.0`},
		{"ladder-to", "buildkits[3].ladder.to", 12, `"newest": want a release vX.Y.Z such as v0.34.2, or latest`},
		{"ladder-order", "buildkits[3].ladder.to", 12, "v0.20.0 is before from v0.30.0"},
		{"ladder-extra", "buildkits[3].image", 13, "a ladder entry sets only ladder: {from, to}"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			_, err := loadTestdata(t, "invalid/"+tt.file+".yaml")
			verrs := validationErrors(t, err)
			if len(verrs) != 1 || verrs[0].Field != tt.field || verrs[0].Line != tt.line || !strings.Contains(verrs[0].Msg, tt.msg) {
				t.Errorf("errors:\n%v\nwant one at %s (line %d) containing %q", err, tt.field, tt.line, tt.msg)
			}
		})
	}
}

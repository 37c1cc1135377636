package matrix

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// varyMatrix is a valid matrix with two fixtures (f, g) and three profiles;
// the test puts vary lists into it.
const varyMatrix = `engines:
  - {kind: docker, version: 20.10.24}
  - {kind: podman, version: 4.3.1}
buildkits:
  - {version: v0.19.0, pinned: true, image: "moby/buildkit:v0.19.0@sha256:14aa1b4dd92ea0a4cd03a54d0c6079046ea98cd0c0ae6176bdd7036ba370cbbe"}
fixtures:
  - name: f
    sourceDateEpoch: 0
    vary: [setgid, mtime]
  - name: g
    sourceDateEpoch: 0
exporters:
  - {name: docker, type: docker}
profiles:
  local:
    vary: [locale, tz, mtime]
  plain: {}
  all:
    vary: [time, locale, path, order, tz, setgid, umask, mtime]
`

// loadVary writes text as matrix.yaml beside fixtures f and g and loads it.
func loadVary(t *testing.T, text string) (*Matrix, error) {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"f", "g"} {
		if err := os.MkdirAll(filepath.Join(dir, "fixtures", f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "fixtures", f, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "matrix.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(file, WithNow(testNow))
}

func TestVaryParses(t *testing.T) {
	m, err := loadVary(t, varyMatrix)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Fixtures[0].Vary; !slices.Equal(got, []string{VariationSetgid, VariationMtime}) {
		t.Errorf("fixtures[0].vary = %q, want the file's order", got)
	}
	if m.Fixtures[1].Vary != nil {
		t.Errorf("fixtures[1].vary = %q, want none", m.Fixtures[1].Vary)
	}
	if got := m.Profiles["local"].Vary; !slices.Equal(got, []string{"locale", "tz", "mtime"}) {
		t.Errorf("profiles.local.vary = %q", got)
	}
}

// A cell's variations are the union of its profile's and its fixture's,
// each once, in the canonical order; names and groups do not change.
func TestVaryUnionInCanonicalOrder(t *testing.T) {
	m, err := loadVary(t, varyMatrix)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string][]string{
		"local": {"f": {"mtime", "setgid", "tz", "locale"}, "g": {"mtime", "tz", "locale"}},
		"plain": {"f": {"mtime", "setgid"}, "g": nil},
		"all":   {"f": Variations, "g": Variations},
	}
	for profile, byFixture := range want {
		cells, err := m.Expand(profile)
		if err != nil {
			t.Fatal(err)
		}
		if len(cells) != 4 {
			t.Fatalf("%s: %d cells, want 4", profile, len(cells))
		}
		for _, c := range cells {
			w := byFixture[c.Fixture.Name]
			if !slices.Equal(c.Vary, w) || (w == nil) != (c.Vary == nil) {
				t.Errorf("%s: %s: Vary = %q, want %q", profile, c.Name(), c.Vary, w)
			}
			if strings.Contains(c.Name(), "vary") || strings.Contains(c.Group(), "vary") || !strings.HasPrefix(c.Name(), "fixture="+c.Fixture.Name+"/platform=linux-amd64/engine=") {
				t.Errorf("%s: name %s, group %s", profile, c.Name(), c.Group())
			}
		}
	}
	// The cells of two profiles share names and groups whatever their vary.
	local, _ := m.Expand("local")
	plain, _ := m.Expand("plain")
	if !slices.Equal(names(local), names(plain)) {
		t.Errorf("names differ: %q vs %q", names(local), names(plain))
	}
	// Matrix.Cell knows no profile: the fixture's variations only.
	c, err := m.Cell(local[0].Name())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Vary, []string{"mtime", "setgid"}) {
		t.Errorf("Cell(%s).Vary = %q", c.Name(), c.Vary)
	}
	// Expand hands out a list of its own: changing one cell's does not change another's.
	local[0].Vary[0] = "changed"
	if again, _ := m.Expand("local"); again[1].Vary[0] != "mtime" || m.Profiles["local"].Vary[2] != "mtime" {
		t.Error("Cell.Vary shares its array with the matrix or another cell")
	}
}

func TestUnionVary(t *testing.T) {
	for _, tc := range []struct {
		lists [][]string
		want  []string
	}{
		{nil, nil},
		{[][]string{nil, {}}, nil},
		{[][]string{{"locale", "mtime"}, {"mtime", "order"}}, []string{"mtime", "order", "locale"}},
		{[][]string{{"tz", "tz"}}, []string{"tz"}},
		// A matrix changed after Load: an unknown name is kept, last.
		{[][]string{{"wallclock", "path"}, {"wallclock"}}, []string{"path", "wallclock"}},
	} {
		if got := unionVary(tc.lists...); !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("unionVary(%q) = %q, want %q", tc.lists, got, tc.want)
		}
	}
}

// An unknown variation, or one listed twice, is refused at its field and
// line; `repro-matrix validate` exits 2 on it as on any ValidationErrors.
func TestVaryRefused(t *testing.T) {
	for _, tc := range []struct {
		name, old, new string
		field          string
		line           int
		msg            string
	}{
		{"unknown in a fixture", "vary: [setgid, mtime]", "vary: [setgid, mtim]", "fixtures[0].vary[1]", 9,
			`unknown variation "mtim" (known: mtime, umask, setgid, order, path, tz, locale, time)`},
		{"unknown in a profile", "vary: [locale, tz, mtime]", "vary:\n      - locale\n      - TZ", "profiles.local.vary[1]", 18,
			`unknown variation "TZ" (known: mtime, umask, setgid, order, path, tz, locale, time)`},
		{"wall clock is not one", "plain: {}", "plain: {vary: [wallclock]}", "profiles.plain.vary[0]", 17, `unknown variation "wallclock"`},
		{"twice in one list", "vary: [setgid, mtime]", "vary: [setgid, mtime, setgid]", "fixtures[0].vary[2]", 9, "duplicate variation setgid"},
		{"empty name", "vary: [setgid, mtime]", `vary: [""]`, "fixtures[0].vary[0]", 9, `unknown variation ""`},
		{"not a list", "vary: [setgid, mtime]", "vary: setgid", "fixtures[0].vary", 9, "want a list, got"},
		{"a mapping in the list", "vary: [setgid, mtime]", "vary: [{mtime: now}]", "fixtures[0].vary[0]", 9, "want a string, got"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(varyMatrix, tc.old) {
				t.Fatalf("matrix lacks %q", tc.old)
			}
			_, err := loadVary(t, strings.Replace(varyMatrix, tc.old, tc.new, 1))
			onlyProblem(t, err, tc.field, tc.line, tc.msg)
		})
	}
}

// TestTimeOnlyOnAmd64: the time variation preloads an amd64 library, so
// cells of other platforms, and of platform sets, are not varied so.
func TestTimeOnlyOnAmd64(t *testing.T) {
	for platform, want := range map[string][]string{
		"linux/amd64":             {VariationTZ, VariationTime},
		"linux/arm64":             {VariationTZ},
		"linux/amd64,linux/arm64": {VariationTZ},
	} {
		if got := cellVary(Cell{Platform: platform}, []string{VariationTime, VariationTZ}); !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", platform, got, want)
		}
	}
	if got := cellVary(Cell{Platform: "linux/arm64"}, []string{VariationTime}); got != nil {
		t.Errorf("arm64, time only: %q, want nil", got)
	}
}

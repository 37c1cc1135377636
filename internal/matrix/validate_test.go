package matrix

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// testNow is the clock of every test: known divergences expiring before
// 2026-06-01 have expired.
func testNow() time.Time { return time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC) }

func loadTestdata(t *testing.T, name string) (*Matrix, error) {
	t.Helper()
	return Load(filepath.Join("testdata", name), WithNow(testNow))
}

func validationErrors(t *testing.T, err error) ValidationErrors {
	t.Helper()
	var verrs ValidationErrors
	if !errors.As(err, &verrs) {
		t.Fatalf("want ValidationErrors, got %T: %v", err, err)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("errors.Is(err, ErrInvalid) = false")
	}
	return verrs
}

func TestLoadValid(t *testing.T) {
	for _, name := range []string{"minimal.yaml", "valid.yaml"} {
		t.Run(name, func(t *testing.T) {
			if _, err := loadTestdata(t, name); err != nil {
				t.Fatalf("Load: %v", err)
			}
		})
	}
}

func TestLoadInvalid(t *testing.T) {
	tests := []struct {
		file   string
		fields []string // every problem's field path, in order
		msg    string   // a part of the first problem's message
	}{
		{"unknown-key", []string{"engines[0].imgae"}, `unknown field "imgae"`},
		{"dup-engine", []string{"engines[1].name"}, `duplicate engine name "docker-20.10.24" (also engines[0])`},
		{"dup-buildkit", []string{"buildkits[1].name"}, `duplicate BuildKit name "v0.19.0"`},
		{"dup-fixture", []string{"fixtures[1].name"}, `duplicate fixture name "one"`},
		{"dup-exporter", []string{"exporters[1].name"}, `duplicate exporter name "docker"`},
		{"dup-profile", []string{"profiles.all"}, `duplicate key "all"`},
		{"missing-dir", []string{"fixtures[0].dir"}, "does not exist"},
		{"no-dockerfile", []string{"fixtures[0].dir"}, "has no Dockerfile"},
		{"bad-image-digest", []string{"buildkits[0].image"}, "malformed digest"},
		{"bad-engine-digest", []string{"engines[0].image"}, `malformed digest "sha256:ABC"`},
		{"bad-golden-digest", []string{"fixtures[0].goldens[linux/amd64/docker]"}, "badgolden/golden.yaml:1: malformed digest"},
		{"tag-version", []string{"buildkits[0].image"}, `tag "v19.0" disagrees with version v0.19.0`},
		{"two-pinned", []string{"buildkits[1].pinned"}, "buildkits[0] is pinned already"},
		{"none-pinned", []string{"buildkits"}, "no BuildKit is pinned"},
		{"pinned-unpinned-image", []string{"buildkits[0].image"}, "is not pinned"},
		{"recipe-version", []string{"buildkits[0].offline.version"}, `"v0.18.0" disagrees with version v0.19.0`},
		{"expired", []string{"knownDivergences[0].expires"}, "expired on 2026-01-31"},
		{"unknown-axis", []string{"knownDivergences[0].cells"}, `unknown axis "engin"`},
		{"bad-glob", []string{"profiles.all.exclude[0]"}, `bad glob "[docker"`},
		{"unknown-profile-ref", []string{"profiles.all.engines[1]"}, `"podman-4.3.1" matches no engine (known: docker-20.10.24)`},
		{"empty-expansion", []string{"profiles.none"}, "expands to no cells"},
		{"bad-platform", []string{"fixtures[0].platforms[0]"}, `unknown architecture "amd46"`},
		{"sde-and-datetime", []string{"fixtures[0].datetime"}, "set exactly one"},
		{"engine-version", []string{"engines[0].version"}, `"v20.10": want a plain version`},
		{"container-engine", []string{"engines[0].offline"}, "required for a container engine"},
		{"wrong-type", []string{"fixtures[0].sourceDateEpoch"}, `want an integer, got the string "soon"`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m, err := loadTestdata(t, filepath.Join("invalid", tt.file+".yaml"))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if m != nil {
				t.Error("Load returned a matrix with its error")
			}
			verrs := validationErrors(t, err)
			if got := verrs.Fields(); !slices.Equal(got, tt.fields) {
				t.Fatalf("fields = %q, want %q; errors:\n%v", got, tt.fields, err)
			}
			if !strings.Contains(verrs[0].Msg, tt.msg) {
				t.Errorf("message %q does not contain %q", verrs[0].Msg, tt.msg)
			}
			// Error() is "field: message", one problem a line.
			for i, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, tt.fields[i]+": ") {
					t.Errorf("line %d of Error() = %q, want prefix %q", i, line, tt.fields[i]+": ")
				}
			}
		})
	}
}

// TestLoadReportsEveryProblem loads a file with many problems and checks
// that each is reported once, with its field path.
func TestLoadReportsEveryProblem(t *testing.T) {
	_, err := loadTestdata(t, "invalid/many.yaml")
	verrs := validationErrors(t, err)
	want := []string{
		"engines[2].rootles",                      // unknown key
		"engines[1].kind",                         // dokcer
		"engines[3].name",                         // duplicate docker-20.10.24
		"buildkits[0].image",                      // v19.0 tag
		"buildkits[1].pinned",                     // second pin
		"buildkits[1].image",                      // malformed digest
		"buildkits[2].version",                    // 0.20
		"fixtures[0].platforms[2]",                // windows/sparc
		"fixtures[1].dir",                         // missing folder
		"fixtures[1].sourceDateEpoch",             // -1
		"fixtures[2].dir",                         // no Dockerfile
		"fixtures[2].datetime",                    // both epoch and datetime
		"fixtures[3].goldens[linux/amd64/docker]", // malformed golden digest
		"fixtures[3].sourceDateEpoch",             // neither epoch nor datetime
		"exporters[1].type",                       // oic
		"exporters[1].compression",                // lz4
		"profiles.empty",                          // no cells
		"profiles.local.engines[1]",               // podman-9.9.9
		"profiles.local.buildkits[0]",             // @pinnned
		"profiles.local.platforms[0]",             // linux/s390x
		"profiles.local.include[0]",               // unknown axis kind
		"knownDivergences[0].reason",              // empty
		"knownDivergences[0].link",                // not a URL
		"knownDivergences[0].expires",             // expired
		"knownDivergences[1].cells",               // platform=linux/amd64 is two segments
		"knownDivergences[1].expires",             // not YYYY-MM-DD
	}
	got := verrs.Fields()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("fields:\n got %q\nwant %q\nerrors:\n%v", got, want, err)
	}
	// Problems found in matrix.yaml carry their line.
	for _, e := range verrs {
		if e.Field == "engines[2].rootles" && e.Line != 5 {
			t.Errorf("%s: line %d, want 5", e.Field, e.Line)
		}
	}
}

func TestLoadSyntaxError(t *testing.T) {
	_, err := loadTestdata(t, "invalid/syntax.yaml")
	if err == nil {
		t.Fatal("Load succeeded")
	}
	if errors.Is(err, ErrInvalid) {
		t.Error("a syntax error is not a ValidationErrors")
	}
	if !regexp.MustCompile(`testdata/invalid/syntax\.yaml: .*line [0-9]+`).MatchString(err.Error()) {
		t.Errorf("error %q does not name the file and line", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "matrix.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want ErrNotExist", err)
	}
}

func TestLoadEmptyFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "matrix.yaml")
	if err := os.WriteFile(file, []byte("# nothing yet\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(file)
	want := []string{"engines", "buildkits", "fixtures", "exporters", "profiles"}
	if got := validationErrors(t, err).Fields(); !slices.Equal(got, want) {
		t.Errorf("fields = %q, want %q", got, want)
	}
}

func TestLoadWrongShapes(t *testing.T) {
	file := filepath.Join(t.TempDir(), "matrix.yaml")
	data := "engines: docker\nbuildkits: [v0.19.0]\nfixtures: [{name: [x]}]\nexporters: {}\nprofiles: []\n"
	if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(file)
	verrs := validationErrors(t, err)
	for _, want := range []string{"engines", "buildkits[0]", "fixtures[0].name", "exporters", "profiles"} {
		if !slices.Contains(verrs.Fields(), want) {
			t.Errorf("no problem at %s; errors:\n%v", want, err)
		}
	}
	// A value of the wrong shape is reported once, not again by validation.
	for _, e := range verrs {
		if strings.HasPrefix(e.Field, "buildkits[0].") {
			t.Errorf("extra problem under a broken entry: %v", e)
		}
	}
}

func TestLoadDefaultsAndAbsolutePaths(t *testing.T) {
	m, err := loadTestdata(t, "valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if want := filepath.Join(wd, "testdata", "valid.yaml"); m.Path != want {
		t.Errorf("Path = %q, want %q", m.Path, want)
	}
	e := m.Engines[3]
	if e.Name != "podman-5.4.2" || e.Where != Container {
		t.Errorf("engine defaults: name %q where %q", e.Name, e.Where)
	}
	if m.Engines[2].Offline.Package != "docker.io" {
		t.Errorf("docker offline package = %q", m.Engines[2].Offline.Package)
	}
	b := m.BuildKit("v0.26.3")
	if b == nil || b.Image != "moby/buildkit:v0.26.3" || b.Offline.Module != DefaultBuildKitModule || b.Offline.Version != "v0.26.3" {
		t.Errorf("buildkit defaults: %+v %+v", b, b.Offline)
	}
	f := m.Fixture("two")
	if want := filepath.Join(wd, "testdata", "fixtures", "two"); f.Dir != want {
		t.Errorf("Dir = %q, want %q", f.Dir, want)
	}
	if f.Dockerfile != filepath.Join(f.Dir, "Dockerfile") || f.GoldensFile != filepath.Join(f.Dir, "golden.yaml") {
		t.Errorf("Dockerfile %q, goldens %q", f.Dockerfile, f.GoldensFile)
	}
	if !slices.Equal(f.Platforms, []string{"linux/amd64"}) {
		t.Errorf("Platforms = %q", f.Platforms)
	}
	if f.Epoch() != 1735689600 || m.Fixture("one").Epoch() != 0 {
		t.Errorf("Epoch: %d, %d", f.Epoch(), m.Fixture("one").Epoch())
	}
	if d, ok := m.Fixture("one").Golden("linux/amd64", "docker"); !ok || d.Hex()[0] != '1' {
		t.Errorf("Golden(linux/amd64, docker) = %q, %v", d, ok)
	}
	if m.Pinned().Name != "v0.19.0" || m.Candidate().Name != "v0.26.3" {
		t.Errorf("Pinned %v, Candidate %v", m.Pinned(), m.Candidate())
	}
	if got := m.Exporter("docker-oci-mediatypes").Attrs(); got["oci-mediatypes"] != "true" || got["type"] != "docker" {
		t.Errorf("Attrs = %v", got)
	}
}

func TestValidateAfterChange(t *testing.T) {
	m, err := loadTestdata(t, "valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	m.BuildKits[1].Pinned = true
	if got := validationErrors(t, m.Validate()).Fields(); !slices.Equal(got, []string{"buildkits[1].pinned", "buildkits[1].candidate", "buildkits[1].image", "buildkits[1].rootlessImage"}) {
		t.Errorf("fields = %q", got)
	}
}

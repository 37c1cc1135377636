package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/repro-matrix/repro-matrix/internal/cell"
	"github.com/repro-matrix/repro-matrix/internal/matrix"
	"github.com/repro-matrix/repro-matrix/internal/oci"
	it "github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
	"github.com/repro-matrix/repro-matrix/internal/report"
)

// bisectReleases is the Go module proxy's list for the tests: the ladder
// v0.19.0..latest resolves to v0.19.0 v0.20.2 v0.21.0 v0.22.1 v0.23.0.
func bisectReleases(context.Context, string) ([]string, error) {
	return []string{"v0.19.0", "v0.20.1", "v0.20.2", "v0.21.0", "v0.22.0-rc1", "v0.22.1", "v0.23.0"}, nil
}

var bisectVersions = []string{"v0.19.0", "v0.20.2", "v0.21.0", "v0.22.1", "v0.23.0"}

const bisectTarget = "fixture=f/platform=linux-amd64/engine=docker-20.10.24/exporter=docker"

// bisectImage is the image a version builds: before v0.21.0 the parent
// folder of a file mode 0644, from v0.21.0 on 0755 (as moby/buildkit#5943
// did to COPY --link --chmod).
func bisectImage(t *testing.T, dir string, bad bool) (path, dgst string) {
	t.Helper()
	mode := int64(0o644)
	name := "good.tar"
	if bad {
		mode, name = 0o755, "bad.tar"
	}
	s := it.MustBuild(it.Index{Images: []it.Image{{Layers: []it.Layer{{Entries: []it.Entry{
		it.Dir("app/").With(func(h *tar.Header) { h.Mode = mode }),
		it.File("app/hello", "hi\n"),
	}}}}}})
	path = filepath.Join(dir, name)
	if err := s.WriteTar(path); err != nil {
		t.Fatal(err)
	}
	a, err := oci.Analyze(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return path, a.ImageDigest.String()
}

// fakeBuilds builds the target from images: good before v0.21.0, bad
// from it on, failing at the versions in fail. It records what it built.
type fakeBuilds struct {
	t        *testing.T
	good     string
	bad      string
	fail     []string
	versions []string
}

func (f *fakeBuilds) build(c matrix.Cell, keep string) report.CellResult {
	v := c.BuildKit.EffectiveVersion()
	f.versions = append(f.versions, v)
	res := report.CellResult{Name: c.Name(), Axes: c.Coords()}
	if slices.Contains(f.fail, v) {
		res.Error = "build: buildkitd exited: exit status 2"
		return res
	}
	src := f.good
	if v >= "v0.21.0" {
		src = f.bad
	}
	if err := copyFile(src, keep); err != nil {
		f.t.Fatal(err)
	}
	a, err := oci.Analyze(context.Background(), keep)
	if err != nil {
		f.t.Fatal(err)
	}
	res.Digest, res.Tarball = a.ImageDigest.String(), keep
	return res
}

func (f *fakeBuilds) builder() cellBuilder {
	return func(_ context.Context, _ *matrix.Matrix, c matrix.Cell, _, keep string, _ io.Writer) report.CellResult {
		return f.build(c, keep)
	}
}

// runBisectCmd runs the bisect command in this process; the host's
// engines answer 20.10.24.
func runBisectCmd(t *testing.T, build cellBuilder, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	probe := func(context.Context, matrix.EngineKind) (string, error) { return "20.10.24", nil }
	if build == nil {
		build = func(context.Context, *matrix.Matrix, matrix.Cell, string, string, io.Writer) report.CellResult {
			t.Fatal("built a cell")
			return report.CellResult{}
		}
	}
	cmd := bisectCmd(probe, bisectReleases, build)
	cmd.SetArgs(args)
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	code := exitOK
	if err != nil {
		code = exitUsage
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		stderr.WriteString("repro-matrix: " + err.Error() + "\n")
	}
	return stdout.String(), stderr.String(), code
}

// writeResults writes a results.json holding the target's cells at the
// given versions, with their tarballs.
func writeResults(t *testing.T, dir string, cells map[string][2]string) string {
	t.Helper()
	var run report.Run
	run.ID, run.Profile = "recorded", "nightly"
	for _, v := range slices.Sorted(func(yield func(string) bool) {
		for v := range cells {
			if !yield(v) {
				return
			}
		}
	}) {
		c := cell.Coords{Fixture: "f", Platform: "linux-amd64", Engine: "docker-20.10.24", BuildKit: v, Exporter: "docker"}
		pinned := v == "v0.19.0"
		run.Results = append(run.Results, report.CellResult{Name: c.Name(), Axes: c, Group: c.Group(),
			Digest: cells[v][0], Tarball: cells[v][1], Pinned: &pinned})
	}
	path := filepath.Join(dir, "results.json")
	if err := report.WriteJSON(path, run); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBisectRecordedLadder(t *testing.T) {
	dir := writeCLIMatrix(t, ladderMatrix)
	good, goodDigest := bisectImage(t, t.TempDir(), false)
	bad, badDigest := bisectImage(t, t.TempDir(), true)
	cells := map[string][2]string{}
	for _, v := range bisectVersions {
		cells[v] = [2]string{goodDigest, good}
		if v >= "v0.21.0" {
			cells[v] = [2]string{badDigest, bad}
		}
	}
	results := writeResults(t, t.TempDir(), cells)
	reports := t.TempDir()
	stdout, stderr, code := runBisectCmd(t, nil, "--matrix", filepath.Join(dir, "matrix.yaml"), "--cell", bisectTarget,
		"--results", results, "--reports", reports)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("output:\n%s", stdout)
	for _, w := range []string{
		"bisect " + bisectTarget + "\n",
		"ladder v0.19.0..latest: 5 releases, v0.19.0 v0.20.2 v0.21.0 v0.22.1 v0.23.0\n",
		"good digest " + goodDigest + " (recorded by the pinned BuildKit v0.19.0; no golden digest)\n",
		"consulted (scanned every version (all recorded)):\n",
		"  v0.21.0  recorded  bad   " + badDigest + "\n",
		"answer: first bad v0.21.0, last good v0.20.2\n",
		"  last good v0.20.2  https://github.com/moby/buildkit/releases/tag/v0.20.2\n",
		"  first bad v0.21.0  https://github.com/moby/buildkit/releases/tag/v0.21.0\n",
		"diff v0.20.2 -> v0.21.0:\ndiffers in 1 config field, 1 layer entry (strict); semantically differs in 1 layer entry\n",
		"└─ ! /app: mode 0644 ≠ 0755",
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q", w)
		}
	}
	folder := filepath.Join(reports, "fixture-f_platform-linux-amd64_engine-docker-20.10.24_exporter-docker")
	for _, f := range []string{"last-good-v0.20.2.tar", "first-bad-v0.21.0.tar", "diff.txt", "bisect.json"} {
		if _, err := os.Stat(filepath.Join(folder, f)); err != nil {
			t.Errorf("not kept: %v", err)
		}
	}
}

func TestBisectBuildsWhatItNeeds(t *testing.T) {
	dir := writeCLIMatrix(t, ladderMatrix)
	good, _ := bisectImage(t, t.TempDir(), false)
	bad, badDigest := bisectImage(t, t.TempDir(), true)
	f := &fakeBuilds{t: t, good: good, bad: bad, fail: []string{"v0.22.1"}}
	stdout, stderr, code := runBisectCmd(t, f.builder(), "--matrix", filepath.Join(dir, "matrix.yaml"), "--cell", bisectTarget,
		"--reports", t.TempDir())
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("output:\n%s", stdout)
	// The pin first (no golden digest, nothing recorded), then the newest,
	// then midpoints: v0.21.0, v0.20.2. v0.22.1, which fails, is never built.
	if !slices.Equal(f.versions, []string{"v0.19.0", "v0.23.0", "v0.21.0", "v0.20.2"}) {
		t.Errorf("built %v", f.versions)
	}
	for _, w := range []string{
		"good digest ", "(built by the pinned BuildKit v0.19.0; no golden digest)",
		"consulted (binary search: 4 of 5 versions consulted, 4 built):",
		"  v0.23.0  built  bad   " + badDigest,
		"answer: first bad v0.21.0, last good v0.20.2",
		"note: binary search: 4 of 5 versions consulted, assuming one transition",
		"diff v0.20.2 -> v0.21.0",
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q", w)
		}
	}
	if !strings.Contains(stderr, "bisect: build 1: fixture=f/platform=linux-amd64/engine=docker-20.10.24/buildkit=v0.19.0/exporter=docker") {
		t.Errorf("stderr:\n%s", stderr)
	}

	// With --from/--to the ladder is another; a failing version is skipped.
	f = &fakeBuilds{t: t, good: good, bad: bad, fail: []string{"v0.21.0"}}
	stdout, _, code = runBisectCmd(t, f.builder(), "--matrix", filepath.Join(dir, "matrix.yaml"), "--cell", bisectTarget,
		"--from", "v0.20.0", "--to", "v0.22.1", "--reports", t.TempDir())
	if code != exitOK || !strings.Contains(stdout, "ladder v0.20.0..v0.22.1: 3 releases, v0.20.2 v0.21.0 v0.22.1\n") ||
		!strings.Contains(stdout, "answer: first bad one of v0.21.0, v0.22.1") ||
		!strings.Contains(stdout, "  first bad? v0.21.0  https://github.com/moby/buildkit/releases/tag/v0.21.0 (failed to build)") {
		t.Errorf("exit %d\n%s", code, stdout)
	}
}

func TestBisectRefusesInput(t *testing.T) {
	dir := writeCLIMatrix(t, ladderMatrix)
	file := filepath.Join(dir, "matrix.yaml")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"several cells", []string{"--matrix", file, "--cell", "fixture=f/platform=linux-amd64/exporter=docker"},
			"--cell fixture=f/platform=linux-amd64/exporter=docker matches 2 cells, which differ in engine (docker-20.10.24, podman-4.3.1): name one value of each"},
		{"several fields", []string{"--matrix", file, "--cell", "fixture=f"},
			"matches 8 cells, which differ in platform (linux-amd64, linux-arm64) and engine (docker-20.10.24, podman-4.3.1) and exporter (docker, oci)"},
		{"no cell", []string{"--matrix", file, "--cell", "fixture=f/engine=docker-99*"}, "--cell fixture=f/engine=docker-99* matches no fixture, platform, engine and exporter"},
		{"buildkit", []string{"--matrix", file, "--cell", bisectTarget + "/buildkit=v0.19.0"}, "leave buildkit out"},
		{"no cell flag", []string{"--matrix", file}, "--cell: required"},
		{"missing matrix", []string{"--matrix", filepath.Join(dir, "nope.yaml"), "--cell", bisectTarget}, "--matrix: "},
		{"a ladder that resolves to nothing", []string{"--matrix", file, "--cell", bisectTarget, "--from", "v0.30.0", "--to", "latest"}, "--from/--to: buildkit ladder v0.30.0..latest"},
		{"missing results", []string{"--matrix", file, "--cell", bisectTarget, "--results", filepath.Join(dir, "nope.json")}, "--results: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runBisectCmd(t, nil, append(tc.args, "--reports", t.TempDir())...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
		})
	}
	// The command is registered: the binary refuses a missing matrix with 2.
	r := runCLI(t, "bisect", "--matrix", filepath.Join(dir, "nope.yaml"), "--cell", bisectTarget, "--reports", t.TempDir())
	r.expect(t, exitUsage, "repro-matrix: --matrix: ", "nope.yaml")
}

// TestSelectTargetPlatformSet: a platform set has only oci-exporter cells,
// so a pattern that leaves the exporter open selects the oci one, and one
// that names the docker exporter selects nothing.
func TestSelectTargetPlatformSet(t *testing.T) {
	m, err := matrix.Load("../../matrix.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pat, err := cell.ParsePattern("fixture=two-platform-index/platform=linux-amd64+linux-arm64/engine=docker-20.10.24")
	if err != nil {
		t.Fatal(err)
	}
	got, err := selectTarget(m, pat)
	if err != nil || got.exporter.Name != "oci" || got.platform != "linux/amd64,linux/arm64" {
		t.Fatalf("selectTarget = %s, %v; want the oci cell of the set", got.name(), err)
	}
	pat, _ = cell.ParsePattern("fixture=two-platform-index/platform=linux-amd64+linux-arm64/engine=docker-20.10.24/exporter=docker")
	if got, err := selectTarget(m, pat); err == nil {
		t.Errorf("selectTarget gave %s, a docker exporter for a platform set", got.name())
	}
}

package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/engine"
	"github.com/repro-matrix/repro-matrix/internal/images"
	"github.com/repro-matrix/repro-matrix/internal/matrix"
	"github.com/repro-matrix/repro-matrix/internal/oci"
	"github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
	"github.com/repro-matrix/repro-matrix/internal/report"
)

// fakeEngine is a Docker engine whose CLI is this test binary
// (TestFakeEngineProcess): its `buildx build` writes a small real OCI image
// tarball where --output says, so that a cell runs cell → options → build →
// analyze → result without Docker.
type fakeEngine struct {
	mode string // "ok", "fail" (the build exits 1) or "hang" (until killed)
	log  string // file that records each command, one a line
}

func (f *fakeEngine) Kind() engine.Kind { return engine.Docker }
func (f *fakeEngine) Name() string      { return "docker-99.1.0" }
func (f *fakeEngine) Version() string   { return "99.1.0" }
func (f *fakeEngine) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"-test.run=^TestFakeEngineProcess$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), "REPRO_FAKE_ENGINE="+f.mode, "REPRO_FAKE_LOG="+f.log)
	return cmd
}
func (f *fakeEngine) Environment(context.Context) (map[string]string, error) {
	return map[string]string{"engine_version": "99.1.0"}, nil
}
func (f *fakeEngine) Close(context.Context) error               { return nil }
func (f *fakeEngine) Alive(context.Context) error               { return nil }
func (f *fakeEngine) Logs(context.Context, int) (string, error) { return "", nil }

// TestFakeEngineProcess is the fake engine's CLI when REPRO_FAKE_ENGINE is
// set; otherwise it does nothing.
func TestFakeEngineProcess(t *testing.T) {
	mode := os.Getenv("REPRO_FAKE_ENGINE")
	if mode == "" {
		return
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	if f, err := os.OpenFile(os.Getenv("REPRO_FAKE_LOG"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
		fmt.Fprintln(f, strings.Join(args, " "))
		f.Close()
	}
	os.Exit(fakeCLI(mode, args))
}

func fakeCLI(mode string, args []string) int {
	if len(args) < 2 || args[0] != "buildx" || !slices.Contains(args, "build") {
		return 0 // inspect, create, rm: nothing to do
	}
	switch mode {
	case "fail":
		fmt.Fprintln(os.Stderr, "ERROR: failed to solve: process \"/bin/sh -c false\" did not complete successfully")
		return 1
	case "hang":
		time.Sleep(time.Minute)
		return 1
	}
	var dests []string
	for i, a := range args {
		if a == "--output" && i+1 < len(args) {
			for _, kv := range strings.Split(args[i+1], ",") {
				if v, ok := strings.CutPrefix(kv, "dest="); ok {
					dests = append(dests, v)
				}
			}
		}
	}
	// A fixture that is not deterministic: its rebuild on a fresh builder
	// (the self-check's, named *-self) writes another image.
	rebuild := slices.ContainsFunc(args, func(a string) bool { return strings.HasSuffix(a, "-self") })
	layout, err := ocitest.BuildLayout(ocitest.Options{Docker: mode == "nondeterministic" && rebuild})
	if err != nil || len(dests) == 0 {
		fmt.Fprintln(os.Stderr, "fake build:", err, dests)
		return 2
	}
	for _, dest := range dests {
		if err := os.WriteFile(dest, layout.Tar(), 0o600); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	return 0
}

// fakeRun is a prepared run with one fake engine and one cell of a fixture
// without base image.
func fakeRun(t *testing.T, mode string) (*Cells, matrix.Cell) {
	t.Helper()
	fixture := t.TempDir()
	if err := os.WriteFile(filepath.Join(fixture, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	epoch := int64(0)
	e := &fakeEngine{mode: mode, log: filepath.Join(t.TempDir(), "commands")}
	c := matrix.Cell{
		Fixture:  &matrix.Fixture{Name: "scratch", Dir: fixture, Dockerfile: filepath.Join(fixture, "Dockerfile"), SourceDateEpoch: &epoch},
		Platform: "linux/amd64",
		Engine:   &matrix.Engine{Name: e.Name(), Kind: matrix.EngineKind(engine.Docker), Version: e.Version(), Where: matrix.Host},
		BuildKit: &matrix.BuildKit{Name: "v0.19.0", Version: "v0.19.0"},
		Exporter: &matrix.Exporter{Name: "oci", Type: "oci"},
	}
	sh := &Shared{RunID: NewRunID(), WorkDir: t.TempDir(), Engines: map[string]engine.Handle{},
		BuildKits: map[string]BuildKitImage{"v0.19.0": {Ref: "localhost/repro-matrix/buildkit:v0.19.0", Version: "v0.19.0",
			Origin: images.Origin{Recipe: "go github.com/moby/buildkit@v0.19.0"}}}}
	r := NewCells(sh, []matrix.Cell{c}, []matrix.Cell{c})
	r.engines[e.Name()], r.envs[e.Name()] = e, map[string]string{"engine_version": e.Version(), "buildx_version": "0.29.1+ds1"}
	return r, c
}

// commands are the fake engine's commands so far whose words start with
// prefix.
func commands(t *testing.T, r *Cells, prefix string) []string {
	t.Helper()
	e := r.engines["docker-99.1.0"].(*fakeEngine)
	b, _ := os.ReadFile(e.log)
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return out
}

func TestCellRunsThroughBuildAndAnalyze(t *testing.T) {
	r, c := fakeRun(t, "ok")
	res := r.Run(context.Background(), c, io.Discard)
	if res.Error != "" {
		t.Fatalf("cell failed: %s", res.Error)
	}
	a, err := oci.Analyze(context.Background(), res.Tarball)
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest == "" || res.Digest != a.ImageDigest.String() {
		t.Errorf("cell digest %q, the tarball's %s", res.Digest, a.ImageDigest)
	}
	if res.Name != c.Name() || res.Group != c.Group() {
		t.Errorf("result named %s in %s, cell %s in %s", res.Name, res.Group, c.Name(), c.Group())
	}
	if res.Env[report.EnvBuildKitOrigin] != "built from go github.com/moby/buildkit@v0.19.0" || res.Env[report.EnvEngineOrigin] != "host" {
		t.Errorf("origins not recorded: %v", res.Env)
	}
	for _, k := range []string{"build", "analyze", "total"} {
		if res.Timings[k] <= 0 {
			t.Errorf("no %s timing: %v", k, res.Timings)
		}
	}
}

func TestFailedBuildIsAFailedCell(t *testing.T) {
	r, c := fakeRun(t, "fail")
	res := r.Run(context.Background(), c, io.Discard)
	if res.Digest != "" || !strings.Contains(res.Error, "failed to solve") || res.Interrupted {
		t.Errorf("a failed build gave digest %q, error %q, interrupted %v", res.Digest, res.Error, res.Interrupted)
	}
	if _, err := os.Stat(filepath.Join(r.Shared.WorkDir, "cells")); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(r.Shared.WorkDir, "cells", "*", "*.tar*"))
	if len(left) > 0 {
		t.Errorf("a failed build left tarballs: %v", left)
	}
}

func TestCancelledCellIsInterrupted(t *testing.T) {
	r, c := fakeRun(t, "hang")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	res := r.Run(ctx, c, io.Discard)
	if !res.Interrupted || res.Digest != "" || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("a cancelled cell: interrupted %v, digest %q, error %q", res.Interrupted, res.Digest, res.Error)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("cancellation took %s", d)
	}
}

func TestUnknownEngineFailsTheCell(t *testing.T) {
	r, c := fakeRun(t, "ok")
	c.Engine = &matrix.Engine{Name: "podman-0.0.1", Kind: matrix.EngineKind(engine.Podman), Where: matrix.Host}
	res := r.Run(context.Background(), c, io.Discard)
	if res.Digest != "" || !strings.Contains(res.Error, "podman-0.0.1 was not started") {
		t.Errorf("digest %q, error %q", res.Digest, res.Error)
	}
}

// exporters returns c under each of the three exporters of matrix.yaml.
func exporters(c matrix.Cell) []matrix.Cell {
	yes := true
	var out []matrix.Cell
	for _, x := range []*matrix.Exporter{{Name: "docker", Type: "docker"}, {Name: "oci", Type: "oci"},
		{Name: "docker-oci-mediatypes", Type: "docker", OCIMediatypes: &yes}} {
		c.Exporter = x
		out = append(out, c)
	}
	return out
}

// runCells makes cells the run's selection.
func runCells(r *Cells, cells []matrix.Cell) {
	r.selected = map[string][]matrix.Cell{}
	for _, c := range cells {
		r.selected[batchKey(c)] = append(r.selected[batchKey(c)], c)
	}
	r.selfChecks = SelfCheckCells(cells)
}

func TestExportersShareOneSolveAndOneBuilder(t *testing.T) {
	r, c := fakeRun(t, "ok")
	cells := exporters(c)
	runCells(r, cells)
	var results []report.CellResult
	for _, c := range cells {
		results = append(results, r.Run(context.Background(), c, io.Discard))
	}
	name := "repro-matrix-run-" + r.Shared.RunID + "-" + shortHash(Pair(c))
	builds := commands(t, r, "buildx --builder "+name+" build")
	if len(builds) != 1 || strings.Count(builds[0], "--output") != 3 || !strings.Contains(builds[0], "oci-mediatypes=true") {
		t.Fatalf("want one build with three outputs, got %q", builds)
	}
	if creates := commands(t, r, "buildx create --name "+name+" "); len(creates) != 1 {
		t.Errorf("want the pair's builder created once, got %q", creates)
	}
	// The self-check: one more build of the three outputs on a builder of
	// its own, created and removed for it.
	if self := commands(t, r, "buildx --builder "+name+"-self build"); len(self) != 1 || strings.Count(self[0], "--output") != 3 {
		t.Errorf("want one self-check build with three outputs, got %q", self)
	}
	if rms := commands(t, r, "buildx rm --force "+name+"-self"); len(rms) != 1 {
		t.Errorf("want the self-check's builder removed, got %q", rms)
	}
	tarballs := map[string]bool{}
	for _, res := range results {
		if res.Error != "" || res.Digest == "" || res.SharedBuild != 3 {
			t.Errorf("%s: error %q, digest %q, shared build %d", res.Name, res.Error, res.Digest, res.SharedBuild)
		}
		// An identical rebuild's tarball is not kept: nothing diffs it.
		if res.SelfCheck != res.Digest || res.SelfCheckTarball != "" || res.Timings["self-check"] <= 0 {
			t.Errorf("%s: self-check %q (tarball %s, %s) of digest %s", res.Name, res.SelfCheck, res.SelfCheckTarball, res.Timings["self-check"], res.Digest)
		}
		if res.Timings["build"] != results[0].Timings["build"] || res.Timings["total"] < res.Timings["build"] {
			t.Errorf("%s: build time %s not a third of the shared build (first cell %s), total %s", res.Name,
				res.Timings["build"], results[0].Timings["build"], res.Timings["total"])
		}
		tarballs[res.Tarball] = true
	}
	if len(tarballs) != 3 {
		t.Errorf("cells share tarballs: %v", tarballs)
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rms := commands(t, r, "buildx rm --force "+name); len(rms) != 2 {
		t.Errorf("want the builder and the self-check's removed once each, got %q", rms)
	}
}

func TestOldBuildKitBuildsEachExporterAlone(t *testing.T) {
	r, c := fakeRun(t, "ok")
	r.Shared.BuildKits["v0.19.0"] = BuildKitImage{Ref: "moby/buildkit:v0.12.5", Version: "v0.12.5"}
	cells := exporters(c)
	runCells(r, cells)
	for _, c := range cells {
		if res := r.Run(context.Background(), c, io.Discard); res.Error != "" || res.SharedBuild != 0 {
			t.Errorf("%s: error %q, shared build %d", res.Name, res.Error, res.SharedBuild)
		}
	}
	name := "repro-matrix-run-" + r.Shared.RunID + "-" + shortHash(Pair(c))
	if builds := commands(t, r, "buildx --builder "+name+" build"); len(builds) != 3 {
		t.Errorf("BuildKit v0.12 cannot export one solve several times: want three builds, got %d", len(builds))
	}
}

func TestSharedBuildFailureFailsEveryCell(t *testing.T) {
	r, c := fakeRun(t, "fail")
	cells := exporters(c)
	runCells(r, cells)
	for _, c := range cells {
		res := r.Run(context.Background(), c, io.Discard)
		if res.Digest != "" || !strings.Contains(res.Error, "one solve for 3 exporters") || !strings.Contains(res.Error, "failed to solve") {
			t.Errorf("%s: digest %q, error %q", res.Name, res.Digest, res.Error)
		}
	}
	if builds := commands(t, r, "buildx --builder"); len(builds) != 1 {
		t.Errorf("a failed shared build ran %d times", len(builds))
	}
}

func TestBuilderSeesTheRunAndThePairsFixtures(t *testing.T) {
	r, c := fakeRun(t, "ok")
	other := c
	other.Fixture = &matrix.Fixture{Name: "elsewhere", Dir: t.TempDir(), Dockerfile: "/df/Dockerfile"}
	r.selected[batchKey(other)] = []matrix.Cell{other}
	got := r.mounts(c)
	for _, want := range []string{r.Shared.WorkDir, c.Fixture.Dir, other.Fixture.Dir, "/df"} {
		if !slices.Contains(got, want) {
			t.Errorf("builder mounts %v lack %s", got, want)
		}
	}
}

func TestSelfCheckSeesANonDeterministicFixture(t *testing.T) {
	r, c := fakeRun(t, "nondeterministic")
	res := r.Run(context.Background(), c, io.Discard)
	if res.Error != "" || res.Digest == "" || res.SelfCheck == "" || res.SelfCheck == res.Digest || res.SelfCheckError != "" {
		t.Errorf("digest %q, self-check %q (error %q)", res.Digest, res.SelfCheck, res.SelfCheckError)
	}
	if _, err := os.Stat(res.SelfCheckTarball); err != nil {
		t.Errorf("the rebuild's tarball is not kept for the diff: %v", err)
	}
}

func TestSelfCheckCellsOnePerGroupOnThePin(t *testing.T) {
	_, c := fakeRun(t, "ok")
	pinned := *c.BuildKit
	pinned.Pinned = true
	latest := &matrix.BuildKit{Name: "latest"}
	inCtr := &matrix.Engine{Name: "docker-28.5.2", Kind: c.Engine.Kind, Where: matrix.Container}
	var cells []matrix.Cell
	for _, e := range []*matrix.Engine{inCtr, c.Engine} {
		for _, bk := range []*matrix.BuildKit{latest, &pinned} {
			x := c
			x.Engine, x.BuildKit = e, bk
			cells = append(cells, exporters(x)...)
		}
	}
	got := SelfCheckCells(cells)
	if len(got) != 3 {
		t.Fatalf("want one cell per group (3 exporters), got %v", got)
	}
	for name := range got {
		if !strings.Contains(name, "engine=docker-99.1.0/buildkit=v0.19.0/") {
			t.Errorf("self-check %s: want the pinned BuildKit under the host engine", name)
		}
	}
}

func TestVariationsRebuildTheSelfCheckedCell(t *testing.T) {
	r, c := fakeRun(t, "ok")
	c.Vary = []string{"umask", "tz"}
	runCells(r, []matrix.Cell{c})
	res := r.Run(context.Background(), c, io.Discard)
	if res.Error != "" || len(res.Variations) != 2 {
		t.Fatalf("error %q, variations %+v", res.Error, res.Variations)
	}
	for _, v := range res.Variations {
		if v.Digest != res.Digest || v.Error != "" || v.Changed == "" || v.Tarball != "" {
			t.Errorf("variation %+v of digest %s", v, res.Digest)
		}
	}
	name := "repro-matrix-run-" + r.Shared.RunID + "-" + shortHash(Pair(c))
	builds := commands(t, r, "buildx --builder "+name+" build")
	if len(builds) != 3 || !strings.Contains(builds[1], "vary-umask") || !strings.HasSuffix(builds[2], "/context-tz") {
		t.Errorf("want the cell's build then one per variation from a copied context, got %q", builds)
	}
	if left, _ := filepath.Glob(filepath.Join(r.Shared.WorkDir, "cells", "vary-*")); len(left) > 0 {
		t.Errorf("varied contexts left behind: %v", left)
	}
}

func TestSelfChecksTakeTurnsAmongThePinsHostPairs(t *testing.T) {
	_, c := fakeRun(t, "ok")
	c.BuildKit = &matrix.BuildKit{Name: "v0.19.0", Pinned: true}
	podman := &matrix.Engine{Name: "podman-4.3.1", Kind: matrix.EngineKind(engine.Podman), Where: matrix.Host}
	var cells []matrix.Cell
	for _, f := range []string{"a", "b"} {
		for _, e := range []*matrix.Engine{c.Engine, podman} {
			x := c
			x.Fixture = &matrix.Fixture{Name: f, Dir: c.Fixture.Dir}
			x.Engine = e
			cells = append(cells, exporters(x)...)
		}
	}
	pairs := map[string]map[string]bool{} // fixture -> pairs self-checked
	for name := range SelfCheckCells(cells) {
		for _, x := range cells {
			if x.Name() == name {
				if pairs[x.Fixture.Name] == nil {
					pairs[x.Fixture.Name] = map[string]bool{}
				}
				pairs[x.Fixture.Name][Pair(x)] = true
			}
		}
	}
	if len(pairs["a"]) != 1 || len(pairs["b"]) != 1 {
		t.Fatalf("want one pair per fixture for all its exporters, got %v", pairs)
	}
	for p := range pairs["a"] {
		if pairs["b"][p] {
			t.Errorf("fixtures a and b both self-check on %s: the work is not spread", p)
		}
	}
}

func TestShardSelfChecksWhatTheWholeRunDoes(t *testing.T) {
	r, c := fakeRun(t, "ok")
	pinned := c
	pinned.Engine = &matrix.Engine{Name: "docker-1.0.0", Kind: c.Engine.Kind, Where: matrix.Host}
	pinned.BuildKit = &matrix.BuildKit{Name: "v0.19.0", Pinned: true}
	profile := []matrix.Cell{c, pinned}
	// A shard that runs only c: the profile self-checks the pinned cell.
	r.selfChecks = NewCells(r.Shared, profile, []matrix.Cell{c}).selfChecks
	if res := r.Run(context.Background(), c, io.Discard); res.Error != "" || res.SelfCheck != "" {
		t.Errorf("a cell the profile does not self-check: error %q, self-check %q", res.Error, res.SelfCheck)
	}
}

func TestOneTarballKeptPerGroupAndDigest(t *testing.T) {
	r, _ := fakeRun(t, "ok")
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "a.tar"), filepath.Join(dir, "b.tar"), filepath.Join(dir, "c.tar")
	for _, p := range []string{a, b, c} {
		os.WriteFile(p, []byte("x"), 0o644)
	}
	if got := r.keep("g", "sha256:1", a); got != a {
		t.Errorf("first tarball of a digest: kept %s", got)
	}
	if got := r.keep("g", "sha256:1", b); got != a {
		t.Errorf("second tarball of the digest: carries %s, want %s", got, a)
	}
	if _, err := os.Stat(b); err == nil {
		t.Error("the identical copy was not removed")
	}
	if got := r.keep("g", "sha256:2", c); got != c {
		t.Errorf("another digest: kept %s", got)
	}
	if _, err := os.Stat(a); err != nil {
		t.Errorf("the kept tarball is gone: %v", err)
	}
}

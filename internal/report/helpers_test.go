package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/cell"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var t0 = time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC)

// dg is a full sha256 digest made of one repeated hex character.
func dg(c string) string { return "sha256:" + strings.Repeat(c, 64) }

var (
	dA = dg("a")
	dB = dg("b")
	dC = dg("c")
)

// result builds a cell's result; the options adjust it.
func result(fixture, platform, engine, buildkit, exporter, digest, golden string, opts ...func(*CellResult)) CellResult {
	a := cell.Coords{Fixture: fixture, Platform: platform, Engine: engine, BuildKit: buildkit, Exporter: exporter}
	r := CellResult{
		Name:    a.Name(),
		Axes:    a,
		Group:   a.Group(),
		Digest:  digest,
		Golden:  golden,
		Tarball: "reports/tarballs/" + engine + "-" + buildkit + "-" + platform + "-" + exporter + ".tar",
		Started: t0,
		Env:     engineEnv(engine, buildkit),
		Timings: Durations{"build": 40 * time.Second, "analyze": 1500 * time.Millisecond, "total": 41500 * time.Millisecond},
	}
	for _, o := range opts {
		o(&r)
	}
	return r
}

func engineEnv(engine, buildkit string) map[string]string {
	env := map[string]string{"engine": engine, "buildkit_version": strings.TrimPrefix(buildkit, "v"), "kernel": "6.1.0-28-amd64"}
	switch engine {
	case "docker-20":
		env["engine_version"], env["runc"], env["storage_driver"] = "20.10.24", "1.1.5", "overlay2"
	case "docker-28":
		env["engine_version"], env["runc"], env["storage_driver"] = "28.5.2", "1.3.6", "overlay2"
	case "podman-4":
		env["engine_version"], env["runc"], env["storage_driver"] = "4.3.1", "1.1.5", "overlay"
	case "podman-5":
		env["engine_version"], env["runc"], env["storage_driver"] = "5.4.2", "1.1.15", "overlay"
	}
	return env
}

func failed(msg string) func(*CellResult) {
	return func(r *CellResult) { r.Digest, r.Error = "", msg }
}

func interrupted(r *CellResult) { r.Digest, r.Interrupted, r.Timings = "", true, nil }

func took(total time.Duration) func(*CellResult) {
	return func(r *CellResult) {
		r.Timings = Durations{"build": total - time.Second, "analyze": time.Second, "total": total}
	}
}

// four is a group of four cells in fixture "timestamps", linux-amd64, docker exporter.
func four(digests [4]string, golden string, opts ...map[int][]func(*CellResult)) []CellResult {
	engines := [4][2]string{{"docker-20", "v0.19.0"}, {"docker-28", "v0.34.2"}, {"podman-4", "v0.19.0"}, {"podman-5", "v0.34.2"}}
	var out []CellResult
	for i, e := range engines {
		var o []func(*CellResult)
		if len(opts) > 0 {
			o = opts[0][i]
		}
		out = append(out, result("timestamps", "linux-amd64", e[0], e[1], "docker", digests[i], golden, o...))
	}
	return out
}

func newRun(results []CellResult, known []cell.KnownDivergence) Run {
	r := Run{
		ID: "nightly-2026-05-01", Profile: "nightly",
		Started: t0, Finished: t0.Add(42*time.Minute + 10*time.Second),
		Results: results, Known: known,
	}
	r.Evaluate()
	return r
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test ./internal/report/... -update to accept):\n--- got ---\n%s", path, got)
	}
}

func markdown(t *testing.T, run Run) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteMarkdown(&b, run); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

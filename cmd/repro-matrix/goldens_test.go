package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/repro-matrix/repro-matrix/internal/matrix"
	"github.com/repro-matrix/repro-matrix/internal/report"
)

// smokeRun is a real smoke run recorded here: scratch-copy on linux/amd64
// with the docker exporter, under Docker 20.10 and Podman 4.3 with the
// pinned BuildKit, both building smokeDigest.
var smokeRun = filepath.Join("testdata", "merge", "smoke-whole.json")

const smokeDigest = "sha256:ce2260aed2e24446d47e2c67b8079911e4bcac0192c2ccbb8507c04b3ebe3103"

// goldensMatrix writes a matrix with the smoke run's fixture, engines and
// pinned BuildKit into a new folder and loads it.
func goldensMatrix(t *testing.T) *matrix.Matrix {
	t.Helper()
	dir := t.TempDir()
	fx := filepath.Join(dir, "fixtures", "scratch-copy")
	if err := os.MkdirAll(fx, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fx, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(cliTestMatrix, "name: f,", "name: scratch-copy,")
	if err := os.WriteFile(filepath.Join(dir, "matrix.yaml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := matrix.Load(filepath.Join(dir, "matrix.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// goldens runs updateGoldens on the run at path and returns its output and
// exit code.
func goldens(t *testing.T, m *matrix.Matrix, path string, dry bool) (string, int) {
	t.Helper()
	var out bytes.Buffer
	err := updateGoldens(&out, m, readRun(t, path), m.Pinned().Name, dry)
	var ee *exitError
	switch {
	case err == nil:
		return out.String(), exitOK
	case errors.As(err, &ee):
		return out.String(), ee.code
	}
	t.Fatalf("goldens: %v", err)
	return "", -1
}

func TestGoldensRecordsTheAgreedDigest(t *testing.T) {
	m := goldensMatrix(t)
	fx := m.Fixture("scratch-copy")
	out, code := goldens(t, m, smokeRun, true)
	if code != exitOK || !strings.Contains(out, "scratch-copy linux/amd64/docker: (none) -> "+smokeDigest) ||
		!strings.Contains(out, "1 golden digests changed (dry run: nothing written)") {
		t.Errorf("dry run: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(fx.GoldensFile); err == nil {
		t.Error("a dry run wrote golden.yaml")
	}
	if out, code = goldens(t, m, smokeRun, false); code != exitOK || !strings.Contains(out, "1 golden digests changed\n") {
		t.Errorf("run: exit %d\n%s", code, out)
	}
	again, err := matrix.Load(m.Path)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := again.Fixture("scratch-copy").Golden("linux/amd64", "docker"); d.String() != smokeDigest {
		t.Errorf("golden.yaml holds %q", d)
	}
	if out, code = goldens(t, again, smokeRun, false); code != exitOK || !strings.Contains(out, "0 golden digests changed") {
		t.Errorf("second run: exit %d\n%s", code, out)
	}
}

// The golden digest is what the pinned BuildKit's cells built, however many
// cells of other BuildKits built another (cases README, "verdicts/").
func TestGoldensRecordsThePinNotAMajority(t *testing.T) {
	m := goldensMatrix(t)
	other := "sha256:" + strings.Repeat("b", 64)
	path := rewriteShard(t, smokeRun, func(r *report.Run) {
		for _, c := range slices.Clone(r.Results) {
			for _, bk := range []string{"latest", "v0.26.3"} {
				c.Name, c.Axes.BuildKit, c.Digest, c.Pinned = strings.Replace(c.Name, "v0.19.0", bk, 1), bk, other, new(false)
				r.Results = append(r.Results, c)
			}
		}
	})
	if out, code := goldens(t, m, path, true); code != exitOK || !strings.Contains(out, "-> "+smokeDigest) {
		t.Errorf("exit %d\n%s", code, out)
	}
}

func TestGoldensLeavesGroupsWithoutAgreement(t *testing.T) {
	const group = "fixture=scratch-copy/platform=linux-amd64/exporter=docker"
	for _, tc := range []struct {
		name string
		edit func(*report.Run)
		want string
	}{
		{"disagree", func(r *report.Run) { r.Results[1].Digest = "sha256:" + strings.Repeat("b", 64) },
			"not recorded: " + group + ": cells disagree"},
		{"failed", func(r *report.Run) { r.Results[0].Digest, r.Results[0].Error = "", "build: exit status 1" },
			"not recorded: " + group + ": cell " + group[:strings.Index(group, "/exporter")] + "/engine=docker-20.10.24/buildkit=v0.19.0/exporter=docker did not build"},
		{"no pinned cell", func(r *report.Run) {
			for i := range r.Results {
				r.Results[i].Axes.BuildKit = "latest"
			}
		}, "not recorded: no cell of the pinned BuildKit v0.19.0 in this run"},
		{"another pin", func(r *report.Run) {
			// The run that recorded these results pinned another BuildKit.
			for i := range r.Results {
				r.Results[i].Pinned = new(false)
			}
			c := r.Results[0]
			c.Name, c.Axes.BuildKit, c.Pinned = strings.Replace(c.Name, "v0.19.0", "v0.26.3", 1), "v0.26.3", new(true)
			r.Results = append(r.Results, c)
		}, "not recorded: " + group + ": the run that made these results pinned v0.26.3, not v0.19.0: record with the matrix file it used"},
		{"unknown fixture", func(r *report.Run) {
			for i := range r.Results {
				r.Results[i].Axes.Fixture, r.Results[i].Group = "gone", "fixture=gone/platform=linux-amd64/exporter=docker"
			}
		}, "not recorded: fixture=gone/platform=linux-amd64/exporter=docker: fixture gone is not in the matrix file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := goldensMatrix(t)
			out, code := goldens(t, m, rewriteShard(t, smokeRun, tc.edit), false)
			if code != exitMismatch || !strings.Contains(out, tc.want) || !strings.Contains(out, "0 golden digests changed") {
				t.Errorf("exit %d, want %d and %q:\n%s", code, exitMismatch, tc.want, out)
			}
			if _, err := os.Stat(m.Fixture("scratch-copy").GoldensFile); err == nil {
				t.Error("golden.yaml written")
			}
		})
	}
}

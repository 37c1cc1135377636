package main

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/cell"
	"github.com/repro-matrix/repro-matrix/internal/report"
	"github.com/repro-matrix/repro-matrix/internal/runner"
)

// Recorded shards: internal/report's full run cut in two by fixture (see
// internal/report/merge_test.go), and that run unsharded.
var (
	shardTimestamps = filepath.Join("..", "..", "internal", "report", "testdata", "shards", "fixture-timestamps.json")
	shardUmask      = filepath.Join("..", "..", "internal", "report", "testdata", "shards", "fixture-umask.json")
	unsharded       = filepath.Join("..", "..", "internal", "report", "testdata", "results.json")
)

// mergeCLI runs report merge into a fresh folder, with a step summary file,
// and returns the result and the folder.
func mergeCLI(t *testing.T, args ...string) (cliResult, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "merged")
	t.Setenv(report.StepSummaryEnv, filepath.Join(t.TempDir(), "step-summary.md"))
	return runCLI(t, append([]string{"report", "merge", "-o", out}, args...)...), out
}

func readRun(t *testing.T, path string) report.Run {
	t.Helper()
	run, err := report.ReadJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// Two shards merged give the unsharded run's verdicts; a failed group exits 1
// after the reports are written.
func TestReportMergeAsUnsharded(t *testing.T) {
	r, out := mergeCLI(t, shardTimestamps, shardUmask)
	r.expect(t, exitMismatch, "3 of 5 groups fail")
	for _, w := range []string{"FAIL group: fixture=timestamps/platform=linux-amd64/exporter=docker: disagree",
		"FAIL group: fixture=umask/platform=linux-amd64/exporter=oci: golden-mismatch", "merged: 14 cells, 5 groups"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
		}
	}
	merged, want := readRun(t, filepath.Join(out, "results.json")), readRun(t, unsharded)
	g, _ := json.Marshal(merged.Verdicts)
	w, _ := json.Marshal(want.Verdicts)
	if string(g) != string(w) {
		t.Errorf("merged verdicts differ from the unsharded run's:\n%s\nwant\n%s", g, w)
	}
	if merged.ID != want.ID || !merged.Interrupted || len(merged.Results) != len(want.Results) {
		t.Errorf("merged run %s interrupted %v, %d results", merged.ID, merged.Interrupted, len(merged.Results))
	}
	summary, err := os.ReadFile(filepath.Join(out, "summary.md"))
	if err != nil || !strings.Contains(string(summary), "layer 2: file /etc/ld.so.cache differs") {
		t.Errorf("summary.md (%v) lacks the shard's diff:\n%s", err, summary)
	}
	step, err := os.ReadFile(os.Getenv(report.StepSummaryEnv))
	if err != nil || !strings.HasPrefix(string(step), "# repro-matrix") {
		t.Errorf("step summary not written: %v", err)
	}
	var doc struct {
		Cases []struct {
			Name string `xml:"name,attr"`
		} `xml:"testsuite>testcase"`
	}
	data, _ := os.ReadFile(filepath.Join(out, "junit.xml"))
	if err := xml.Unmarshal(data, &doc); err != nil || len(doc.Cases) != 20 {
		t.Errorf("junit.xml: %v, %d cases", err, len(doc.Cases))
	}
}

// A real sharded run recorded on this project's machine: the smoke profile
// whole, and its two shards kind:docker and kind:podman sharing a run id.
func TestReportMergeRecordedSmokeRun(t *testing.T) {
	dir := filepath.Join("testdata", "merge")
	r, out := mergeCLI(t, "--matrix", filepath.Join("..", "..", "matrix.yaml"),
		filepath.Join(dir, "smoke-kind-docker.json"), filepath.Join(dir, "smoke-kind-podman.json"))
	r.expect(t, exitOK, "merged: 2 cells, 1 groups (agree 1)")
	merged, whole := readRun(t, filepath.Join(out, "results.json")), readRun(t, filepath.Join(dir, "smoke-whole.json"))
	g, _ := json.Marshal(merged.Verdicts.Groups)
	w, _ := json.Marshal(whole.Verdicts.Groups)
	if string(g) != string(w) {
		t.Errorf("merged verdicts differ from the whole run's:\n%s\nwant\n%s", g, w)
	}
	for i, c := range merged.Results {
		if c.Name != whole.Results[i].Name || c.Digest != whole.Results[i].Digest || c.Digest == "" {
			t.Errorf("cell %s: digest %s, whole run %s %s", c.Name, c.Digest, whole.Results[i].Name, whole.Results[i].Digest)
		}
	}
}

// passingShards writes two shards of a run of the project's matrix: the
// pinned BuildKit agrees under host Docker and Podman; BuildKit latest's
// docker exporter differs, which matrix.yaml lists as a known divergence
// (by the version latest resolved to, v0.34.2).
// The shards recorded no known divergence.
func passingShards(t *testing.T) [2]string {
	t.Helper()
	const fx, pl, ex = "scratch-copy", "linux-amd64", "docker"
	dA, dB := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64)
	start := time.Date(2026, 6, 1, 2, 0, 0, 0, time.UTC)
	var paths [2]string
	for i, engine := range []string{"docker-20.10.24", "podman-4.3.1"} {
		run := report.Run{ID: "20260601-020000-0a1b2c", Profile: "nightly", Started: start, Finished: start.Add(time.Minute)}
		for _, bk := range []string{"v0.19.0", "latest"} {
			a := cell.Coords{Fixture: fx, Platform: pl, Engine: engine, BuildKit: bk, Exporter: ex}
			d, version := dA, bk
			if bk == "latest" {
				d, version = dB, "v0.34.2" // the release latest resolved to, as cells record it
			}
			run.Results = append(run.Results, report.CellResult{Name: a.Name(), Axes: a, Group: a.Group(), Digest: d, Golden: dA,
				Env: map[string]string{"buildkit_version": version}})
		}
		paths[i] = filepath.Join(t.TempDir(), engine+".json")
		if err := report.WriteJSON(paths[i], run); err != nil {
			t.Fatal(err)
		}
	}
	return paths
}

// With --matrix the matrix's known divergences judge the merged run.
func TestReportMergeKnownFromMatrix(t *testing.T) {
	shards := passingShards(t)
	r, _ := mergeCLI(t, shards[0], shards[1])
	r.expect(t, exitMismatch, "1 of 1 groups fail")
	r, out := mergeCLI(t, "--matrix", filepath.Join("..", "..", "matrix.yaml"), shards[0], shards[1])
	r.expect(t, exitOK, "merged: 4 cells, 1 groups (known 1)")
	merged := readRun(t, filepath.Join(out, "results.json"))
	if g := merged.Verdicts.Groups[0]; g.State != report.GroupKnown || len(g.Known) != 1 || !strings.Contains(g.Known[0].Link, "moby/buildkit/pull/6824") {
		t.Errorf("group %s, known %+v", g.State, g.Known)
	}
}

func TestReportMergeUnusableInput(t *testing.T) {
	dir := t.TempDir()
	garbled := filepath.Join(dir, "garbled.json")
	data, err := os.ReadFile(shardUmask)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(garbled, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	profile := rewriteShard(t, shardUmask, func(r *report.Run) { r.Profile = "pr" })
	id := rewriteShard(t, shardUmask, func(r *report.Run) { r.ID = "20260501-030000-ffffff" })
	missing := filepath.Join(dir, "missing", "results.json")
	cell := "fixture=umask/platform=linux-amd64/engine=docker-28/buildkit=v0.19.0/exporter=oci"
	for name, c := range map[string]struct {
		args []string
		want []string
	}{
		"garbled":   {[]string{shardTimestamps, garbled}, []string{garbled}},
		"missing":   {[]string{shardTimestamps, missing}, []string{missing}},
		"duplicate": {[]string{shardTimestamps, shardUmask, shardUmask}, []string{"duplicate cell", cell + " (in " + shardUmask + ", " + shardUmask + ")"}},
		"profile":   {[]string{shardTimestamps, profile}, []string{"shards of different runs", profile + ` has profile "pr"`}},
		"id":        {[]string{shardTimestamps, id}, []string{id + ` has id "20260501-030000-ffffff"`, runner.RunIDEnv}},
		"no file":   {nil, []string{"requires at least 1 arg"}},
		"matrix":    {[]string{"--matrix", missing, shardTimestamps}, []string{missing}},
	} {
		t.Run(name, func(t *testing.T) {
			r, out := mergeCLI(t, c.args...)
			r.expect(t, exitUsage, c.want...)
			if _, err := os.Stat(out); err == nil {
				t.Errorf("reports written for unusable input")
			}
		})
	}
}

// rewriteShard writes a copy of the shard at path, changed by edit.
func rewriteShard(t *testing.T, path string, edit func(*report.Run)) string {
	t.Helper()
	run := readRun(t, path)
	edit(&run)
	p := filepath.Join(t.TempDir(), "shard.json")
	if err := report.WriteJSON(p, run); err != nil {
		t.Fatal(err)
	}
	return p
}

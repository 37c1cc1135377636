//go:build e2e

package suites_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/repro-matrix/repro-matrix/internal/report"
	"github.com/repro-matrix/repro-matrix/internal/runner"
)

// TestShardedRunMergesAsUnsharded runs the smoke profile (scratch-copy, host
// Docker and host Podman, pinned BuildKit) whole, then as two shards cut by
// the Ginkgo label filters kind:docker and kind:podman that share one run
// id, as the nightly workflow's jobs do; `repro-matrix report merge` must
// then give the whole run's verdicts and digests, and exit as the whole run
// did.
func TestShardedRunMergesAsUnsharded(t *testing.T) {
	t.Setenv(runner.RunIDEnv, "")
	wholeDir, out, _ := runSuite(t, "../../matrix.yaml", "smoke")
	whole := readRun(t, wholeDir)
	if len(whole.Results) != 2 {
		t.Fatalf("whole run: want 2 cells, got %d:\n%s", len(whole.Results), tail(out))
	}

	id := runner.NewRunID()
	t.Setenv(runner.RunIDEnv, id)
	var shards []string
	for _, kind := range []string{"docker", "podman"} {
		dir, out, _ := runSuite(t, "../../matrix.yaml", "smoke", "--label-filter=kind:"+kind)
		shard := readRun(t, dir)
		if len(shard.Results) != 1 || !strings.HasPrefix(shard.Results[0].Axes.Engine, kind+"-") {
			t.Fatalf("shard kind:%s: want its one cell, got %d:\n%s", kind, len(shard.Results), tail(out))
		}
		if shard.ID != id {
			t.Errorf("shard kind:%s has run id %q, want %q from %s", kind, shard.ID, id, runner.RunIDEnv)
		}
		shards = append(shards, filepath.Join(dir, "results.json"))
	}

	mergedDir, code, mergeOut := mergeShards(t, shards)
	wantCode := 0
	if whole.Failed() {
		wantCode = 1
	}
	if code != wantCode {
		t.Fatalf("report merge exited %d, the whole run failed: %v (want %d):\n%s", code, whole.Failed(), wantCode, mergeOut)
	}
	merged := readRun(t, mergedDir)
	if merged.ID != id || merged.Profile != "smoke" {
		t.Errorf("merged run %q profile %q, want %q smoke", merged.ID, merged.Profile, id)
	}
	if got, want := digests(merged), digests(whole); !equalMaps(got, want) {
		t.Errorf("merged digests %v, whole run's %v", got, want)
	}
	if got, want := groupsJSON(t, merged), groupsJSON(t, whole); got != want {
		t.Errorf("merged verdicts differ from the whole run's:\n%s\nwant\n%s", got, want)
	}
	checkMergedReports(t, mergedDir, merged)
	if left := leftovers(); len(left) > 0 {
		t.Errorf("left behind after the runs: %v", left)
	}
}

// mergeShards builds the CLI and runs report merge on the shards, with a
// step summary; it returns the merged reports folder, the exit code and the
// output.
func mergeShards(t *testing.T, shards []string) (string, int, string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "repro-matrix")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/repro-matrix").CombinedOutput(); err != nil {
		t.Fatalf("build repro-matrix: %v\n%s", err, out)
	}
	dir := t.TempDir()
	args := append([]string{"report", "merge", "-o", dir, "--matrix", "../matrix.yaml"}, shards...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), report.StepSummaryEnv+"="+filepath.Join(dir, "step-summary.md"))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run report merge: %v", err)
	}
	return dir, cmd.ProcessState.ExitCode(), string(out)
}

// checkMergedReports checks summary.md, the step summary and junit.xml of
// a merge.
func checkMergedReports(t *testing.T, dir string, merged report.Run) {
	t.Helper()
	for _, f := range []string{"summary.md", "step-summary.md"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || !strings.HasPrefix(string(data), "# repro-matrix") {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, r := range merged.Results {
			if !strings.Contains(string(data), r.Axes.Engine) {
				t.Errorf("%s does not name %s", f, r.Axes.Engine)
			}
		}
	}
	cases := junitCases(t, dir)
	for _, g := range merged.Verdicts.Groups {
		msg, ok := cases["verdicts "+g.Name()]
		if !ok || (msg == "") == g.Fails() {
			t.Errorf("junit: group case %q missing or with the wrong outcome (%q)", g.Name(), msg)
		}
	}
}

func digests(run report.Run) map[string]string {
	out := map[string]string{}
	for _, r := range run.Results {
		out[r.Name] = r.Digest
	}
	return out
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// groupsJSON is the group verdicts without what differs between runs by
// nature: where the tarballs were, and the diffs (a shard diffs only its own
// cells).
func groupsJSON(t *testing.T, run report.Run) string {
	t.Helper()
	for _, p := range run.Verdicts.Pairs() {
		p.Tarball, p.AgainstTarball = "", ""
		p.Diff, p.DiffSummary, p.DiffText, p.Hints = nil, "", "", nil
	}
	b, err := json.MarshalIndent(run.Verdicts.Groups, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

//go:build e2e

package suites_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/repro-matrix/repro-matrix/internal/matrix"
	"github.com/repro-matrix/repro-matrix/internal/report"
)

// TestVersionsNext runs the scratch-copy fixture under Docker 29 (its
// daemon, CLI and buildx built from the Go module proxy) in the containerd
// and the classic image store, and under the host's Docker driven by the
// newest buildx: every cell must build its golden digest, and each cell's
// environment must name the image store and buildx it ran with.
func TestVersionsNext(t *testing.T) {
	reports, out, ok := runSuite(t, "../testdata/next.yaml", "versions-next")
	if !ok {
		t.Fatalf("run failed:\n%s", tail(out))
	}
	run := readRun(t, reports)
	want := map[string]map[string]string{
		"docker-29.8.1":                 {"engine_version": "29.8.1", "image_store": "containerd", "buildx_version": "v0.37.1", "docker_cli_version": "29.8.1", "where": "container"},
		"docker-29.8.1-classic":         {"engine_version": "29.8.1", "image_store": "classic", "buildx_version": "v0.37.1", "docker_cli_version": "29.8.1", "where": "container"},
		"docker-20.10.24-buildx-0.38.2": {"engine_version": "20.10.24", "image_store": "classic", "buildx_version": "v0.38.2"},
	}
	seen := map[string]int{}
	for _, r := range run.Results {
		seen[r.Axes.Engine]++
		if r.Error != "" || r.Digest == "" || r.Golden == "" || r.Digest != r.Golden {
			t.Errorf("cell %s: digest %q, golden %q, error %q", r.Name, r.Digest, r.Golden, r.Error)
		}
		for k, v := range want[r.Axes.Engine] {
			if r.Env[k] != v {
				t.Errorf("cell %s: environment %s = %q, want %q", r.Name, k, r.Env[k], v)
			}
		}
		if strings.HasPrefix(r.Axes.Engine, "docker-29") && !strings.Contains(r.Env["os"], "forky") {
			t.Errorf("cell %s: engine os %q, want Debian forky (containerd and runc from it)", r.Name, r.Env["os"])
		}
	}
	for e := range want {
		if seen[e] != 2 {
			t.Errorf("engine %s: %d cells, want 2 (docker and oci exporters)", e, seen[e])
		}
	}
	for _, g := range run.Verdicts.Groups {
		if g.State != report.GroupAgree {
			t.Errorf("group %s: %s, want agree", g.Key, g.State)
		}
	}
	if len(run.Verdicts.Groups) != 2 {
		t.Errorf("want 2 groups, got %d", len(run.Verdicts.Groups))
	}
	if left := leftovers(); len(left) > 0 {
		t.Errorf("left behind after the run: %v", left)
	}
}

// TestPlatformSetIsOneIndex runs the two-platform-index fixture, whose
// platform is the set linux/amd64,linux/arm64, under Docker 29 and the
// host's Podman: one cell per engine with the oci exporter (the docker
// exporters write no index and are left out), each building the golden
// digest recorded for the set, the image index's.
func TestPlatformSetIsOneIndex(t *testing.T) {
	reports, out, ok := runSuite(t, "../testdata/next.yaml", "index")
	if !ok {
		t.Fatalf("run failed:\n%s", tail(out))
	}
	m, err := matrix.Load("testdata/next.yaml")
	if err != nil {
		t.Fatal(err)
	}
	golden, ok := m.Fixtures[1].Golden("linux/amd64,linux/arm64", "oci")
	if !ok {
		t.Fatal("fixtures/two-platform-index/golden.yaml has no digest for linux/amd64,linux/arm64/oci")
	}
	run := readRun(t, reports)
	if len(run.Results) != 2 {
		t.Fatalf("want 2 cells (oci exporter, two engines), got %d", len(run.Results))
	}
	for _, r := range run.Results {
		if r.Axes.Platform != "linux-amd64+linux-arm64" || r.Axes.Exporter != "oci" {
			t.Errorf("cell %s: platform %q, exporter %q", r.Name, r.Axes.Platform, r.Axes.Exporter)
		}
		if r.Error != "" || r.Digest != string(golden) || r.Golden != string(golden) {
			t.Errorf("cell %s: digest %q, golden %q (file: %s), error %q", r.Name, r.Digest, r.Golden, golden, r.Error)
		}
	}
	if len(run.Verdicts.Groups) != 1 || run.Verdicts.Groups[0].State != report.GroupAgree {
		t.Errorf("want one agreeing group, got %+v", run.Verdicts.Groups)
	}
}

// TestGitContext runs the git-context fixture, committed by the run and
// served by its registry on 127.0.0.1 over git's smart HTTP, under the
// host's Docker (buildx) and Podman (buildctl): every cell must build the
// golden digest, with no variation run (a git context has no checkout).
func TestGitContext(t *testing.T) {
	reports, out, ok := runSuite(t, "../testdata/next.yaml", "git")
	if !ok {
		t.Fatalf("run failed:\n%s", tail(out))
	}
	run := readRun(t, reports)
	if len(run.Results) != 4 {
		t.Fatalf("want 4 cells, got %d", len(run.Results))
	}
	for _, r := range run.Results {
		if r.Error != "" || r.Digest == "" || r.Golden == "" || r.Digest != r.Golden {
			t.Errorf("cell %s: digest %q, golden %q, error %q", r.Name, r.Digest, r.Golden, r.Error)
		}
	}
	for _, g := range run.Verdicts.Groups {
		if g.State != report.GroupAgree {
			t.Errorf("group %s: %s, want agree", g.Key, g.State)
		}
	}
}

// TestRootlessNextToRootful runs two fixtures, one on a Debian base, under
// the host's Podman rootful and rootless: the rootless cells run BuildKit's
// rootless variant (rootlesskit buildkitd as uid 1000, no process
// sandbox), and each must build the digest of the rootful cell beside it,
// the golden one.
func TestRootlessNextToRootful(t *testing.T) {
	reports, out, ok := runSuite(t, "../testdata/next.yaml", "rootless")
	if !ok {
		t.Fatalf("run failed:\n%s", tail(out))
	}
	run := readRun(t, reports)
	if len(run.Results) != 8 {
		t.Fatalf("want 8 cells (2 fixtures, 2 exporters, 2 engines), got %d", len(run.Results))
	}
	digests := map[string]map[string]string{} // fixture/exporter → engine → digest
	for _, r := range run.Results {
		if r.Error != "" || r.Digest == "" || r.Digest != r.Golden {
			t.Errorf("cell %s: digest %q, golden %q, error %q", r.Name, r.Digest, r.Golden, r.Error)
		}
		k := r.Axes.Fixture + "/" + r.Axes.Exporter
		if digests[k] == nil {
			digests[k] = map[string]string{}
		}
		digests[k][r.Axes.Engine] = r.Digest
		rootless := r.Axes.Engine == "podman-4.3.1-rootless"
		wantImage, wantMode := "localhost/repro-matrix/buildkit:v0.19.0", "sandbox"
		if rootless {
			wantImage, wantMode = "localhost/repro-matrix/buildkit:v0.19.0-rootless", "no-sandbox"
		}
		if r.Env["buildkit_image"] != wantImage || r.Env["buildkit_process_mode"] != wantMode || r.Env["rootless"] != fmt.Sprint(rootless) {
			t.Errorf("cell %s: buildkit_image %q, process mode %q, rootless %q; want %s, %s, %v",
				r.Name, r.Env["buildkit_image"], r.Env["buildkit_process_mode"], r.Env["rootless"], wantImage, wantMode, rootless)
		}
	}
	for k, by := range digests {
		if len(by) != 2 || by["podman-4.3.1"] != by["podman-4.3.1-rootless"] {
			t.Errorf("%s: rootful and rootless digests %v, want one digest", k, by)
		}
	}
	for _, g := range run.Verdicts.Groups {
		if g.State != report.GroupAgree {
			t.Errorf("group %s: %s, want agree", g.Key, g.State)
		}
	}
	if left := leftovers(); len(left) > 0 {
		t.Errorf("left behind after the run: %v", left)
	}
}

// TestRootlessLeavesOtherMountStubs runs the bare-run fixture, a RUN step
// in a stage without /proc or /sys, under the host's Podman rootful and
// rootless: the rootless variant of the pinned BuildKit builds another
// digest than the golden one, the rootful cell's (moby/buildkit#6686), the
// known divergence of next.yaml covers it, and the report's diff names
// the mount stub, /sys, only in the rootful layer.
func TestRootlessLeavesOtherMountStubs(t *testing.T) {
	reports, out, ok := runSuite(t, "../testdata/next.yaml", "rootless-stubs")
	if !ok {
		t.Fatalf("run failed:\n%s", tail(out))
	}
	run := readRun(t, reports)
	if len(run.Results) != 2 || len(run.Verdicts.Groups) != 1 {
		t.Fatalf("want 2 cells in 1 group, got %d in %d", len(run.Results), len(run.Verdicts.Groups))
	}
	for _, r := range run.Results {
		rootless := r.Axes.Engine == "podman-4.3.1-rootless"
		if r.Error != "" || r.Golden == "" || (r.Digest == r.Golden) == rootless || r.Rootless != rootless || *r.Pinned == rootless {
			t.Errorf("cell %s: digest %q, golden %q, rootless %v, pinned %v, error %q", r.Name, r.Digest, r.Golden, r.Rootless, *r.Pinned, r.Error)
		}
	}
	g := run.Verdicts.Groups[0]
	if g.State != report.GroupKnown || g.ReferenceDigest != g.Golden {
		t.Errorf("group %s: %s, reference %s, golden %s; want known, held to the golden digest", g.Key, g.State, g.ReferenceDigest, g.Golden)
	}
	summary, err := os.ReadFile(filepath.Join(reports, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/sys: only in A: dir", "moby/buildkit/issues/6686"} {
		if !strings.Contains(string(summary), want) {
			t.Errorf("summary.md lacks %q", want)
		}
	}
}

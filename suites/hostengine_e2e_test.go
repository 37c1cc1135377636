//go:build e2e

package suites_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// scratchMatrix writes a matrix file of the scratch-copy fixture with the
// given engines (YAML flow mappings, one per line) and pinned BuildKit
// image, whose profile `one` selects linux/amd64 and the docker exporter.
// It lists the fixture's platforms and exporters so that its golden.yaml
// loads.
func scratchMatrix(t *testing.T, engines []string, buildkitImage string) string {
	t.Helper()
	fixture, err := filepath.Abs("../fixtures/scratch-copy")
	if err != nil {
		t.Fatal(err)
	}
	text := "engines:\n  - " + strings.Join(engines, "\n  - ") + `
buildkits:
  - version: v0.19.0
    pinned: true
    image: ` + buildkitImage + `
fixtures:
  - name: scratch-copy
    dir: ` + fixture + `
    platforms: [linux/amd64, linux/arm64]
    sourceDateEpoch: 0
exporters:
  - {name: docker, type: docker}
  - {name: oci, type: oci}
  - {name: docker-oci-mediatypes, type: docker, ociMediatypes: true}
profiles:
  one: {platforms: [linux/amd64], exporters: [docker]}
`
	file := filepath.Join(t.TempDir(), "matrix.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// pinnedBuildKit is matrix.yaml's pin of BuildKit v0.19.0.
const pinnedBuildKit = "moby/buildkit:v0.19.0@sha256:14aa1b4dd92ea0a4cd03a54d0c6079046ea98cd0c0ae6176bdd7036ba370cbbe"

// hostEngineMatrix is a matrix of one cell: scratch-copy built by the host's
// Docker at the given version ("found" or a declared one) with the pinned
// BuildKit and the docker exporter.
func hostEngineMatrix(t *testing.T, version string) string {
	return scratchMatrix(t, []string{"{kind: docker, version: " + version + ", where: host}"}, pinnedBuildKit)
}

// hostDockerVersion is the version the host's dockerd reports, without a
// distribution suffix (20.10.24+dfsg1 is 20.10.24).
func hostDockerVersion(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").Output()
	if err != nil {
		t.Fatalf("docker version: %v", err)
	}
	v := strings.TrimSpace(string(out))
	if i := strings.IndexAny(v, "+~"); i >= 0 {
		v = v[:i]
	}
	return v
}

// TestHostEngineAsFound runs a host Docker entry taken as found, then one
// that declares a version the host does not run: the first builds and its
// results name the version found; the second fails its cell naming both
// versions.
func TestHostEngineAsFound(t *testing.T) {
	found := hostDockerVersion(t)
	if found == "99.0.0" {
		t.Fatal("the host runs docker 99.0.0, the version this test declares as a mismatch")
	}
	t.Run("as found", func(t *testing.T) {
		reports, out, ok := runSuite(t, hostEngineMatrix(t, "found"), "one")
		if !ok {
			t.Fatalf("the run failed:\n%s", tail(out))
		}
		run := readRun(t, reports)
		if len(run.Results) != 1 {
			t.Fatalf("want 1 cell result, got %d:\n%s", len(run.Results), tail(out))
		}
		r, name := run.Results[0], "docker-"+found
		if r.Axes.Engine != name || !strings.Contains(r.Name, "/engine="+name+"/") {
			t.Errorf("cell %s (engine %s): want engine %s", r.Name, r.Axes.Engine, name)
		}
		if r.Error != "" || r.Digest == "" || r.Env["engine_version"] != found {
			t.Errorf("cell %s: digest %q, error %q, engine_version %q (want %s)", r.Name, r.Digest, r.Error, r.Env["engine_version"], found)
		}
		summary, err := os.ReadFile(filepath.Join(reports, "summary.md"))
		if err != nil || !strings.Contains(string(summary), name) {
			t.Errorf("summary.md does not name %s: %v", name, err)
		}
	})
	t.Run("declared mismatch", func(t *testing.T) {
		reports, out, ok := runSuite(t, hostEngineMatrix(t, "99.0.0"), "one")
		if ok {
			t.Fatalf("a run declaring docker 99.0.0 passed on docker %s:\n%s", found, tail(out))
		}
		run := readRun(t, reports)
		want := "matrix.yaml declares docker 99.0.0, the running engine reports " + found
		if len(run.Results) != 1 || run.Results[0].Digest != "" || !strings.Contains(run.Results[0].Error, want) {
			t.Errorf("want one failed cell with %q, got %+v\n%s", want, run.Results, tail(out))
		}
	})
	if left := leftovers(); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

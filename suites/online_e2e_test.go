//go:build e2e

package suites_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/images"
	"github.com/repro-matrix/repro-matrix/internal/provision"
	"github.com/repro-matrix/repro-matrix/internal/registry"
	"github.com/repro-matrix/repro-matrix/internal/report"
)

// onlineMatrix is a matrix of two cells (scratch-copy under the host's
// Docker and Podman, docker exporter) whose pinned BuildKit is image.
func onlineMatrix(t *testing.T, image string) string {
	return scratchMatrix(t, []string{"{kind: docker, version: found, where: host}", "{kind: podman, version: found, where: host}"}, image)
}

// TestOnlinePulledBuildKit runs cells through the online path. A loopback
// registry stands in for Docker Hub (the mirror setting a user behind a
// corporate mirror sets): the offline-built BuildKit v0.19.0 is pushed
// there as moby/buildkit:v0.19.0 and pinned by its digest. The cells must
// pull it by that digest, record where it came from, and build the golden
// digest; a pin the registry lacks must fail the cells naming the
// reference, never fall back to the self-built image.
func TestOnlinePulledBuildKit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	hub, err := registry.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	bk, err := provision.BuildKitFrom(ctx, provision.DefaultCache(), provision.BuildKitModule, "v0.19.0")
	if err != nil {
		t.Fatalf("provision buildkit: %v", err)
	}
	pushed, err := hub.PushTarball(ctx, bk.Tarball, "moby/buildkit", "v0.19.0")
	if err != nil {
		t.Fatal(err)
	}
	_, dg, _ := strings.Cut(pushed, "@")
	t.Setenv("REPRO_MATRIX_ONLINE", "1")
	t.Setenv(images.MirrorsEnv, "docker.io="+hub.Addr)

	t.Run("pinned-digest", func(t *testing.T) {
		pin := "moby/buildkit:v0.19.0@" + dg
		reports, out, ok := runSuite(t, onlineMatrix(t, pin), "one")
		if !ok {
			t.Fatalf("online run failed:\n%s", tail(out))
		}
		run := readRun(t, reports)
		if len(run.Results) != 2 {
			t.Fatalf("want 2 cells, got %d", len(run.Results))
		}
		// Pulled through the stand-in (or, when an earlier run pulled the same
		// digest, from the cache, which keeps the mirror it came through).
		want := "pulled index.docker.io/moby/buildkit:v0.19.0@" + dg + " via 127.0.0.1:"
		for _, r := range run.Results {
			if r.Error != "" || r.Digest == "" || r.Digest != r.Golden {
				t.Errorf("cell %s: digest %s, golden %s, error %q", r.Name, r.Digest, r.Golden, r.Error)
			}
			if got := r.Env[report.EnvBuildKitOrigin]; !strings.HasPrefix(got, want) {
				t.Errorf("cell %s: buildkit origin %q, want %q", r.Name, got, want)
			}
			if !strings.HasPrefix(r.Env["buildkit_image"], images.PulledRepo+"/") {
				t.Errorf("cell %s built with %s, not the pulled image", r.Name, r.Env["buildkit_image"])
			}
		}
		summary, err := os.ReadFile(filepath.Join(reports, "summary.md"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(summary), dg) {
			t.Errorf("summary.md does not show the pulled digest %s", dg)
		}
		if !strings.Contains(out, "pull moby/buildkit:v0.19.0@"+dg+" (via "+hub.Addr+")") {
			t.Errorf("the run's output does not show the pull:\n%s", tail(out))
		}
	})

	t.Run("digest-the-registry-lacks", func(t *testing.T) {
		pin := "moby/buildkit:v0.19.0@sha256:" + strings.Repeat("0", 64)
		reports, out, ok := runSuite(t, onlineMatrix(t, pin), "one")
		if ok {
			t.Fatalf("a run whose pin cannot be pulled passed:\n%s", tail(out))
		}
		if !strings.Contains(out, pin) {
			t.Errorf("the failure does not name %s:\n%s", pin, tail(out))
		}
		if strings.Contains(out, "from go github.com/moby/buildkit") {
			t.Errorf("the run fell back to the self-built BuildKit:\n%s", tail(out))
		}
		if run, err := report.ReadJSON(filepath.Join(reports, "results.json")); err == nil {
			for _, r := range run.Results {
				if r.Digest != "" || r.Error == "" {
					t.Errorf("cell %s: digest %q, error %q; want a failed cell", r.Name, r.Digest, r.Error)
				}
			}
		}
	})
}

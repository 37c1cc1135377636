//go:build e2e

package build_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/build"
	"github.com/repro-matrix/repro-matrix/internal/engine"
	"github.com/repro-matrix/repro-matrix/internal/oci"
	"github.com/repro-matrix/repro-matrix/internal/provision"
	"github.com/repro-matrix/repro-matrix/internal/registry"
)

// pinned is the BuildKit both engines build with in this test.
const pinned = "v0.19.0"

// TestReproducibleAcrossEngines builds two fixtures, one FROM scratch and one
// with a Debian base and a RUN step, with host Docker and host Podman under
// the same BuildKit, twice each without cache, and requires one digest per
// fixture, equal to what analyze reports and to what the repro-matrix CLI's
// analyze prints.
func TestReproducibleAcrossEngines(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	cache := provision.DefaultCache()
	engines := hostEngines(ctx, t)

	bk, err := provision.BuildKitFrom(ctx, cache, provision.BuildKitModule, pinned)
	if err != nil {
		t.Fatalf("provision buildkit: %v", err)
	}
	for _, e := range engines {
		if err := engine.Load(ctx, e, bk.Ref, bk.ID.String(), bk.Tarball); err != nil {
			t.Fatal(err)
		}
	}
	base := debianBase(ctx, t, cache)

	root := repoRoot(t)
	fixtures := map[string][]string{
		"scratch-copy": nil,
		"debian-run":   {"BASE_IMAGE=" + base},
	}
	cli := buildCLI(t)
	for name, args := range fixtures {
		t.Run(name, func(t *testing.T) {
			digests := map[string]string{}
			for _, e := range engines {
				for i := 1; i <= 2; i++ {
					out := filepath.Join(t.TempDir(), "image.tar")
					o := build.Options{
						Runtime: e.Kind(), Context: filepath.Join(root, "fixtures", name), Outputs: []build.Output{{Path: out}},
						SourceDateEpoch: 1700000000, BuildKitImage: bk.Ref, NoCache: true,
						BuildArgs: args, HostNetwork: true,
					}
					if e.Kind() == engine.Docker {
						o.Builder = testBuilder(t, e)
					}
					var log bytes.Buffer
					if err := build.Run(ctx, e, o, &log); err != nil {
						t.Fatalf("%s build %d: %v\n%s", e.Name(), i, err, log.String())
					}
					a, err := oci.Analyze(ctx, out)
					if err != nil {
						t.Fatalf("%s build %d: analyze: %v", e.Name(), i, err)
					}
					if a.ImageDigest == "" {
						t.Fatalf("%s build %d: no image digest", e.Name(), i)
					}
					if printed := cliDigest(t, cli, out); printed != a.ImageDigest.String() {
						t.Errorf("%s build %d: repro-matrix analyze printed %s, oci.Analyze %s", e.Name(), i, printed, a.ImageDigest)
					}
					digests[e.Name()+"#"+string(rune('0'+i))] = a.ImageDigest.String()
				}
			}
			if len(digests) != 2*len(engines) {
				t.Fatalf("want %d builds, got %d", 2*len(engines), len(digests))
			}
			var first string
			for cell, d := range digests {
				if first == "" {
					first = d
				}
				if d != first {
					t.Errorf("digests differ: %v (%s)", digests, cell)
					break
				}
			}
			t.Logf("%s: %d builds, one digest %s", name, len(digests), first)
		})
	}
	if _, err := engine.Run(ctx, engines[0], "buildx", "ls"); err != nil {
		t.Errorf("docker buildx after the builds: %v", err)
	}
}

// testBuilder names a builder of this test and removes it when the test
// ends: unlike the CLI's, a test's builder is not kept for its cache.
func testBuilder(t *testing.T, e engine.Engine) string {
	name := "repro-matrix-e2e-" + strings.ToLower(strings.NewReplacer("/", "-", "#", "-").Replace(t.Name()))
	t.Cleanup(func() { engine.Run(context.Background(), e, "buildx", "rm", "--force", name) })
	return name
}

// hostEngines connects to host Docker and host Podman; both must answer:
// make test starts them.
func hostEngines(ctx context.Context, t *testing.T) []engine.Engine {
	var out []engine.Engine
	for _, k := range []engine.Kind{engine.Docker, engine.Podman} {
		e, err := engine.Host(ctx, k)
		if err != nil {
			t.Fatalf("%v (run make setup)", err)
		}
		out = append(out, e)
	}
	return out
}

// debianBase provisions the Debian base image and serves it from a
// loopback registry for the duration of the test.
func debianBase(ctx context.Context, t *testing.T, cache provision.Cache, packages ...string) string {
	img, err := provision.DebianBase(ctx, cache, "bookworm", "amd64", packages...)
	if err != nil {
		t.Fatalf("provision debian: %v", err)
	}
	reg, err := registry.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	ref, err := reg.PushTarball(ctx, img.Tarball, "library/debian", strings.Join(append([]string{"bookworm"}, packages...), "-"))
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func repoRoot(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(wd, "..", "..")
}

// buildCLI builds the repro-matrix binary for the test.
func buildCLI(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "repro-matrix")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/repro-matrix")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build CLI: %v\n%s", err, out)
	}
	return bin
}

// cliDigest runs repro-matrix analyze --json and returns its image digest.
func cliDigest(t *testing.T, cli, tarball string) string {
	out, err := exec.Command(cli, "analyze", tarball).CombinedOutput()
	if err != nil {
		t.Fatalf("repro-matrix analyze %s: %v\n%s", tarball, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if d, ok := strings.CutPrefix(line, "Image digest: "); ok {
			return strings.TrimSpace(d)
		}
	}
	t.Fatalf("repro-matrix analyze printed no image digest:\n%s", out)
	return ""
}

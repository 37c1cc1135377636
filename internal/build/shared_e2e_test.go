//go:build e2e

package build_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/build"
	"github.com/repro-matrix/repro-matrix/internal/cell"
	"github.com/repro-matrix/repro-matrix/internal/engine"
	"github.com/repro-matrix/repro-matrix/internal/matrix"
	"github.com/repro-matrix/repro-matrix/internal/oci"
	"github.com/repro-matrix/repro-matrix/internal/provision"
)

// sharedRun is a started builder per host engine with the pinned BuildKit
// and the Debian base in a loopback registry.
type sharedRun struct {
	builders map[engine.Kind]build.Builder
	engines  map[engine.Kind]engine.Engine
	cache    provision.Cache
	bases    map[string]string // bookworm with a fixture's base packages -> its reference
	out      string            // folder for tarballs, seen by the Podman builder
}

// base is the reference of a fixture's bookworm base, made on first use.
func (r *sharedRun) base(ctx context.Context, t *testing.T, f *matrix.Fixture) string {
	k := strings.Join(f.Base.Packages, ",")
	if r.bases[k] == "" {
		r.bases[k] = debianBase(ctx, t, r.cache, f.Base.Packages...)
	}
	return r.bases[k]
}

func startShared(ctx context.Context, t *testing.T) *sharedRun {
	cache := provision.DefaultCache()
	bk, err := provision.BuildKitFrom(ctx, cache, provision.BuildKitModule, pinned)
	if err != nil {
		t.Fatalf("provision buildkit: %v", err)
	}
	r := &sharedRun{builders: map[engine.Kind]build.Builder{}, engines: map[engine.Kind]engine.Engine{},
		cache: cache, bases: map[string]string{}, out: t.TempDir()}
	for _, e := range hostEngines(ctx, t) {
		if err := engine.Load(ctx, e, bk.Ref, bk.ID.String(), bk.Tarball); err != nil {
			t.Fatal(err)
		}
		e = engine.WithEnv(e, "BUILDX_CONFIG="+filepath.Join(t.TempDir(), "buildx"))
		b := build.Builder{Name: fmt.Sprintf("repro-matrix-e2e-shared-%d", time.Now().UnixNano()), Runtime: e.Kind(),
			BuildKitImage: bk.Ref, HostNetwork: true, Mounts: []string{repoRoot(t), r.out}}
		t.Cleanup(func() { b.Remove(context.Background(), e) })
		if err := b.Start(ctx, e); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		r.builders[e.Kind()], r.engines[e.Kind()] = b, e
	}
	return r
}

// build builds a fixture on the engine's builder to the given exporters
// in one build and returns each tarball's image digest.
func (r *sharedRun) build(ctx context.Context, t *testing.T, k engine.Kind, f *matrix.Fixture, exporters ...*matrix.Exporter) []string {
	t.Helper()
	o := build.Options{Runtime: k, Context: f.Dir, File: f.Dockerfile, SourceDateEpoch: f.Epoch(), NoCache: true,
		BuildKitImage: r.builders[k].BuildKitImage, HostNetwork: true, Builder: r.builders[k].Name, Platform: "linux/amd64"}
	for key, v := range f.BuildArgs {
		o.BuildArgs = append(o.BuildArgs, key+"="+v)
	}
	if f.Base != nil {
		o.BuildArgs = append(o.BuildArgs, matrix.BaseImageArg+"="+r.base(ctx, t, f))
	}
	dir, err := os.MkdirTemp(r.out, "build-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777) // a rootless BuildKit writes as its user
	for _, x := range exporters {
		o.Outputs = append(o.Outputs, build.Output{Path: filepath.Join(dir, x.Name+".tar"),
			Exporter: build.Exporter(x.Type), OCIMediaTypes: x.OCIMediatypes})
	}
	var log bytes.Buffer
	if err := build.Run(ctx, r.engines[k], o, &log); err != nil {
		t.Fatalf("%s: build %s: %v\n%s", k, f.Name, err, log.String())
	}
	var digests []string
	for _, out := range o.Outputs {
		a, err := oci.Analyze(ctx, out.Path)
		if err != nil || a.ImageDigest == "" {
			t.Fatalf("%s: analyze %s: %v", k, out.Path, err)
		}
		digests = append(digests, a.ImageDigest.String())
	}
	return digests
}

// TestOneSolveExportsWhatSeparateBuildsDo builds every fixture of
// matrix.yaml on a builder kept for the whole test under host Docker and
// host Podman: once to all three exporters in one solve, then once per
// exporter. Each output of the shared build must have the digest of the
// separate build of its exporter, and the golden digest where one is
// recorded.
func TestOneSolveExportsWhatSeparateBuildsDo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	m, err := matrix.Load(filepath.Join(repoRoot(t), "matrix.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r := startShared(ctx, t)
	for _, f := range m.Fixtures {
		if f.Git || slices.ContainsFunc(f.Platforms, cell.IsSet) {
			continue // a git context or a platform set: suites/next_e2e_test.go builds them
		}
		for _, k := range []engine.Kind{engine.Docker, engine.Podman} {
			shared := r.build(ctx, t, k, f, m.Exporters...)
			for i, x := range m.Exporters {
				alone := r.build(ctx, t, k, f, x)[0]
				if shared[i] != alone {
					t.Errorf("%s %s %s: one solve exported %s, a build of its own %s", k, f.Name, x.Name, shared[i], alone)
				}
				if g, ok := f.Golden("linux/amd64", x.Name); ok && string(g) != alone {
					t.Errorf("%s %s %s: built %s on a kept builder, golden %s", k, f.Name, x.Name, alone, g)
				}
			}
			t.Logf("%s %s: %v", k, f.Name, shared)
		}
	}
}

// TestKeptBuilderStillSeesNonReproducibleBuilds: a builder kept between
// builds (its content store warm) must not hide a fixture that is not
// reproducible: without cache, two builds of a RUN that writes random bytes
// differ on it.
func TestKeptBuilderStillSeesNonReproducibleBuilds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	r := startShared(ctx, t)
	f := &matrix.Fixture{Name: "nonrepro", Dir: filepath.Join(repoRoot(t), "suites", "testdata", "nonrepro"),
		Base: &matrix.FixtureBase{Suite: "bookworm"}}
	f.Dockerfile = filepath.Join(f.Dir, "Dockerfile")
	docker := &matrix.Exporter{Name: "docker", Type: "docker"}
	for k := range r.builders {
		first, second := r.build(ctx, t, k, f, docker)[0], r.build(ctx, t, k, f, docker)[0]
		if first == second {
			t.Errorf("%s: two builds of a non-reproducible fixture on one builder gave one digest %s", k, first)
		}
	}
}

// TestRootlessPodmanBuildsTheGoldenDigests builds two fixtures with the
// rootless variant of the pinned BuildKit (rootlesskit buildkitd as uid
// 1000) under the host's Podman run rootless by the user make setup
// creates, on a kept builder, to all three exporters in one solve: each
// output must have its golden digest, as under rootful engines.
func TestRootlessPodmanBuildsTheGoldenDigests(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	m, err := matrix.Load(filepath.Join(repoRoot(t), "matrix.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.HostAs(ctx, engine.Podman, engine.RootlessUser)
	if err != nil {
		t.Fatalf("%v (run make setup)", err)
	}
	cache := provision.DefaultCache()
	bk, err := provision.BuildKitRootlessFrom(ctx, cache, provision.BuildKitModule, pinned)
	if err != nil {
		t.Fatalf("provision rootless buildkit: %v", err)
	}
	if err := engine.Load(ctx, e, bk.Ref, bk.ID.String(), bk.Tarball); err != nil {
		t.Fatal(err)
	}
	// The rootless BuildKit writes as the unprivileged user.
	out, err := os.MkdirTemp("", "repro-matrix-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(out) })
	os.Chmod(out, 0o777)
	r := &sharedRun{builders: map[engine.Kind]build.Builder{}, engines: map[engine.Kind]engine.Engine{engine.Podman: e},
		cache: cache, bases: map[string]string{}, out: out}
	b := build.Builder{Name: fmt.Sprintf("repro-matrix-e2e-rootless-%d", time.Now().UnixNano()), Runtime: engine.Podman,
		BuildKitImage: bk.Ref, HostNetwork: true, Rootless: true, Mounts: []string{repoRoot(t), out}}
	t.Cleanup(func() { b.Remove(context.Background(), e) })
	if err := b.Start(ctx, e); err != nil {
		t.Fatalf("%s: %v", e.Name(), err)
	}
	r.builders[engine.Podman] = b
	if mode, err := b.WorkerLabel(ctx, e, build.LabelProcessMode); err != nil || mode != "no-sandbox" {
		t.Fatalf("rootless builder's worker: process mode %q (%v), want no-sandbox", mode, err)
	}
	for _, name := range []string{"scratch-copy", "debian-run"} {
		f := m.Fixture(name)
		digests := r.build(ctx, t, engine.Podman, f, m.Exporters...)
		for i, x := range m.Exporters {
			if g, ok := f.Golden("linux/amd64", x.Name); !ok || string(g) != digests[i] {
				t.Errorf("rootless %s %s: built %s, golden %s", name, x.Name, digests[i], g)
			}
		}
	}
}

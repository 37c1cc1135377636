//go:build e2e

package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/build"
	"github.com/repro-matrix/repro-matrix/internal/engine"
	"github.com/repro-matrix/repro-matrix/internal/oci"
	"github.com/repro-matrix/repro-matrix/internal/provision"
	"github.com/repro-matrix/repro-matrix/internal/registry"
	"github.com/repro-matrix/repro-matrix/internal/runner"
)

// The engines in containers these tests start: versions other than the
// host's (Docker 20.10.24, Podman 4.3.1), from Debian trixie, or from forky
// with REPRO_MATRIX_E2E_SUITE=forky.
var dockerSpec, podmanSpec = func() (engine.Spec, engine.Spec) {
	v := map[string][2]string{"trixie": {"26.1.5", "5.4.2"}, "forky": {"28.5.2", "5.8.6"}}[e2eSuite]
	return engine.Spec{Name: "docker-" + v[0], Kind: engine.Docker, Version: v[0], InContainer: true},
		engine.Spec{Name: "podman-" + v[1], Kind: engine.Podman, Version: v[1], InContainer: true}
}()

// e2eSuite is the Debian suite the engine images are made from.
var e2eSuite = func() string {
	if s := os.Getenv("REPRO_MATRIX_E2E_SUITE"); s == "forky" {
		return s
	}
	return "trixie"
}()

// engineImage provisions the image of an engine in a container (cached and
// locked within the run) and loads it into the host's Docker, as a run's
// set-up does.
func engineImage(ctx context.Context, t *testing.T, s engine.Spec) string {
	t.Helper()
	img, err := provision.ProvisionEngine(ctx, provision.DefaultCache(), provision.EngineRecipe{Kind: string(s.Kind), Suite: e2eSuite})
	if err != nil {
		t.Fatalf("provision the %s image: %v", s.Name, err)
	}
	if img.Version != s.Version {
		t.Fatalf("%s: Debian %s carries %s", s.Name, e2eSuite, img.Version)
	}
	host, err := engine.Host(ctx, engine.Docker)
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.Load(ctx, host, img.Ref, img.ID.String(), img.Tarball); err != nil {
		t.Fatal(err)
	}
	return img.Ref
}

const pinnedBuildKit = "v0.19.0"

// TestContainerEngines starts Docker 26.1.5 and Podman 5.4.2 in containers,
// (28.5.2 and 5.8.6 with REPRO_MATRIX_E2E_SUITE=forky),
// loads BuildKit into them, and builds fixtures under each and under the
// host's Docker: every engine must give the same digest.
func TestContainerEngines(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	env := newRun(t)

	bk, err := provision.BuildKitFrom(ctx, provision.DefaultCache(), provision.BuildKitModule, pinnedBuildKit)
	if err != nil {
		t.Fatalf("provision buildkit: %v", err)
	}
	host, err := engine.Host(ctx, engine.Docker)
	if err != nil {
		t.Fatalf("%v (run make setup)", err)
	}
	if err := engine.Load(ctx, host, bk.Ref, bk.ID.String(), bk.Tarball); err != nil {
		t.Fatal(err)
	}

	engines := map[string]engine.Engine{"host": engine.WithEnv(host, "BUILDX_CONFIG="+filepath.Join(env.dir, "host-buildx"))}
	handles := map[string]engine.Handle{}
	for _, spec := range []engine.Spec{dockerSpec, podmanSpec} {
		e, h := env.start(ctx, spec)
		engines[spec.Name], handles[spec.Name] = e, h
		if e.Name() != spec.Name || e.Version() != spec.Version {
			t.Errorf("%s: Name %s, Version %s", spec.Name, e.Name(), e.Version())
		}
		t0 := time.Now()
		if err := engine.Load(ctx, e, bk.Ref, bk.ID.String(), bk.Tarball); err != nil {
			t.Fatal(err)
		}
		t.Logf("TIMING %s: load %s: %s", spec.Name, bk.Ref, time.Since(t0).Round(10*time.Millisecond))
		t0 = time.Now()
		if err := engine.Load(ctx, e, bk.Ref, bk.ID.String(), bk.Tarball); err != nil {
			t.Fatal(err)
		}
		t.Logf("TIMING %s: load again (already there): %s", spec.Name, time.Since(t0).Round(10*time.Millisecond))
	}

	t.Run("connect-from-handle", func(t *testing.T) {
		for name, h := range handles {
			b, err := json.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			var back engine.Handle
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			e, err := engine.Connect(ctx, back)
			if err != nil {
				t.Fatalf("%s: connect: %v", name, err)
			}
			if e.Name() != name || e.Version() != h.Version {
				t.Errorf("%s: connected to %s %s", name, e.Name(), e.Version())
			}
			if err := e.Alive(ctx); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			rec, err := e.Environment(ctx)
			if err != nil {
				t.Fatalf("%s: environment: %v", name, err)
			}
			t.Logf("%s environment: %v", name, rec)
			for _, k := range []string{"engine_version", "kernel", "storage_driver", "runc", "cgroup"} {
				if rec[k] == "" {
					t.Errorf("%s: environment has no %s: %v", name, k, rec)
				}
			}
			if rec["engine_version"] != h.Version {
				t.Errorf("%s: environment says version %s", name, rec["engine_version"])
			}
			// An engine from Connect does not own the container.
			if err := e.Close(ctx); err != nil {
				t.Errorf("%s: close of a connected engine: %v", name, err)
			}
			if err := e.Alive(ctx); err != nil {
				t.Errorf("%s: closing a connected engine stopped it: %v", name, err)
			}
			logs, err := e.Logs(ctx, 5)
			if err != nil || strings.TrimSpace(logs) == "" {
				t.Errorf("%s: logs %q, %v", name, logs, err)
			}
		}
	})

	t.Run("scratch-copy", func(t *testing.T) {
		digests := map[string]string{}
		for _, name := range []string{"host", dockerSpec.Name, podmanSpec.Name} {
			e := engines[name]
			o := env.options(e, "scratch-copy", 0, bk.Ref)
			digests[name] = env.build(ctx, t, e, o)
		}
		agree(t, digests)
	})

	t.Run("debian-run", func(t *testing.T) {
		base, err := provision.DebianBase(ctx, provision.DefaultCache(), "bookworm", "amd64")
		if err != nil {
			t.Fatalf("provision debian: %v", err)
		}
		reg, err := registry.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer reg.Close()
		runRef, err := reg.PushTarball(ctx, base.Tarball, "library/debian", "bookworm-amd64")
		if err != nil {
			t.Fatal(err)
		}
		digests := map[string]string{}
		for _, name := range []string{"host", dockerSpec.Name, podmanSpec.Name} {
			e := engines[name]
			ref := runRef
			if h, ok := handles[name]; ok && h.Registry != "" {
				t0 := time.Now()
				if ref, err = h.Push(ctx, base.Tarball, "library/debian", "bookworm-amd64"); err != nil {
					t.Fatal(err)
				}
				if want := h.LocalRef(runRef, reg.Addr); ref != want {
					t.Errorf("%s: pushed %s, LocalRef gives %s", name, ref, want)
				}
				t.Logf("TIMING %s: push the base image to its registry: %s", name, time.Since(t0).Round(10*time.Millisecond))
			}
			o := env.options(e, "debian-run", 1735689600, bk.Ref, "BASE_IMAGE="+ref)
			digests[name] = env.build(ctx, t, e, o)
		}
		agree(t, digests)
	})
}

// TestStartRefusesWrongVersion declares a version the image does not
// carry: Start must fail naming both versions, and what it started must go
// with Close (the run's set-up refuses such a recipe before starting
// anything; this is the check of the running engine behind it).
func TestStartRefusesWrongVersion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	env := newRun(t)
	s := dockerSpec
	s.Image = engineImage(ctx, t, s)
	s.Version, s.RunID, s.Dir = "26.0.0", env.id, env.dir
	e, _, err := engine.Start(ctx, s)
	if e != nil {
		if cerr := e.Close(ctx); cerr != nil {
			t.Errorf("close: %v", cerr)
		}
	}
	if err == nil || !strings.Contains(err.Error(), "26.0.0") || !strings.Contains(err.Error(), dockerSpec.Version) {
		t.Errorf("error does not name both versions: %v", err)
	}
	t.Logf("error: %v", err)
}

// TestEngineKilledMidBuild kills an engine's container while a build runs
// under it: the build must fail, Explain must name the engine and say it
// died, Alive must report it dead and Logs return its log, Close must leave
// nothing of the run, and the host's Docker must still work.
func TestEngineKilledMidBuild(t *testing.T) {
	for _, spec := range []engine.Spec{dockerSpec, podmanSpec} {
		t.Run(spec.Name, func(t *testing.T) { killMidBuild(t, spec) })
	}
}

func killMidBuild(t *testing.T, spec engine.Spec) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	env := newRun(t)
	bk, err := provision.BuildKitFrom(ctx, provision.DefaultCache(), provision.BuildKitModule, pinnedBuildKit)
	if err != nil {
		t.Fatalf("provision buildkit: %v", err)
	}
	e, h := env.start(ctx, spec)
	if err := engine.Load(ctx, e, bk.Ref, bk.ID.String(), bk.Tarball); err != nil {
		t.Fatal(err)
	}
	// A build that lasts: a RUN step that sleeps, on the Debian base from
	// the registry the engine reaches.
	base, err := provision.DebianBase(ctx, provision.DefaultCache(), "bookworm", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	var ref string
	if h.Registry != "" {
		ref, err = h.Push(ctx, base.Tarball, "library/debian", "bookworm-amd64")
	} else {
		reg, rerr := registry.Start("127.0.0.1:0")
		if rerr != nil {
			t.Fatal(rerr)
		}
		defer reg.Close()
		ref, err = reg.PushTarball(ctx, base.Tarball, "library/debian", "bookworm-amd64")
	}
	if err != nil {
		t.Fatal(err)
	}
	fixture := filepath.Join(env.dir, "slow") // under Spec.Dir: visible inside Podman's container
	if err := os.MkdirAll(fixture, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fixture, "Dockerfile"), []byte("FROM "+ref+"\nRUN sleep 120\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	o := env.options(e, "", 0, bk.Ref)
	o.Context = fixture
	running := newSignal("sleep 120")
	var log bytes.Buffer
	done := make(chan error, 1)
	t0 := time.Now()
	go func() { done <- build.Run(ctx, e, o, io2(&log, running)) }()
	select {
	case <-running.seen:
	case err := <-done:
		t.Fatalf("build ended before the kill: %v\n%s", err, log.String())
	case <-time.After(5 * time.Minute):
		t.Fatalf("the RUN step never started:\n%s", log.String())
	}
	time.Sleep(2 * time.Second)
	if out, err := exec.CommandContext(ctx, "docker", "kill", h.Container).CombinedOutput(); err != nil {
		t.Fatalf("docker kill %s: %v\n%s", h.Container, err, out)
	}
	var buildErr error
	select {
	case buildErr = <-done:
	case <-time.After(3 * time.Minute):
		t.Fatal("the build did not end after its engine was killed")
	}
	t.Logf("build ended %s after it started", time.Since(t0).Round(time.Second))
	if buildErr == nil {
		t.Fatal("the build succeeded although its engine was killed")
	}
	explained := engine.Explain(ctx, e, buildErr)
	t.Logf("explained (first line): %s", firstLine(explained.Error()))
	if !errors.Is(explained, engine.ErrEngineDied) || !errors.Is(explained, buildErr) {
		t.Errorf("Explain does not say the engine died: %v", explained)
	}
	if !strings.HasPrefix(explained.Error(), "engine "+e.Name()+" died") {
		t.Errorf("the error does not name the engine %s first: %v", e.Name(), explained)
	}
	alive := e.Alive(ctx)
	if alive == nil || !errors.Is(alive, engine.ErrNotRunning) || !strings.Contains(alive.Error(), "137") {
		t.Errorf("Alive after the kill: %v", alive)
	}
	logs, err := e.Logs(ctx, 5)
	if err != nil || strings.TrimSpace(logs) == "" {
		t.Errorf("logs of the dead engine: %q, %v", logs, err)
	}
	t.Logf("last lines of the dead engine's log:\n%s", logs)

	if err := e.Close(ctx); err != nil {
		t.Errorf("close: %v", err)
	}
	env.checkNothingLeft(ctx, t)
	checkHostDocker(ctx, t)
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

// run is one test run: its id, folder, and the engines it started.
type run struct {
	t    *testing.T
	id   string
	dir  string
	root string
	mu   sync.Mutex
}

func newRun(t *testing.T) *run {
	t.Helper()
	// A short folder: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "rm-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	// A run id held locked, as a matrix run's: another run's sweep spares
	// what this one creates.
	id := runner.NewRunID()
	unlock, err := runner.Lock(id)
	if err != nil {
		t.Fatal(err)
	}
	r := &run{t: t, id: id, dir: dir, root: filepath.Join(wd, "..", "..")}
	t.Cleanup(func() {
		defer unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		r.checkNothingLeft(ctx, t)
		checkHostDocker(ctx, t)
		os.RemoveAll(dir)
	})
	return r
}

// start starts an engine of the run, measures it, and closes it at the end
// of the test.
func (r *run) start(ctx context.Context, s engine.Spec) (engine.Engine, engine.Handle) {
	t := r.t
	t.Helper()
	s.RunID, s.Dir = r.id, r.dir
	if s.Image == "" {
		s.Image = engineImage(ctx, t, s)
	}
	s.Mounts = []string{filepath.Join(r.root, "fixtures")}
	s.Log = testWriter{t}
	t0 := time.Now()
	e, h, err := engine.Start(ctx, s)
	if e != nil {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := e.Close(ctx); err != nil {
				t.Errorf("close %s: %v", s.Name, err)
			}
		})
	}
	if err != nil {
		t.Fatalf("start %s: %v", s.Name, err)
	}
	t.Logf("TIMING %s: Start (provision cached, image load, container start): %s", s.Name, time.Since(t0).Round(10*time.Millisecond))
	t.Logf("%s handle: %+v", s.Name, h)
	return e, h
}

// options are the build options of a fixture under e.
func (r *run) options(e engine.Engine, fixture string, epoch int64, bk string, args ...string) build.Options {
	out, err := os.MkdirTemp(r.dir, "out-")
	if err != nil {
		r.t.Fatal(err)
	}
	o := build.Options{
		Runtime: e.Kind(), Context: filepath.Join(r.root, "fixtures", fixture), Outputs: []build.Output{{Path: filepath.Join(out, "image.tar")}},
		SourceDateEpoch: epoch, BuildKitImage: bk, NoCache: true, BuildArgs: args, HostNetwork: true,
	}
	if e.Kind() == engine.Docker {
		o.Builder = "repro-matrix-run-" + r.id
	} else {
		o.Labels = []string{engine.RunLabel + "=" + r.id}
	}
	return o
}

// build runs a build and returns the image digest of its tarball.
func (r *run) build(ctx context.Context, t *testing.T, e engine.Engine, o build.Options) string {
	t.Helper()
	var log bytes.Buffer
	t0 := time.Now()
	err := build.Run(ctx, e, o, &log)
	if e.Kind() == engine.Docker {
		defer engine.Run(context.WithoutCancel(ctx), e, "buildx", "rm", "--force", o.Builder)
	}
	if err != nil {
		t.Fatalf("%s: build %s: %v\n%s", e.Name(), filepath.Base(o.Context), engine.Explain(ctx, e, err), log.String())
	}
	a, err := oci.Analyze(ctx, o.Outputs[0].Path)
	if err != nil {
		t.Fatalf("%s: analyze: %v", e.Name(), err)
	}
	if a.ImageDigest == "" {
		t.Fatalf("%s: no image digest", e.Name())
	}
	t.Logf("TIMING %s: build %s: %s -> %s", e.Name(), filepath.Base(o.Context), time.Since(t0).Round(10*time.Millisecond), a.ImageDigest)
	return a.ImageDigest.String()
}

func agree(t *testing.T, digests map[string]string) {
	t.Helper()
	var first string
	for _, d := range digests {
		if first == "" {
			first = d
		}
		if d != first {
			t.Errorf("digests differ: %v", digests)
			return
		}
	}
	t.Logf("%d engines, one digest %s", len(digests), first)
}

// checkNothingLeft requires that no container, network or volume carries
// the run's label on the host's Docker.
func (r *run) checkNothingLeft(ctx context.Context, t *testing.T) {
	t.Helper()
	filter := "label=" + engine.RunLabel + "=" + r.id
	for _, args := range [][]string{
		{"ps", "-aq", "--filter", filter},
		{"network", "ls", "-q", "--filter", filter},
		{"volume", "ls", "-q", "--filter", filter},
	} {
		out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
		if err != nil {
			t.Errorf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		} else if s := strings.TrimSpace(string(out)); s != "" {
			t.Errorf("left behind by run %s (docker %s): %s", r.id, args[0], s)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(r.dir, "engines")); len(entries) > 0 {
		t.Errorf("engine folders left: %v", entries)
	}
}

// checkHostDocker requires the host's Docker to run containers on its
// default bridge. The image it runs is provisioned here (cached and locked
// within the run), never one an earlier run may have left in the host's
// Docker.
func checkHostDocker(ctx context.Context, t *testing.T) {
	t.Helper()
	img, err := provision.DebianBase(ctx, provision.DefaultCache(), "bookworm", "amd64")
	if err != nil {
		t.Fatalf("provision the image for the host check: %v", err)
	}
	host, err := engine.Host(ctx, engine.Docker)
	if err != nil {
		t.Fatalf("host docker after the test: %v", err)
	}
	if err := engine.Load(ctx, host, img.Ref, img.ID.String(), img.Tarball); err != nil {
		t.Fatalf("host docker load after the test: %v", err)
	}
	if out, err := exec.CommandContext(ctx, "docker", "run", "--rm", "--network", "bridge", img.Ref, "true").CombinedOutput(); err != nil {
		t.Errorf("host docker run after the test: %v\n%s", err, out)
	}
	if out, err := exec.CommandContext(ctx, "ip", "link", "show", "docker0").CombinedOutput(); err != nil {
		t.Errorf("host docker0 after the test: %v\n%s", err, out)
	}
}

// testWriter logs each write in the test's output.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// signal closes seen when a write contains its text.
type signal struct {
	text string
	once sync.Once
	seen chan struct{}
	buf  []byte
	mu   sync.Mutex
}

func newSignal(text string) *signal { return &signal{text: text, seen: make(chan struct{})} }

func (s *signal) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, p...)
	if bytes.Contains(s.buf, []byte(s.text)) {
		s.once.Do(func() { close(s.seen) })
	}
	if len(s.buf) > 4096 {
		s.buf = s.buf[len(s.buf)-4096:]
	}
	return len(p), nil
}

// io2 writes to both writers, as io.MultiWriter, safe for the build's
// concurrent stdout and stderr.
func io2(a *bytes.Buffer, b *signal) *lockedWriter { return &lockedWriter{a: a, b: b} }

type lockedWriter struct {
	mu sync.Mutex
	a  *bytes.Buffer
	b  *signal
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.a.Write(p)
	return w.b.Write(p)
}

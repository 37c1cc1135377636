// Package runner runs cells of the matrix: it prepares, once per run, what
// every cell shares (BuildKit and base images, the loopback registry, the
// engines), and it runs one cell: build, analyze, record.
package runner

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/engine"
	"github.com/repro-matrix/repro-matrix/internal/images"
	"github.com/repro-matrix/repro-matrix/internal/matrix"
	"github.com/repro-matrix/repro-matrix/internal/progress"
	"github.com/repro-matrix/repro-matrix/internal/provision"
	"github.com/repro-matrix/repro-matrix/internal/registry"
)

// Shared is what every cell of a run needs, prepared once. It crosses
// Ginkgo's parallel processes as JSON.
type Shared struct {
	RunID    string `json:"runId"`
	Registry string `json:"registry"` // host:port on 127.0.0.1
	// BaseImages maps "suite platform" (bookworm linux/amd64) to a base
	// image reference pinned by digest in the loopback registry.
	BaseImages map[string]string `json:"baseImages"`
	// baseTarballs are the base images' tarballs, for engines that carry a
	// registry of their own (process 1 only).
	baseTarballs map[string]string
	// BuildKits maps a BuildKit name of the matrix to its image.
	BuildKits map[string]BuildKitImage `json:"buildkits"`
	// Engines maps an engine name to how cells reach it.
	Engines map[string]engine.Handle `json:"engines"`
	// WorkDir holds the cells' folders and tarballs for the run.
	WorkDir string `json:"workDir"`
	// Timings of the set-up, for the report: provisioning, loading, starting.
	Timings map[string]time.Duration `json:"timings"`
	// Online is whether pinned images were pulled (images.Source.Online).
	Online bool `json:"online"`
	// EngineOrigins maps the name of an engine in a container to where its
	// image came from (host engines are the host's own).
	EngineOrigins map[string]images.Origin `json:"engineOrigins"`
	// BaseOrigins maps a base image's key (as BaseImages) to where it came
	// from.
	BaseOrigins map[string]images.Origin `json:"baseOrigins"`
	// GitContexts are the git contexts of fixtures built from one
	// (matrix.Fixture.Git), by fixture name: a URL on the run's registry,
	// http://127.0.0.1:PORT/git/NAME.git#main.
	GitContexts map[string]string `json:"gitContexts,omitempty"`
}

// BuildKitImage is a BuildKit image ready in the run's engines.
type BuildKitImage struct {
	Ref     string        `json:"ref"`
	Version string        `json:"version"` // the concrete version, latest resolved
	Origin  images.Origin `json:"origin"`  // pulled by its pin, or built from its recipe
	// Rootless: the rootless variant (rootlesskit buildkitd as uid 1000),
	// which a builder runs as repro-build's --rootless does.
	Rootless bool `json:"rootless,omitempty"`
	// FakeTime is the image with the clock layer (provision.WithFakeTime)
	// that the time variation's builders run; "" when no cell varies time.
	FakeTime string `json:"fakeTime,omitempty"`
}

// NewRunID returns a run id: the time and a few random bytes.
func NewRunID() string {
	var b [3]byte
	rand.Read(b[:])
	return time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// Encode and DecodeShared move Shared between processes.
func (s *Shared) Encode() []byte { b, _ := json.Marshal(s); return b }

func DecodeShared(b []byte) (*Shared, error) {
	var s Shared
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode shared run state: %w", err)
	}
	return &s, nil
}

// Prepared is a run's set-up together with what must be torn down.
type Prepared struct {
	Shared   *Shared
	src      *images.Source
	log      *progress.Log
	registry *registry.Registry
	engines  []runEngine
	unlock   func()
}

// runEngine is an engine the run connected to or started, with its name in
// matrix.yaml: host engines answer Name() with kind and version only, the
// same for docker-20.10.24 and docker-20.10.24-buildx-0.38.2.
type runEngine struct {
	name string
	engine.Engine
}

// Close stops the registry and the engines the run started and removes the
// work folder, whatever happened before.
func (p *Prepared) Close(ctx context.Context) error {
	var errs []error
	for _, e := range p.engines {
		errs = append(errs, e.Close(ctx))
	}
	if p.registry != nil {
		errs = append(errs, p.registry.Close())
	}
	if p.unlock != nil {
		p.unlock()
	}
	return errors.Join(errs...)
}

// Prepare obtains the images the cells need through src (pulled online,
// made offline) and starts the run's registry and engines, printing each
// step as it starts and ends to log. On error it returns what it had
// started, for the caller to Close.
func Prepare(ctx context.Context, m *matrix.Matrix, cells []matrix.Cell, src *images.Source, workDir string, log io.Writer) (*Prepared, error) {
	sh := &Shared{RunID: NewRunID(), BaseImages: map[string]string{}, BuildKits: map[string]BuildKitImage{},
		Engines: map[string]engine.Handle{}, WorkDir: workDir, Timings: map[string]time.Duration{},
		baseTarballs: map[string]string{}, Online: src.Online, EngineOrigins: map[string]images.Origin{}, BaseOrigins: map[string]images.Origin{}}
	if id := os.Getenv(RunIDEnv); id != "" {
		sh.RunID = id
	}
	p := &Prepared{Shared: sh, src: src, log: &progress.Log{W: log, Prefix: "prepare: "}}
	if len(cells) == 0 {
		return p, errors.New("prepare: no cells to run")
	}
	unlock, err := Lock(sh.RunID)
	if err != nil {
		return p, err
	}
	p.unlock = unlock
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return p, err
	}
	// A rootless engine's BuildKit, an unprivileged user, reaches the
	// cells' folders below it (os.MkdirTemp makes 0700).
	if err := os.Chmod(workDir, 0o755); err != nil {
		return p, err
	}
	steps := []struct {
		name string
		do   func() error
	}{
		{"resolve-latest", func() error { return p.resolveLatest(ctx, m) }},
		{"registry", func() error { return p.startRegistry(ctx, cells) }},
		{"base-images", func() error { return p.baseImages(ctx, cells) }},
		{"engines", func() error { return p.startEngines(ctx, m, cells) }},
		{"engine-registries", func() error { return p.pushToEngines(ctx) }},
		{"buildkit-images", func() error { return p.buildKitImages(ctx, cells) }},
	}
	for i, s := range steps {
		done := p.log.Step(fmt.Sprintf("step %d/%d %s", i+1, len(steps), s.name))
		start := time.Now()
		err := done(s.do())
		sh.Timings[s.name] = time.Since(start)
		if err != nil {
			return p, fmt.Errorf("prepare %s: %w", s.name, err)
		}
	}
	return p, nil
}

// RunIDEnv names the environment variable that sets a run's id: the shards
// of one sharded run share it, so that their results merge.
const RunIDEnv = "REPRO_MATRIX_RUN_ID"

// resolveLatest resolves BuildKit "latest": online the newest release tag
// of moby/buildkit, offline the newest version the Go module proxy serves.
func (p *Prepared) resolveLatest(ctx context.Context, m *matrix.Matrix) error {
	if !p.src.Online {
		return m.ResolveLatest(ctx, provision.Latest)
	}
	return m.ResolveLatest(ctx, func(ctx context.Context, _ string) (string, error) {
		return p.src.LatestRelease(ctx, matrix.DefaultBuildKitRepository)
	})
}

// startRegistry starts the run's loopback registry. When fixtures of the
// cells build from a git context, it first commits each to a repository
// under the work folder, which the registry serves as well.
func (p *Prepared) startRegistry(ctx context.Context, cells []matrix.Cell) error {
	root := filepath.Join(p.Shared.WorkDir, "git")
	names := map[string]bool{}
	for _, c := range cells {
		f := c.Fixture
		if !f.Git || names[f.Name] {
			continue
		}
		names[f.Name] = true
		if err := os.MkdirAll(root, 0o755); err != nil {
			return err
		}
		id, err := registry.CommitRepo(ctx, root, f.Name, f.Dir, f.Epoch())
		if err != nil {
			return fmt.Errorf("fixture %s: %w", f.Name, err)
		}
		p.log.Printf("fixture %s: committed as %s, served at /git/%s.git", f.Name, id, f.Name)
	}
	if len(names) == 0 {
		root = ""
	}
	r, err := registry.StartWithGit(ctx, "127.0.0.1:0", root)
	if err != nil {
		return err
	}
	p.registry, p.Shared.Registry = r, r.Addr
	if len(names) > 0 {
		p.Shared.GitContexts = map[string]string{}
	}
	for name := range names {
		p.Shared.GitContexts[name] = "http://" + r.Addr + registry.GitPrefix + name + ".git#main"
	}
	return nil
}

// baseImages obtains the Debian base of every fixture and platform of the
// cells (pulled by its pin online where matrix.yaml pins one) and pushes it
// into the run's registry.
func (p *Prepared) baseImages(ctx context.Context, cells []matrix.Cell) error {
	keys := baseKeys(cells)
	for i, key := range keys {
		parts := strings.SplitN(key, " ", 3)
		suite, platform, pin := parts[0], parts[1], ""
		if len(parts) == 3 {
			pin = parts[2]
		}
		suite, pkgList, _ := strings.Cut(suite, "+")
		var packages []string
		tag := suite
		if pkgList != "" {
			packages = strings.Split(pkgList, ",")
			tag += "-" + shortHash(pkgList)
		}
		osName, arch, _ := strings.Cut(platform, "/")
		if osName != "linux" {
			return fmt.Errorf("platform %s: only linux platforms have base images", platform)
		}
		arch, _, _ = strings.Cut(arch, "/")
		img, err := p.src.Get(ctx, images.Request{
			What: fmt.Sprintf("base %d/%d Debian %s for %s", i+1, len(keys), suite, platform),
			Pin:  pin, Platform: platform,
			RecipeText: strings.TrimSpace("debian " + suite + " " + arch + " (mmdebstrap) " + strings.Join(packages, " ")),
			Recipe: func(ctx context.Context) (provision.Image, error) {
				return provision.DebianBase(ctx, p.src.Cache, suite, arch, packages...)
			},
		})
		if err != nil {
			return err
		}
		ref, err := p.registry.PushTarball(ctx, img.Tarball, "library/debian", tag+"-"+arch)
		if err != nil {
			return err
		}
		p.Shared.BaseImages[key] = ref
		p.Shared.BaseOrigins[key] = img.Origin
		p.Shared.baseTarballs[key] = img.Tarball
	}
	return nil
}

// pushToEngines copies the base images into the registries of engines that
// cannot reach the run's (Docker in a container has a network of its own).
func (p *Prepared) pushToEngines(ctx context.Context) error {
	for _, name := range slices.Sorted(maps.Keys(p.Shared.Engines)) {
		h := p.Shared.Engines[name]
		if h.RegistryPush == "" {
			continue
		}
		for _, key := range slices.Sorted(maps.Keys(p.Shared.baseTarballs)) {
			suite, platform, _ := strings.Cut(key, " ")
			p.log.Printf("push the %s base for %s into %s's registry", suite, platform, name)
			ref := p.Shared.BaseImages[key]
			repoTag := strings.TrimPrefix(strings.SplitN(ref, "@", 2)[0], p.Shared.Registry+"/")
			repo, tag, _ := strings.Cut(repoTag, ":")
			if _, err := h.Push(ctx, p.Shared.baseTarballs[key], repo, tag); err != nil {
				return err
			}
		}
	}
	return nil
}

// baseKey names the base image of a cell, "SUITE[+PACKAGE,...] PLATFORM[ PIN]",
// "" when its fixture has none: fixtures of one suite share their base
// unless one adds packages, or pins an upstream image for online runs.
func baseKey(c matrix.Cell) string {
	b := c.Fixture.Base
	if b == nil {
		return ""
	}
	suite := b.Suite
	if len(b.Packages) > 0 {
		suite += "+" + strings.Join(slices.Sorted(slices.Values(b.Packages)), ",")
	}
	return strings.TrimSpace(suite + " " + c.Platform + " " + b.Image)
}

// buildKitImages obtains each BuildKit of the cells and loads it into each
// engine that runs it: once per run, not once per cell. A rootless engine
// runs the BuildKit's rootless variant.
func (p *Prepared) buildKitImages(ctx context.Context, cells []matrix.Cell) error {
	users := map[bkVariant]map[string]bool{}
	clock := map[bkVariant]bool{} // a cell varies time
	for _, c := range cells {
		v := bkVariant{c.BuildKit, c.Engine.Rootless}
		if users[v] == nil {
			users[v] = map[string]bool{}
		}
		users[v][c.Engine.Name] = true
		clock[v] = clock[v] || slices.Contains(c.Vary, matrix.VariationTime)
	}
	variants := slices.SortedFunc(maps.Keys(users), func(a, b bkVariant) int { return strings.Compare(a.key(), b.key()) })
	for i, v := range variants {
		version := v.bk.EffectiveVersion()
		img, err := p.src.Get(ctx, buildKitRequest(v, p.src.Cache, fmt.Sprintf("BuildKit %d/%d %s (%s)", i+1, len(variants), v.key(), version)))
		if err != nil {
			return err
		}
		bk := BuildKitImage{Ref: img.Ref, Version: version, Origin: img.Origin, Rootless: v.rootless}
		load := []provision.Image{img.Image}
		if clock[v] {
			done := p.log.Step(fmt.Sprintf("BuildKit %s: the time variation's clock layer", v.key()))
			ft, err := provision.WithFakeTime(ctx, p.src.Cache, img.Image)
			if err := done(err); err != nil {
				return err
			}
			bk.FakeTime = ft.Ref
			load = append(load, ft)
		}
		p.Shared.BuildKits[v.key()] = bk
		for _, e := range p.engines {
			if !users[v][e.name] {
				continue
			}
			for _, im := range load {
				done := p.log.Step(fmt.Sprintf("load %s into %s", im.Ref, e.name))
				if err := done(engine.Load(ctx, e.Engine, im.Ref, im.ID.String(), im.Tarball)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// bkVariant is a BuildKit of the matrix as a run obtains it: its image, or
// for rootless engines its rootless variant (moby/buildkit:vX-rootless).
type bkVariant struct {
	bk       *matrix.BuildKit
	rootless bool
}

// key names the variant in Shared.BuildKits: the BuildKit's name, then
// " rootless" (a space, which no BuildKit name holds).
func (v bkVariant) key() string {
	if v.rootless {
		return v.bk.Name + " rootless"
	}
	return v.bk.Name
}

// buildKitKey is the key in Shared.BuildKits of the BuildKit a cell runs.
func buildKitKey(c matrix.Cell) string { return bkVariant{c.BuildKit, c.Engine.Rootless}.key() }

// buildKitRequest is what obtains a BuildKit: its image online (by digest
// where matrix.yaml pins one; latest by the release tag it resolved to),
// its Go module offline. The rootless variant's pin is the BuildKit's
// rootlessImage (latest: the release's -rootless tag); without one, it is
// made from its recipe online too.
func buildKitRequest(v bkVariant, cache provision.Cache, what string) images.Request {
	bk := v.bk
	version := bk.EffectiveVersion()
	module := provision.BuildKitModule
	if bk.Offline != nil && bk.Offline.Module != "" {
		module = bk.Offline.Module
	}
	pin := bk.Image
	if bk.IsLatest() {
		pin = matrix.DefaultBuildKitRepository + ":" + version
	}
	recipe := provision.BuildKitFrom
	text := "go " + module + "@" + version
	if v.rootless {
		recipe = provision.BuildKitRootlessFrom
		text += " rootless (rootlesskit of its Dockerfile)"
		pin = bk.RootlessImage
		if bk.IsLatest() {
			pin = matrix.DefaultBuildKitRepository + ":" + version + provision.RootlessSuffix
		}
	}
	return images.Request{
		What: what, Pin: pin, RecipeText: text,
		Recipe: func(ctx context.Context) (provision.Image, error) {
			return recipe(ctx, cache, module, version)
		},
	}
}

// engineImage obtains the image of an engine in a container and loads it
// into the host's Docker, which runs it. Its offline recipe is the Debian
// suite and package of matrix.yaml (or the suite known to carry the
// version), and the engine must report the declared version.
//
// Online too, engines are made from their recipe: an engine image runs this
// project's entrypoint and helpers (provision.EntrypointScript), which the
// upstream docker:dind and quay.io/podman images do not carry, so their
// pins are not pulled; the origin says so.
func (p *Prepared) engineImage(ctx context.Context, me *matrix.Engine, what string) (images.Image, error) {
	recipe := provision.EngineRecipe{Kind: string(me.Kind)}
	if me.Offline != nil {
		recipe.Suite, recipe.Package, recipe.Module = me.Offline.Suite, me.Offline.Package, me.Offline.Module
	}
	if recipe.Suite == "" {
		var err error
		if recipe.Suite, err = provision.EngineSuite(string(me.Kind), me.Version); err != nil {
			return images.Image{}, err
		}
	}
	text := "debian " + recipe.Suite + " " + cmp.Or(recipe.Package, string(me.Kind))
	if recipe.Module != "" {
		recipe.Version = me.Version
		text = "go " + recipe.Module + " (dockerd " + me.Version + "), debian " + recipe.Suite + " containerd runc"
	}
	if p.src.Online && me.Image != "" {
		text += " (online too: the pin " + me.Image + " lacks repro-matrix's engine entrypoint)"
	}
	var made provision.EngineImage
	img, err := p.src.Get(ctx, images.Request{
		What: what, RecipeText: text,
		Recipe: func(ctx context.Context) (provision.Image, error) {
			var err error
			made, err = provision.ProvisionEngine(ctx, p.src.Cache, recipe)
			return made.Image, err
		},
	})
	if err != nil {
		return images.Image{}, err
	}
	if me.Version != "" && !engine.VersionMatches(me.Version, made.Version) {
		return images.Image{}, fmt.Errorf("matrix.yaml declares %s %s, Debian %s carries %s (%s)", me.Kind, me.Version, recipe.Suite, made.Version, made.PackageVersion)
	}
	host, err := engine.Host(ctx, engine.Docker)
	if err != nil {
		return images.Image{}, fmt.Errorf("load the engine image: %w", err)
	}
	done := p.log.Step(fmt.Sprintf("load %s into the host's Docker", img.Ref))
	return img, done(engine.Load(ctx, host, img.Ref, img.ID.String(), img.Tarball))
}

// startEngines connects to (or starts) each engine of the cells and checks
// that the version it reports is the one matrix.yaml declares. Engines in
// containers see the run's folder and the matrix's folder at their own
// paths.
func (p *Prepared) startEngines(ctx context.Context, m *matrix.Matrix, cells []matrix.Cell) error {
	var wanted []*matrix.Engine
	seen := map[string]bool{}
	for _, c := range cells {
		if !seen[c.Engine.Name] {
			seen[c.Engine.Name] = true
			wanted = append(wanted, c.Engine)
		}
	}
	for i, me := range wanted {
		what := fmt.Sprintf("engine %d/%d %s (%s)", i+1, len(wanted), me.Name, me.Where)
		spec := engine.Spec{Name: me.Name, Kind: engine.Kind(me.Kind), Version: me.Version,
			InContainer: me.Where == matrix.Container, RunID: p.Shared.RunID, Dir: p.Shared.WorkDir,
			Mounts: []string{p.Shared.WorkDir, m.Dir}, Log: p.log.W}
		var err error
		if spec.Client, err = p.client(ctx, me, what); err != nil {
			return err
		}
		spec.Store = string(me.Store)
		if me.Rootless {
			if me.Kind != matrix.EngineKind(engine.Podman) || spec.InContainer {
				return fmt.Errorf("engine %s: only the host's Podman runs rootless here", me.Name)
			}
			spec.User = engine.RootlessUser
		}
		if spec.InContainer {
			img, err := p.engineImage(ctx, me, what+" image")
			if err != nil {
				return err
			}
			spec.Image = img.Ref
			p.Shared.EngineOrigins[me.Name] = img.Origin
		}
		done := p.log.Step(what)
		e, h, err := engine.Start(ctx, spec)
		if e != nil {
			p.engines = append(p.engines, runEngine{me.Name, e})
		}
		if err := done(err); err != nil {
			return err
		}
		if me.Rootless {
			if err := rootlessIDs(ctx, e, me.Name); err != nil {
				return err
			}
		}
		p.Shared.Engines[me.Name] = h
	}
	return nil
}

// rootlessIDs checks that a rootless engine maps enough ids for the
// rootless BuildKit it runs, whose rootlesskit maps ids 100000-165535 of
// its container: without them it stops with newuidmap's "write to uid_map
// failed: Operation not permitted".
func rootlessIDs(ctx context.Context, e engine.Engine, name string) error {
	n, err := engine.MappedIDs(ctx, e)
	if err != nil {
		return fmt.Errorf("engine %s: %w", name, err)
	}
	if n < provision.RootlessIDsNeeded {
		return fmt.Errorf("engine %s: its user namespace maps %d ids, and a rootless BuildKit needs %d (its rootlesskit maps ids 100000-165535): give %s %d subordinate ids in /etc/subuid and /etc/subgid (make setup does)",
			name, n, provision.RootlessIDsNeeded, engine.RootlessUser, provision.RootlessIDsNeeded-1)
	}
	return nil
}

// client builds the docker CLI and buildx plugin that an engine declares
// (matrix.yaml's cli and buildx) from the Go module proxy; zero when it
// declares neither.
func (p *Prepared) client(ctx context.Context, me *matrix.Engine, what string) (engine.Client, error) {
	var c engine.Client
	if me.CLI != "" {
		done := p.log.Step(what + ": docker CLI " + me.CLI + " from the Go module proxy")
		path, err := provision.DockerCLI(ctx, p.src.Cache, me.CLI)
		if err := done(err); err != nil {
			return c, err
		}
		c.Docker = path
	}
	if me.Buildx != "" {
		done := p.log.Step(what + ": buildx " + me.Buildx + " from the Go module proxy")
		path, err := provision.Buildx(ctx, p.src.Cache, me.Buildx)
		if err == nil {
			c.Config, err = provision.ClientConfig(p.src.Cache, path)
		}
		if err := done(err); err != nil {
			return c, err
		}
	}
	return c, nil
}

// baseKeys are the base images the cells need, sorted.
func baseKeys(cells []matrix.Cell) []string {
	set := map[string]bool{}
	for _, c := range cells {
		if k := baseKey(c); k != "" {
			set[k] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// Package runner runs cells of the matrix: it prepares, once per run, what
// every cell shares (BuildKit and base images, the loopback registry, the
// engines), and it runs one cell: build, analyze, record.
package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/engine"
	"github.com/repro-matrix/repro-matrix/internal/matrix"
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
}

// BuildKitImage is a BuildKit image ready in the run's engines.
type BuildKitImage struct {
	Ref     string `json:"ref"`
	Version string `json:"version"` // the concrete version, latest resolved
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
	registry *registry.Registry
	engines  []engine.Engine
	unlock   func()
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

// Prepare provisions and starts what the cells need, logging each step to
// log. On error it returns what it had started, for the caller to Close.
func Prepare(ctx context.Context, m *matrix.Matrix, cells []matrix.Cell, cache provision.Cache, workDir string, log io.Writer) (*Prepared, error) {
	sh := &Shared{RunID: NewRunID(), BaseImages: map[string]string{}, BuildKits: map[string]BuildKitImage{},
		Engines: map[string]engine.Handle{}, WorkDir: workDir, Timings: map[string]time.Duration{},
		baseTarballs: map[string]string{}}
	p := &Prepared{Shared: sh}
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
	steps := []struct {
		name string
		do   func() error
	}{
		{"resolve-latest", func() error { return m.ResolveLatest(ctx, provision.Latest) }},
		{"registry", func() error { return p.startRegistry() }},
		{"base-images", func() error { return p.baseImages(ctx, cells, cache, log) }},
		{"engines", func() error { return p.startEngines(ctx, m, cells, cache, log) }},
		{"engine-registries", func() error { return p.pushToEngines(ctx, log) }},
		{"buildkit-images", func() error { return p.buildKitImages(ctx, cells, cache, log) }},
	}
	for _, s := range steps {
		start := time.Now()
		err := s.do()
		sh.Timings[s.name] = time.Since(start)
		if err != nil {
			return p, fmt.Errorf("prepare %s: %w", s.name, err)
		}
	}
	return p, nil
}

func (p *Prepared) startRegistry() error {
	r, err := registry.Start("127.0.0.1:0")
	if err != nil {
		return err
	}
	p.registry, p.Shared.Registry = r, r.Addr
	return nil
}

// baseImages pushes the Debian base of every fixture and platform of the
// cells into the registry.
func (p *Prepared) baseImages(ctx context.Context, cells []matrix.Cell, cache provision.Cache, log io.Writer) error {
	for _, key := range baseKeys(cells) {
		suite, platform, _ := strings.Cut(key, " ")
		os, arch, _ := strings.Cut(platform, "/")
		if os != "linux" {
			return fmt.Errorf("platform %s: only linux platforms have base images", platform)
		}
		arch, _, _ = strings.Cut(arch, "/")
		fmt.Fprintf(log, "prepare: Debian %s base image for %s\n", suite, platform)
		img, err := provision.DebianBase(ctx, cache, suite, arch)
		if err != nil {
			return err
		}
		ref, err := p.registry.PushTarball(ctx, img.Tarball, "library/debian", suite+"-"+arch)
		if err != nil {
			return err
		}
		p.Shared.BaseImages[key] = ref
		p.Shared.baseTarballs[key] = img.Tarball
	}
	return nil
}

// pushToEngines copies the base images into the registries of engines that
// cannot reach the run's (Docker in a container has a network of its own).
func (p *Prepared) pushToEngines(ctx context.Context, log io.Writer) error {
	for _, name := range sortedKeys(p.Shared.Engines) {
		h := p.Shared.Engines[name]
		if h.RegistryPush == "" {
			continue
		}
		for _, key := range sortedKeys(p.Shared.baseTarballs) {
			suite, platform, _ := strings.Cut(key, " ")
			fmt.Fprintf(log, "prepare: push the %s base for %s into %s's registry\n", suite, platform, name)
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

// baseKey names the base image of a cell, "" when its fixture has none.
func baseKey(c matrix.Cell) string {
	if c.Fixture.Base == nil {
		return ""
	}
	return c.Fixture.Base.Suite + " " + c.Platform
}

// buildKitImages provisions each BuildKit of the cells and loads it into
// each engine that runs it: once per run, not once per cell.
func (p *Prepared) buildKitImages(ctx context.Context, cells []matrix.Cell, cache provision.Cache, log io.Writer) error {
	users := map[*matrix.BuildKit]map[string]bool{}
	for _, c := range cells {
		if users[c.BuildKit] == nil {
			users[c.BuildKit] = map[string]bool{}
		}
		users[c.BuildKit][c.Engine.Name] = true
	}
	for _, bk := range sortedBuildKits(users) {
		version := bk.EffectiveVersion()
		fmt.Fprintf(log, "prepare: BuildKit %s (%s)\n", bk.Name, version)
		img, err := provision.BuildKitFrom(ctx, cache, recipeModule(bk), version)
		if err != nil {
			return err
		}
		p.Shared.BuildKits[bk.Name] = BuildKitImage{Ref: img.Ref, Version: version}
		for _, e := range p.engines {
			if !users[bk][e.Name()] {
				continue
			}
			fmt.Fprintf(log, "prepare: load %s into %s\n", img.Ref, e.Name())
			if err := engine.Load(ctx, e, img.Ref, img.ID.String(), img.Tarball); err != nil {
				return err
			}
		}
	}
	return nil
}

func recipeModule(bk *matrix.BuildKit) string {
	if bk.Offline != nil && bk.Offline.Module != "" {
		return bk.Offline.Module
	}
	return provision.BuildKitModule
}

// startEngines connects to (or starts) each engine of the cells and checks
// that the version it reports is the one matrix.yaml declares. Engines in
// containers see the run's folder and the matrix's folder at their own
// paths.
func (p *Prepared) startEngines(ctx context.Context, m *matrix.Matrix, cells []matrix.Cell, cache provision.Cache, log io.Writer) error {
	seen := map[string]bool{}
	for _, c := range cells {
		me := c.Engine
		if seen[me.Name] {
			continue
		}
		seen[me.Name] = true
		fmt.Fprintf(log, "prepare: engine %s (%s)\n", me.Name, me.Where)
		spec := engine.Spec{Name: me.Name, Kind: engine.Kind(me.Kind), Version: me.Version,
			InContainer: me.Where == matrix.Container, RunID: p.Shared.RunID, Dir: p.Shared.WorkDir,
			Mounts: []string{p.Shared.WorkDir, m.Dir}, Cache: cache, Log: log}
		if me.Offline != nil {
			spec.Suite, spec.Package = me.Offline.Suite, me.Offline.Package
		}
		e, h, err := engine.Start(ctx, spec)
		if e != nil {
			p.engines = append(p.engines, e)
		}
		if err != nil {
			return err
		}
		p.Shared.Engines[me.Name] = h
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func baseKeys(cells []matrix.Cell) []string {
	set := map[string]bool{}
	for _, c := range cells {
		if k := baseKey(c); k != "" {
			set[k] = true
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func sortedBuildKits(m map[*matrix.BuildKit]map[string]bool) []*matrix.BuildKit {
	out := make([]*matrix.BuildKit, 0, len(m))
	for bk := range m {
		out = append(out, bk)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/build"
	"github.com/repro-matrix/repro-matrix/internal/engine"
	"github.com/repro-matrix/repro-matrix/internal/images"
	"github.com/repro-matrix/repro-matrix/internal/matrix"
	"github.com/repro-matrix/repro-matrix/internal/oci"
	"github.com/repro-matrix/repro-matrix/internal/report"
)

// Cells runs cells in one process against a prepared run. Engines are
// connected once per process and their environment is read once. Cells of
// one engine and BuildKit build on one builder, started when the first of
// them runs and removed by Release or Close. Cells that differ only in
// exporter share one build (one solve, several exports) where their
// BuildKit and buildx can (build.SharesSolve).
type Cells struct {
	Shared   *Shared
	mu       sync.Mutex
	engines  map[string]engine.Engine
	envs     map[string]map[string]string
	builders map[string]*builder // by Pair
	batches  map[string]*batch   // by batchKey
	selected map[string][]matrix.Cell
	// selfChecks are the cells rebuilt on a fresh builder (SelfCheckCells).
	selfChecks map[string]bool
	kept       map[string]string // "group digest" -> the tarball kept for both
}

// NewCells returns a cell runner for a prepared run. profile are the cells
// of the run's profile, which decide the self-checked cells
// (SelfCheckCells), so that shards of a run, each with its label filter,
// self-check what the whole run does: a filter that leaves out a group's
// self-checked cell leaves the group without self-check. selected are the
// cells this run builds (after label filters), which decide what a shared
// build exports.
func NewCells(sh *Shared, profile, selected []matrix.Cell) *Cells {
	r := &Cells{Shared: sh, engines: map[string]engine.Engine{}, envs: map[string]map[string]string{},
		builders: map[string]*builder{}, batches: map[string]*batch{}, selected: map[string][]matrix.Cell{},
		selfChecks: SelfCheckCells(profile), kept: map[string]string{}}
	for _, c := range selected {
		k := batchKey(c)
		r.selected[k] = append(r.selected[k], c)
	}
	return r
}

// Pair names the builder a cell builds on: its engine and its BuildKit.
func Pair(c matrix.Cell) string { return c.Engine.Name + "/" + c.BuildKit.Name }

// batchKey names the cells one solve can serve: they differ only in
// exporter.
func batchKey(c matrix.Cell) string {
	return Pair(c) + "/" + c.Fixture.Name + "/" + c.Platform
}

// engine returns the connected engine of a cell and its environment record.
func (r *Cells) engine(ctx context.Context, name string) (engine.Engine, map[string]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.engines[name]; ok {
		return e, r.envs[name], nil
	}
	h, ok := r.Shared.Engines[name]
	if !ok {
		return nil, nil, fmt.Errorf("engine %s was not started for this run", name)
	}
	e, err := engine.Connect(ctx, h)
	if err != nil {
		return nil, nil, err
	}
	env, err := e.Environment(ctx)
	if err != nil {
		return nil, nil, err
	}
	r.engines[name], r.envs[name] = e, env
	return e, env, nil
}

// Run builds one cell, analyzes its tarball and returns its result. A
// failure of any step is recorded in the result's Error: a cell that did
// not build never has a digest. The tarball stays in the cell's folder
// for diffs.
func (r *Cells) Run(ctx context.Context, c matrix.Cell, log io.Writer) report.CellResult {
	res := report.CellResult{
		Name: c.Name(), Group: c.Group(), Axes: c.Coords(), Pinned: new(c.Pinned()), Rootless: c.Engine.Rootless, Started: time.Now().UTC(),
		Timings: map[string]time.Duration{},
	}
	if g, ok := c.Fixture.Golden(c.Platform, c.Exporter.Name); ok {
		res.Golden = string(g)
	}
	start := time.Now()
	var shared walls
	if err := r.run(ctx, c, &res, &shared, log); err != nil {
		res.Error = err.Error()
		res.Interrupted = ctx.Err() != nil
	}
	// A cell's total counts its share of a shared build, wherever it ran,
	// and not its self-check and variations (timed apart).
	res.Timings["total"] = time.Since(start) - shared.build - shared.rebuilds + res.Timings["build"]
	return res
}

// walls are the times a cell's Run spent on work it shares with others:
// the build, and the rebuilds of the self-check and the variations.
type walls struct{ build, rebuilds time.Duration }

func (r *Cells) run(ctx context.Context, c matrix.Cell, res *report.CellResult, shared *walls, log io.Writer) error {
	e, env, err := r.engine(ctx, c.Engine.Name)
	if err != nil {
		return err
	}
	res.Env = cellEnv(env, r.Shared.BuildKits[buildKitKey(c)], r.Shared.EngineOrigins[c.Engine.Name])
	if k := baseKey(c); k != "" {
		res.Env[report.EnvBaseOrigin] = r.Shared.BaseOrigins[k].String()
	}
	b, err := r.builder(ctx, c, e, res)
	if err != nil {
		return err
	}
	if b.snapshotter != "" {
		res.Env["buildkit_snapshotter"] = b.snapshotter
	}
	if b.processMode != "" {
		res.Env["buildkit_process_mode"] = b.processMode
	}
	bt := r.batch(c, env)
	if !bt.done {
		t := time.Now()
		bt.err = r.buildBatch(ctx, b, bt, log)
		bt.took, bt.done = time.Since(t), true
		shared.build = bt.took
	}
	n := len(bt.cells)
	res.Timings["build"] = bt.took / time.Duration(n)
	if n > 1 {
		res.SharedBuild = n
	}
	if bt.err != nil {
		return bt.err
	}
	res.Tarball = r.tarball(c)
	t := time.Now()
	a, err := oci.Analyze(ctx, res.Tarball)
	res.Timings["analyze"] = time.Since(t)
	if err != nil {
		return fmt.Errorf("analyze %s: %w", filepath.Base(res.Tarball), err)
	}
	if a.ImageDigest == "" {
		return fmt.Errorf("analyze %s: no image manifest in index.json", filepath.Base(res.Tarball))
	}
	res.Digest = a.ImageDigest.String()
	if r.selfChecks[c.Name()] {
		shared.rebuilds = r.selfCheck(ctx, c, b, bt, res, log)
		if len(c.Vary) > 0 {
			shared.rebuilds += r.vary(ctx, c, c.Vary, b, bt, res, log)
		}
	}
	res.Tarball = r.keep(c.Group(), res.Digest, res.Tarball)
	return nil
}

// keep returns the tarball kept for a group's digest: the first cell's
// that built it (in this process), whose path the others then carry; their
// own copies are removed. Diffs need one tarball per digest and group, and
// a run of hundreds of cells would otherwise hold tens of gigabytes of
// identical images until its reports are made.
func (r *Cells) keep(group, digest, tarball string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := group + " " + digest
	if kept, ok := r.kept[key]; ok && kept != tarball {
		if os.Remove(tarball) == nil {
			return kept
		}
		return tarball
	}
	r.kept[key] = tarball
	return tarball
}

// batch is the cells one build serves and, once built, how it went.
type batch struct {
	cells []matrix.Cell
	done  bool
	took  time.Duration
	err   error
	// The rebuild of its self-checked cells on a fresh builder.
	selfChecked bool
	selfTook    time.Duration
	selfErr     error
	// Its rebuilds with a variation each, by variation; nil until built.
	varied   map[string]error
	varyTook time.Duration
}

// batch returns the build that serves c: shared with the selected cells of
// its other exporters where the cell's BuildKit and buildx export one solve
// to several outputs, else its own.
func (r *Cells) batch(c matrix.Cell, env map[string]string) *batch {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := batchKey(c)
	bk := r.Shared.BuildKits[buildKitKey(c)]
	if !build.SharesSolve(engine.Kind(c.Engine.Kind), bk.Version, env["buildx_version"]) {
		k = c.Name()
	}
	if bt, ok := r.batches[k]; ok {
		return bt
	}
	bt := &batch{cells: r.selected[k]}
	if !slices.ContainsFunc(bt.cells, func(o matrix.Cell) bool { return o.Name() == c.Name() }) {
		bt.cells = []matrix.Cell{c} // not selected (a focus), or not shared
	}
	r.batches[k] = bt
	return bt
}

// buildBatch builds a batch's cells in one build on b, each to its folder.
func (r *Cells) buildBatch(ctx context.Context, b *builder, bt *batch, log io.Writer) error {
	c := bt.cells[0]
	opts, err := r.options(c, b)
	if err != nil {
		return err
	}
	for _, o := range bt.cells {
		if err := r.mkdir(o, filepath.Dir(r.tarball(o))); err != nil {
			return err
		}
		opts.Outputs = append(opts.Outputs, output(o, r.tarball(o)))
	}
	if err := build.Run(ctx, b.engine, opts, log); err != nil {
		r.saveEngineLog(ctx, b.engine)
		err = engine.Explain(ctx, b.engine, err)
		if len(bt.cells) > 1 {
			return fmt.Errorf("build (one solve for %d exporters): %w", len(bt.cells), err)
		}
		return fmt.Errorf("build: %w", err)
	}
	return nil
}

// mkdir makes a folder a cell's builder writes into. A rootless engine's
// BuildKit writes as its unprivileged user: the folder is open to it.
func (r *Cells) mkdir(c matrix.Cell, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if r.Shared.Engines[c.Engine.Name].User == "" {
		return nil
	}
	return os.Chmod(dir, 0o777)
}

// output is the build output of a cell's exporter, written to path.
func output(c matrix.Cell, path string) build.Output {
	return build.Output{Path: path, Exporter: build.Exporter(c.Exporter.Type), OCIMediaTypes: c.Exporter.OCIMediatypes}
}

// tarball is where a cell's image is written.
func (r *Cells) tarball(c matrix.Cell) string {
	return filepath.Join(r.Shared.WorkDir, "cells", cellDirName(c), "image.tar")
}

// builder is the BuildKit a pair's cells build on, started once.
type builder struct {
	build.Builder
	engine      engine.Engine // the pair's engine, with the builder's buildx config
	err         error         // why it did not start
	snapshotter string        // its worker's, as it said when started
	processMode string        // its worker's: sandbox, or no-sandbox (rootless)
}

// builder returns the cell's builder, starting it on first use; the cell
// that starts it records the time it took.
func (r *Cells) builder(ctx context.Context, c matrix.Cell, e engine.Engine, res *report.CellResult) (*builder, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := Pair(c)
	if b, ok := r.builders[key]; ok {
		return b, b.err
	}
	bk, ok := r.Shared.BuildKits[buildKitKey(c)]
	if !ok {
		return nil, fmt.Errorf("buildkit %s was not provisioned for this run", c.BuildKit.Name)
	}
	name := "repro-matrix-run-" + r.Shared.RunID + "-" + shortHash(key)
	b := &builder{Builder: build.Builder{Name: name, Runtime: engine.Kind(c.Engine.Kind), BuildKitImage: bk.Ref,
		HostNetwork: true, Rootless: bk.Rootless, Labels: []string{engine.RunLabel + "=" + r.Shared.RunID},
		Mounts: r.mounts(c)}}
	b.engine = engine.WithEnv(e, "BUILDX_CONFIG="+filepath.Join(r.Shared.WorkDir, "builders", shortHash(key)))
	if b.Runtime == engine.Docker {
		b.Labels = nil // buildx builders carry none; Sweep finds them by name
	}
	r.builders[key] = b
	t := time.Now()
	if err := b.Start(ctx, b.engine); err != nil {
		r.saveEngineLog(ctx, e)
		b.err = fmt.Errorf("builder for %s: %w", key, engine.Explain(ctx, e, err))
	} else {
		// The environment record's; a builder that cannot say has none.
		b.snapshotter, _ = b.WorkerLabel(ctx, b.engine, build.LabelSnapshotter)
		b.processMode, _ = b.WorkerLabel(ctx, b.engine, build.LabelProcessMode)
	}
	res.Timings["builder"] = time.Since(t)
	return b, b.err
}

// mounts are the folders a pair's builder reads and writes: the run's
// folder and the fixtures of the pair's cells, with their Dockerfiles.
func (r *Cells) mounts(c matrix.Cell) []string {
	dirs := []string{r.Shared.WorkDir}
	add := func(c matrix.Cell) {
		dirs = append(dirs, c.Fixture.Dir)
		if c.Fixture.Dockerfile != "" {
			dirs = append(dirs, filepath.Dir(c.Fixture.Dockerfile))
		}
	}
	add(c)
	for _, cells := range r.selected {
		for _, o := range cells {
			if Pair(o) == Pair(c) {
				add(o)
			}
		}
	}
	slices.Sort(dirs)
	return slices.Compact(dirs)
}

// Release removes the builder of a pair (Pair) once its cells are done.
func (r *Cells) Release(ctx context.Context, pair string) error {
	r.mu.Lock()
	b, ok := r.builders[pair]
	delete(r.builders, pair)
	r.mu.Unlock()
	if !ok {
		return nil
	}
	return b.Remove(ctx, b.engine)
}

// Close removes every builder this process started and has not released.
func (r *Cells) Close(ctx context.Context) error {
	var errs []error
	for _, pair := range slices.Sorted(maps.Keys(r.builders)) {
		errs = append(errs, r.Release(ctx, pair))
	}
	return errors.Join(errs...)
}

// EngineLogsDir is the folder of the run's work folder that keeps the logs
// of engines under which a cell failed; the reports copy it.
const EngineLogsDir = "engine-logs"

// saveEngineLog keeps the log of an engine under which a cell failed (its
// last 2000 lines), for the report: only such engines' logs are kept.
func (r *Cells) saveEngineLog(ctx context.Context, e engine.Engine) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	logs, err := e.Logs(ctx, 2000)
	if err != nil || strings.TrimSpace(logs) == "" {
		return
	}
	dir := filepath.Join(r.Shared.WorkDir, EngineLogsDir)
	if os.MkdirAll(dir, 0o755) == nil {
		os.WriteFile(filepath.Join(dir, e.Name()+".log"), []byte(logs), 0o644)
	}
}

// options are the build options of a cell without outputs: the fixture's,
// this run's base image, and the builder's BuildKit and isolation.
func (r *Cells) options(c matrix.Cell, b *builder) (build.Options, error) {
	base := ""
	if k := baseKey(c); k != "" {
		var ok bool
		if base, ok = r.Shared.BaseImages[k]; !ok {
			return build.Options{}, fmt.Errorf("no base image %s was prepared", k)
		}
		base = r.Shared.Engines[c.Engine.Name].LocalRef(base, r.Shared.Registry)
	}
	context, file := c.Fixture.Dir, c.Fixture.Dockerfile
	if c.Fixture.Git {
		if r.Shared.Engines[c.Engine.Name].Registry != "" {
			return build.Options{}, fmt.Errorf("fixture %s builds from a git context on the host's 127.0.0.1, which BuildKit under %s (its own network namespace) cannot reach", c.Fixture.Name, c.Engine.Name)
		}
		if context = r.Shared.GitContexts[c.Fixture.Name]; context == "" {
			return build.Options{}, fmt.Errorf("no git context of fixture %s was prepared", c.Fixture.Name)
		}
		file = ""
	}
	return build.Options{
		Runtime:         b.Runtime,
		Context:         context,
		File:            file,
		SourceDateEpoch: c.Fixture.Epoch(),
		BuildKitImage:   b.BuildKitImage,
		NoCache:         true,
		Platform:        c.Platform,
		BuildArgs:       buildArgs(c.Fixture.BuildArgs, base),
		HostNetwork:     b.HostNetwork,
		Builder:         b.Name,
	}, nil
}

// buildArgs are the fixture's build arguments plus its base image, if it
// has one, sorted so that command lines are stable.
func buildArgs(fixture map[string]string, base string) []string {
	var args []string
	for k, v := range fixture {
		args = append(args, k+"="+v)
	}
	if base != "" {
		args = append(args, matrix.BaseImageArg+"="+base)
	}
	slices.Sort(args)
	return args
}

// cellEnv is the environment record of a cell: its engine's, BuildKit's,
// and where their images came from (engine_origin is "host" for the host's
// own engines).
func cellEnv(engineEnv map[string]string, bk BuildKitImage, engineImage images.Origin) map[string]string {
	env := maps.Clone(engineEnv)
	if env == nil {
		env = map[string]string{}
	}
	env["buildkit_version"] = bk.Version
	env["buildkit_image"] = bk.Ref
	env[report.EnvBuildKitOrigin] = bk.Origin.String()
	env[report.EnvEngineOrigin] = "host"
	if engineImage != (images.Origin{}) {
		env[report.EnvEngineOrigin] = engineImage.String()
	}
	return env
}

func cellDirName(c matrix.Cell) string {
	return strings.NewReplacer("/", "_", "=", "-").Replace(c.Name())
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])[:10]
}

package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
// connected once per process and their environment is read once.
type Cells struct {
	Shared  *Shared
	mu      sync.Mutex
	engines map[string]engine.Engine
	envs    map[string]map[string]string
}

// NewCells returns a cell runner for a prepared run.
func NewCells(sh *Shared) *Cells {
	return &Cells{Shared: sh, engines: map[string]engine.Engine{}, envs: map[string]map[string]string{}}
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
		Name: c.Name(), Group: c.Group(), Axes: c.Coords(), Pinned: new(c.BuildKit.Pinned), Started: time.Now().UTC(),
		Timings: map[string]time.Duration{},
	}
	if g, ok := c.Fixture.Golden(c.Platform, c.Exporter.Name); ok {
		res.Golden = string(g)
	}
	start := time.Now()
	defer func() { res.Timings["total"] = time.Since(start) }()
	if err := r.run(ctx, c, &res, log); err != nil {
		res.Error = err.Error()
		res.Interrupted = ctx.Err() != nil
	}
	return res
}

func (r *Cells) run(ctx context.Context, c matrix.Cell, res *report.CellResult, log io.Writer) error {
	e, env, err := r.engine(ctx, c.Engine.Name)
	if err != nil {
		return err
	}
	res.Env = cellEnv(env, r.Shared.BuildKits[c.BuildKit.Name], r.Shared.EngineOrigins[c.Engine.Name])
	if k := baseKey(c); k != "" {
		res.Env[report.EnvBaseOrigin] = r.Shared.BaseOrigins[k].String()
	}
	dir := filepath.Join(r.Shared.WorkDir, "cells", cellDirName(c))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	opts, err := r.options(c, dir)
	if err != nil {
		return err
	}
	ce := engine.WithEnv(e, "BUILDX_CONFIG="+filepath.Join(dir, "buildx"))
	if opts.Runtime == engine.Docker {
		defer removeBuilder(ce, opts.Builder)
	}
	t := time.Now()
	err = build.Run(ctx, ce, opts, log)
	res.Timings["build"] = time.Since(t)
	if err != nil {
		r.saveEngineLog(ctx, e)
		return fmt.Errorf("build: %w", engine.Explain(ctx, e, err))
	}
	res.Tarball = opts.Output
	t = time.Now()
	a, err := oci.Analyze(ctx, opts.Output)
	res.Timings["analyze"] = time.Since(t)
	if err != nil {
		return fmt.Errorf("analyze %s: %w", filepath.Base(opts.Output), err)
	}
	if a.ImageDigest == "" {
		return fmt.Errorf("analyze %s: no image manifest in index.json", filepath.Base(opts.Output))
	}
	res.Digest = a.ImageDigest.String()
	return nil
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

// options are the build options of a cell: the fixture's, the exporter's,
// and this run's BuildKit image, base image and isolation.
func (r *Cells) options(c matrix.Cell, dir string) (build.Options, error) {
	bk, ok := r.Shared.BuildKits[c.BuildKit.Name]
	if !ok {
		return build.Options{}, fmt.Errorf("buildkit %s was not provisioned for this run", c.BuildKit.Name)
	}
	base := ""
	if k := baseKey(c); k != "" {
		if base, ok = r.Shared.BaseImages[k]; !ok {
			return build.Options{}, fmt.Errorf("no base image %s was prepared", k)
		}
		base = r.Shared.Engines[c.Engine.Name].LocalRef(base, r.Shared.Registry)
	}
	o := build.Options{
		Runtime:         engine.Kind(c.Engine.Kind),
		Context:         c.Fixture.Dir,
		File:            c.Fixture.Dockerfile,
		Output:          filepath.Join(dir, "image.tar"),
		SourceDateEpoch: c.Fixture.Epoch(),
		BuildKitImage:   bk.Ref,
		NoCache:         true,
		Platform:        c.Platform,
		Exporter:        build.Exporter(c.Exporter.Type),
		OCIMediaTypes:   c.Exporter.OCIMediatypes,
		BuildArgs:       buildArgs(c.Fixture.BuildArgs, base),
		HostNetwork:     true,
	}
	if o.Runtime == engine.Docker {
		o.Builder = "repro-matrix-run-" + r.Shared.RunID + "-" + shortHash(c.Name())
	} else {
		o.Labels = []string{engine.RunLabel + "=" + r.Shared.RunID}
	}
	return o, nil
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

// removeBuilder removes a cell's builder with its state, even when the
// cell's context was cancelled.
func removeBuilder(e engine.Engine, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	engine.Run(ctx, e, "buildx", "rm", "--force", name)
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

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/repro-matrix/repro-matrix/internal/bisect"
	"github.com/repro-matrix/repro-matrix/internal/cell"
	"github.com/repro-matrix/repro-matrix/internal/imagediff"
	"github.com/repro-matrix/repro-matrix/internal/images"
	"github.com/repro-matrix/repro-matrix/internal/matrix"
	"github.com/repro-matrix/repro-matrix/internal/oci"
	"github.com/repro-matrix/repro-matrix/internal/provision"
	"github.com/repro-matrix/repro-matrix/internal/report"
	"github.com/repro-matrix/repro-matrix/internal/runner"
)

func init() { register(newBisectCmd) }

// bisectOptions are the flags of bisect.
type bisectOptions struct {
	matrix  string
	cell    string
	from    string
	to      string
	results string
	reports string
	online  bool
}

// cellBuilder builds one cell in its own run, in work, and returns its
// result; the cell's tarball is copied to keep (the result's Tarball then
// names keep). Logs go to log.
type cellBuilder func(ctx context.Context, m *matrix.Matrix, c matrix.Cell, work, keep string, log io.Writer) report.CellResult

func newBisectCmd() *cobra.Command { return bisectCmd(hostVersion, provision.Versions, nil) }

// bisectCmd is the bisect command, reading host engines' versions with
// probe, BuildKit's releases with list, and building cells with build (nil:
// through internal/runner, as the suite does).
func bisectCmd(probe matrix.Probe, list matrix.Lister, build cellBuilder) *cobra.Command {
	var o bisectOptions
	cmd := &cobra.Command{
		Use:   "bisect --cell PATTERN [--matrix FILE] [--from V] [--to V] [--results RESULTS.json] [--reports DIR]",
		Short: "Find the first BuildKit release that builds another digest for a cell",
		Long: `Bisect finds, for one fixture, platform, engine and exporter (--cell, a cell pattern without
buildkit: the BuildKit axis is what is searched), the last BuildKit release that builds the good
digest and the first that builds another, with links to both releases' notes and the diff between
the two images.

The good digest is the group's golden digest, else what the pinned BuildKit builds (recorded in
--results, else built). The releases are a ladder, one per minor release (the newest patch of each)
from --from to --to (default: the matrix's ladder, else the pinned version to latest), as the Go
module proxy lists them for github.com/moby/buildkit.

Digests recorded in --results (a results.json) are reused; other versions are built, one cell at a
time, each in a run of its own (its engine started, its BuildKit image obtained: pulled with
--online, else built from the Go module proxy and cached). When every version is recorded, the
ladder is scanned and every transition listed (good to bad and back); otherwise a binary search
builds only the versions it needs (about log2 of the ladder), skipping a version whose build fails
as git bisect skip does, and it assumes one transition (it says so). Both images' tarballs, the
diff (diff.txt) and the answer (bisect.json) are kept in DIR/<cell>, DIR being --reports; each
build's log too.

Exit 0: an answer (a first bad release, or none: every release builds the good digest, or the first
already builds another). 1: no answer (builds failed) or interrupted. 2: unusable input, naming the
flag.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := build
			if b == nil {
				b = runnerBuilder(o.online)
			}
			return runBisect(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o, probe, list, b)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.matrix, "matrix", matrix.DefaultFile, "matrix file")
	f.StringVar(&o.cell, "cell", "", "cell pattern selecting one fixture, platform, engine and exporter, e.g. fixture=copy-link/platform=linux-amd64/engine=docker-20.10.24/exporter=docker")
	f.StringVar(&o.from, "from", "", "oldest BuildKit release of the ladder (default: the matrix's ladder, else the pinned version)")
	f.StringVar(&o.to, "to", "", "newest BuildKit release of the ladder, or latest (default: the matrix's ladder, else latest)")
	f.StringVar(&o.results, "results", "", "a results.json whose cells are reused")
	f.StringVar(&o.reports, "reports", filepath.Join("reports", "bisect"), "folder for the tarballs, the diff and the answer")
	f.BoolVar(&o.online, "online", os.Getenv("REPRO_MATRIX_ONLINE") == "1", "pull BuildKit images by tag instead of building them from the Go module proxy")
	return cmd
}

// target is the cell being bisected, without its BuildKit.
type target struct {
	fixture  *matrix.Fixture
	platform string // slash form
	engine   *matrix.Engine
	exporter *matrix.Exporter
}

func (t target) at(b *matrix.BuildKit) matrix.Cell {
	return matrix.Cell{Fixture: t.fixture, Platform: t.platform, Engine: t.engine, BuildKit: b, Exporter: t.exporter}
}

func (t target) coords() cell.Coords {
	return cell.Coords{Fixture: t.fixture.Name, Platform: cell.Slug(t.platform), Engine: t.engine.Name, Exporter: t.exporter.Name}
}

// name is the cell's name without buildkit.
func (t target) name() string {
	return fmt.Sprintf("fixture=%s/platform=%s/engine=%s/exporter=%s", t.fixture.Name, cell.Slug(t.platform), t.engine.Name, t.exporter.Name)
}

func runBisect(ctx context.Context, stdout, stderr io.Writer, o bisectOptions, probe matrix.Probe, list matrix.Lister, build cellBuilder) error {
	if o.cell == "" {
		return withCode(exitUsage, errors.New("--cell: required: a pattern selecting one fixture, platform, engine and exporter"))
	}
	pat, err := cell.ParsePattern(o.cell)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("--cell: %w", err))
	}
	if _, ok := pat.Glob(cell.BuildKit); ok {
		return withCode(exitUsage, fmt.Errorf("--cell %s: leave buildkit out: the BuildKit versions are what bisect searches (--from, --to)", o.cell))
	}
	if _, ok := pat.Range(); ok {
		return withCode(exitUsage, fmt.Errorf("--cell %s: leave buildkit out: the BuildKit versions are what bisect searches (--from, --to)", o.cell))
	}
	m, err := matrix.LoadContext(ctx, o.matrix)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("--matrix: %w", err))
	}
	var recorded report.Run
	if o.results != "" {
		if recorded, err = report.ReadJSON(o.results); err != nil {
			return withCode(exitUsage, fmt.Errorf("--results: %w", err))
		}
	}
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	_ = m.ResolveFound(pctx, probe) // an unresolved engine keeps its name; building it fails
	cancel()
	t, err := selectTarget(m, pat)
	if err != nil {
		return withCode(exitUsage, err)
	}
	l, err := bisectLadder(ctx, m, o, list)
	if err != nil {
		return withCode(exitUsage, err)
	}
	dir := filepath.Join(o.reports, strings.NewReplacer("/", "_", "=", "-").Replace(t.name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return withCode(exitUsage, fmt.Errorf("--reports: %w", err))
	}
	work, err := os.MkdirTemp("", "repro-matrix-bisect-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	b := &bisector{m: m, t: t, dir: dir, work: work, build: build, stderr: stderr,
		tarballs: map[string]string{}, built: map[string]bisect.Outcome{}}
	b.record(recorded, l.Versions)

	fmt.Fprintf(stdout, "bisect %s\n", t.name())
	fmt.Fprintf(stdout, "ladder %s: %d releases, %s\n", l, len(l.Versions), strings.Join(l.Versions, " "))
	good, how, err := b.goodDigest(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return withCode(exitMismatch, fmt.Errorf("interrupted: %w", context.Cause(ctx)))
		}
		return withCode(exitMismatch, err)
	}
	fmt.Fprintf(stdout, "good digest %s (%s)\n", good, how)

	a, err := bisect.Search(ctx, bisect.Input{Versions: l.Versions, Good: good, Recorded: b.recorded, Build: b.oracle})
	if a.Mode != "" {
		printAnswer(stdout, a)
	}
	if err != nil {
		if ctx.Err() != nil {
			return withCode(exitMismatch, fmt.Errorf("interrupted: %w", context.Cause(ctx)))
		}
		return withCode(exitUsage, err)
	}
	if js, err := json.MarshalIndent(a, "", "  "); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "bisect.json"), append(js, '\n'), 0o644)
	}
	if a.Result == bisect.NoAnswer {
		return withCode(exitMismatch, errors.New("no answer: "+strings.Join(a.Notes, "; ")))
	}
	if a.Result != bisect.Found {
		return nil
	}
	if err := b.diff(ctx, stdout, a); err != nil {
		if ctx.Err() != nil {
			return withCode(exitMismatch, fmt.Errorf("interrupted: %w", context.Cause(ctx)))
		}
		fmt.Fprintf(stdout, "no diff: %v\n", err)
	}
	return nil
}

// selectTarget is the one fixture, platform, engine and exporter of m
// that pat selects; an error names the fields in which several differ.
func selectTarget(m *matrix.Matrix, pat cell.Pattern) (target, error) {
	var found []target
	engines := map[string]bool{}
	for _, f := range m.Fixtures {
		for _, p := range f.Platforms {
			for _, e := range m.Engines {
				for _, x := range m.Exporters {
					t := target{fixture: f, platform: p, engine: e, exporter: x}
					if matrix.Buildable(matrix.Cell{Fixture: f, Platform: p, Engine: e, Exporter: x}) && pat.Matches(t.coords()) && !slices.ContainsFunc(found, func(u target) bool { return u.name() == t.name() }) {
						found = append(found, t)
						engines[e.Name] = true
					}
				}
			}
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return target{}, fmt.Errorf("--cell %s matches no fixture, platform, engine and exporter of %s", pat, m.Path)
	}
	var fields []string
	for _, a := range []cell.Axis{cell.Fixture, cell.Platform, cell.Engine, cell.Exporter} {
		var values []string
		for _, t := range found {
			if v := t.coords().Value(a); !slices.Contains(values, v) {
				values = append(values, v)
			}
		}
		if len(values) > 1 {
			fields = append(fields, fmt.Sprintf("%s (%s)", a, strings.Join(values, ", ")))
		}
	}
	return target{}, fmt.Errorf("--cell %s matches %d cells, which differ in %s: name one value of each", pat, len(found), strings.Join(fields, " and "))
}

// bisectLadder resolves the ladder to search: --from and --to, else the
// matrix's first ladder, else the pinned version to latest.
func bisectLadder(ctx context.Context, m *matrix.Matrix, o bisectOptions, list matrix.Lister) (*matrix.Ladder, error) {
	var l *matrix.Ladder
	for _, b := range m.BuildKits {
		if b != nil && b.IsLadder() {
			l = b.Ladder
			break
		}
	}
	if l == nil {
		l = &matrix.Ladder{From: m.Pinned().Version, To: "latest"}
		m.BuildKits = append(m.BuildKits, &matrix.BuildKit{Ladder: l})
	}
	if o.from != "" {
		l.From = o.from
	}
	if o.to != "" {
		l.To = o.to
	}
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	if err := m.ResolveLadders(ctx, list); err != nil {
		flags := "--from/--to"
		if o.from == "" && o.to == "" {
			flags = "--matrix"
		}
		return nil, fmt.Errorf("%s: %w", flags, err)
	}
	return l, nil
}

// bisector holds one bisection's state.
type bisector struct {
	m      *matrix.Matrix
	t      target
	dir    string // --reports/<cell>
	work   string
	build  cellBuilder
	stderr io.Writer

	recorded map[string]bisect.Outcome // from --results, by version
	// pinned is the pinned BuildKit's recorded result, if any.
	pinned *report.CellResult
	// tarballs are the kept tarballs, by version: recorded ones that
	// still exist and built ones.
	tarballs map[string]string
	// built are the versions built so far, by version.
	built map[string]bisect.Outcome
	n     int
}

// record takes the target's cells of run at the versions of the ladder
// (and the pinned BuildKit's, whatever its version). Interrupted cells are
// left out; where two cells ran one version (a rung, and latest resolved to
// it), the one named after the version counts.
func (b *bisector) record(run report.Run, versions []string) {
	b.recorded = map[string]bisect.Outcome{}
	names := map[string]string{}
	want := b.t.coords()
	pin := b.m.Pinned()
	for i, r := range run.Results {
		a := r.Axes
		if r.Interrupted || a.Fixture != want.Fixture || cell.Slug(a.Platform) != want.Platform || a.Engine != want.Engine || a.Exporter != want.Exporter {
			continue
		}
		if a.BuildKit == pin.Name && (r.Pinned == nil || *r.Pinned) && r.Digest != "" {
			b.pinned = &run.Results[i]
		}
		v := a.Version()
		if !slices.Contains(versions, v) {
			continue
		}
		if old, ok := names[v]; ok && (old == v || a.BuildKit != v) {
			continue
		}
		names[v] = a.BuildKit
		b.recorded[v] = bisect.Outcome{Digest: r.Digest, Err: r.Error}
		if b.recorded[v].Digest == "" && r.Error == "" {
			b.recorded[v] = bisect.Outcome{Err: "no digest recorded"}
		}
		if r.Tarball != "" {
			if _, err := os.Stat(r.Tarball); err == nil {
				b.tarballs[v] = r.Tarball
			}
		}
	}
}

// goodDigest is the golden digest, else the pinned BuildKit's recorded
// digest, else the one it builds now.
func (b *bisector) goodDigest(ctx context.Context) (string, string, error) {
	t := b.t
	if g, ok := t.fixture.Golden(t.platform, t.exporter.Name); ok {
		return string(g), fmt.Sprintf("the golden digest of %s %s", t.fixture.Name, cell.GoldenKey(t.platform, t.exporter.Name)), nil
	}
	pin := b.m.Pinned()
	if b.pinned != nil {
		return b.pinned.Digest, "recorded by the pinned BuildKit " + pin.Name + "; no golden digest", nil
	}
	d, err := b.buildVersion(ctx, pin)
	if err != nil {
		return "", "", fmt.Errorf("no golden digest, and the pinned BuildKit %s did not build: %w", pin.Name, err)
	}
	return d, "built by the pinned BuildKit " + pin.Name + "; no golden digest", nil
}

// oracle builds the target at version v (once).
func (b *bisector) oracle(ctx context.Context, v string) (string, error) {
	bk := b.buildKit(v)
	if bk == nil {
		return "", fmt.Errorf("BuildKit %s is not in the resolved matrix", v)
	}
	return b.buildVersion(ctx, bk)
}

// buildKit is the BuildKit of the resolved matrix at version v.
func (b *bisector) buildKit(v string) *matrix.BuildKit {
	for _, bk := range b.m.BuildKits {
		if bk != nil && !bk.IsLadder() && !bk.IsLatest() && bk.Version == v {
			return bk
		}
	}
	return nil
}

// buildVersion builds the target with bk, once per version, keeping its
// tarball and log in the reports folder. A build whose rebuild on a fresh
// builder (the runner's self-check) gives another digest is an error: its
// digest says nothing about the version.
func (b *bisector) buildVersion(ctx context.Context, bk *matrix.BuildKit) (string, error) {
	v := bk.EffectiveVersion()
	if o, ok := b.built[v]; ok {
		if o.Err != "" {
			return "", errors.New(o.Err)
		}
		return o.Digest, nil
	}
	b.n++
	c := b.t.at(bk)
	logPath := filepath.Join(b.dir, "build-"+v+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return "", err
	}
	defer logf.Close()
	fmt.Fprintf(b.stderr, "bisect: build %d: %s (log %s)\n", b.n, c.Name(), logPath)
	start := time.Now()
	keep := filepath.Join(b.dir, v+".tar")
	res := b.build(ctx, b.m, c, filepath.Join(b.work, v), keep, io.MultiWriter(logf, progressOnly(b.stderr)))
	o := bisect.Outcome{Digest: res.Digest, Err: res.Error}
	switch {
	case ctx.Err() != nil:
		return "", context.Cause(ctx)
	case o.Err == "" && o.Digest == "":
		o.Err = "no digest"
	case o.Err == "" && res.SelfCheck != "" && res.SelfCheck != res.Digest:
		o = bisect.Outcome{Err: fmt.Sprintf("not reproducible: built %s, rebuilt on a fresh builder %s", res.Digest, res.SelfCheck)}
	}
	if res.SelfCheckError != "" {
		fmt.Fprintf(b.stderr, "bisect: %s: the rebuild on a fresh builder failed: %s\n", v, firstLineOf(res.SelfCheckError))
	}
	b.built[v] = o
	if o.Err != "" {
		fmt.Fprintf(b.stderr, "bisect: %s failed in %s: %s\n", v, time.Since(start).Round(time.Second), firstLineOf(o.Err))
		return "", errors.New(o.Err)
	}
	if res.Tarball != "" {
		b.tarballs[v] = res.Tarball
	}
	fmt.Fprintf(b.stderr, "bisect: %s built %s in %s\n", v, o.Digest, time.Since(start).Round(time.Second))
	return o.Digest, nil
}

// diff keeps both images of the transition in the reports folder, building
// one whose tarball is not at hand, and prints their diff.
func (b *bisector) diff(ctx context.Context, w io.Writer, a bisect.Answer) error {
	paths := map[string]string{}
	for _, side := range []struct {
		name string
		p    *bisect.Probe
	}{{"last-good", a.LastGood}, {"first-bad", a.FirstBad}} {
		v := side.p.Version
		if b.tarballs[v] == "" {
			fmt.Fprintf(b.stderr, "bisect: %s has no tarball at hand (recorded): building it for the diff\n", v)
			d, err := b.oracle(ctx, v)
			if err != nil {
				return fmt.Errorf("build %s for the diff: %w", v, err)
			}
			if d != side.p.Digest {
				fmt.Fprintf(w, "warning: %s built %s now, %s when recorded\n", v, d, side.p.Digest)
			}
		}
		dst := filepath.Join(b.dir, side.name+"-"+v+".tar")
		if err := copyFile(b.tarballs[v], dst); err != nil {
			return err
		}
		paths[side.name] = dst
	}
	fmt.Fprintf(w, "tarballs: %s %s\n", paths["last-good"], paths["first-bad"])
	la, err := oci.Open(paths["last-good"])
	if err != nil {
		return err
	}
	defer la.Close()
	lb, err := oci.Open(paths["first-bad"])
	if err != nil {
		return err
	}
	defer lb.Close()
	epoch := time.Unix(b.t.fixture.Epoch(), 0).UTC()
	res, err := imagediff.Diff(ctx, la, lb, imagediff.Options{NameA: a.LastGood.Version, NameB: a.FirstBad.Version, SourceDateEpoch: &epoch})
	if err != nil {
		return err
	}
	var text strings.Builder
	if err := res.WriteText(&text, 40); err != nil {
		return err
	}
	_ = os.WriteFile(filepath.Join(b.dir, "diff.txt"), []byte(text.String()), 0o644)
	fmt.Fprintf(w, "diff %s -> %s:\n%s", a.LastGood.Version, a.FirstBad.Version, text.String())
	return nil
}

// printAnswer prints the versions consulted and the answer.
func printAnswer(w io.Writer, a bisect.Answer) {
	how := "scanned every version (all recorded)"
	if a.Mode == bisect.Binary {
		how = fmt.Sprintf("binary search: %d of %d versions consulted, %d built", len(a.Consulted), len(a.Versions), a.Built())
	}
	fmt.Fprintf(w, "consulted (%s):\n", how)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range a.Consulted {
		what := p.Digest
		if p.State == bisect.Failed {
			what = firstLineOf(p.Err)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", p.Version, p.Source, p.State, what)
	}
	tw.Flush()
	fmt.Fprintf(w, "answer: %s\n", a.Summary())
	if a.LastGood != nil {
		fmt.Fprintf(w, "  last good %s  %s\n", a.LastGood.Version, report.ReleaseNotes(a.LastGood.Version))
	}
	for _, v := range a.Candidates {
		if v != a.FirstBad.Version {
			fmt.Fprintf(w, "  first bad? %s  %s (failed to build)\n", v, report.ReleaseNotes(v))
		}
	}
	if a.FirstBad != nil {
		fmt.Fprintf(w, "  first bad %s  %s\n", a.FirstBad.Version, report.ReleaseNotes(a.FirstBad.Version))
	}
	if a.Mode == bisect.Linear && len(a.Transitions) > 1 {
		fmt.Fprintln(w, "transitions:")
		for _, t := range a.Transitions {
			fmt.Fprintf(w, "  %s\n", t)
		}
	}
	for _, n := range a.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

// runnerBuilder builds a cell as the suite does: a run of its own
// (runner.Prepare with that one cell, runner.NewCells, Cells.Run), then
// Cells.Close and Prepared.Close, also when ctx is cancelled. The cell is
// its group's only one, so the runner rebuilds it on a fresh builder (its
// self-check). What earlier runs that died left is swept once first.
func runnerBuilder(online bool) cellBuilder {
	var sweep sync.Once
	return func(ctx context.Context, m *matrix.Matrix, c matrix.Cell, work, keep string, log io.Writer) report.CellResult {
		failed := func(err error) report.CellResult {
			return report.CellResult{Name: c.Name(), Axes: c.Coords(), Error: err.Error(), Interrupted: ctx.Err() != nil}
		}
		mirrors, err := images.ParseMirrors(os.Getenv(images.MirrorsEnv))
		if err != nil {
			return failed(fmt.Errorf("%s: %w", images.MirrorsEnv, err))
		}
		sweep.Do(func() {
			// As the suite: testcontainers-go's reaper image cannot be
			// pulled here; Close and Sweep remove what engines create.
			if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
				os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
			}
			runner.Sweep(ctx, log)
		})
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		defer cancel()
		src := &images.Source{Cache: provision.DefaultCache(), Online: online, Mirrors: mirrors, Log: log}
		cells := []matrix.Cell{c}
		p, err := runner.Prepare(ctx, m, cells, src, work, log)
		defer func() {
			if err := p.Close(cleanup); err != nil {
				fmt.Fprintf(log, "bisect: close the run: %v\n", err)
			}
		}()
		if err != nil {
			return failed(err)
		}
		r := runner.NewCells(p.Shared, cells, cells)
		defer func() {
			if err := r.Close(cleanup); err != nil {
				fmt.Fprintf(log, "bisect: remove the builder: %v\n", err)
			}
		}()
		res := r.Run(ctx, c, log)
		if res.Tarball != "" && res.Error == "" {
			if err := copyFile(res.Tarball, keep); err != nil {
				res.Error = "keep the tarball: " + err.Error()
			} else {
				res.Tarball = keep
			}
		}
		return res
	}
}

// progressOnly passes on the lines of the runner's set-up progress
// ("prepare: ...") and drops the rest (build output, which the log keeps).
func progressOnly(w io.Writer) io.Writer { return &linePrefixFilter{w: w, prefix: "prepare: "} }

type linePrefixFilter struct {
	w      io.Writer
	prefix string
	buf    []byte
}

func (f *linePrefixFilter) Write(p []byte) (int, error) {
	f.buf = append(f.buf, p...)
	for {
		i := slices.Index(f.buf, '\n')
		if i < 0 {
			break
		}
		line := f.buf[:i+1]
		if strings.HasPrefix(string(line), f.prefix) {
			f.w.Write(line)
		}
		f.buf = f.buf[i+1:]
	}
	return len(p), nil
}

// copyFile puts a copy of src at dst: a hard link where it can.
func copyFile(src, dst string) error {
	if src == dst {
		return nil
	}
	os.Remove(dst)
	if os.Link(src, dst) == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}

func firstLineOf(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

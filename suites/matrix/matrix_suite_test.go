//go:build matrix

// Package matrix_test is the reproducibility matrix as a Ginkgo suite: one
// spec per cell of a matrix.yaml profile, expanded while the spec tree is
// built, plus one verdict per group written into the reports.
//
//	go tool ginkgo -p --tags matrix ./suites/matrix -- -profile=local -reports=reports
package matrix_test

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/repro-matrix/repro-matrix/internal/cell"
	"github.com/repro-matrix/repro-matrix/internal/engine"
	"github.com/repro-matrix/repro-matrix/internal/images"
	"github.com/repro-matrix/repro-matrix/internal/matrix"
	"github.com/repro-matrix/repro-matrix/internal/progress"
	"github.com/repro-matrix/repro-matrix/internal/provision"
	"github.com/repro-matrix/repro-matrix/internal/report"
	"github.com/repro-matrix/repro-matrix/internal/runner"
)

var (
	matrixFile   = flag.String("matrix", envOr("REPRO_MATRIX_FILE", "../../matrix.yaml"), "matrix file")
	profile      = flag.String("profile", envOr("REPRO_MATRIX_PROFILE", "local"), "profile of the matrix to run")
	reportsDir   = flag.String("reports", envOr("REPRO_MATRIX_REPORTS", "../../reports"), "folder for junit.xml, summary.md, results.json")
	keepTarballs = flag.Bool("keep-tarballs", os.Getenv("REPRO_MATRIX_KEEP") == "1", "keep the cells' tarballs after the run")
	online       = flag.Bool("online", os.Getenv("REPRO_MATRIX_ONLINE") == "1", "pull pinned images by digest instead of making them from their recipes")
	mirrors      = flag.String("registry-mirrors", os.Getenv(images.MirrorsEnv), "registry mirrors for online pulls, FROM=TO[,FROM=TO]")
)

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func TestMatrix(t *testing.T) {
	// testcontainers-go's reaper image cannot be pulled here; Close and
	// runner.Sweep remove what engines create (see package engine's doc).
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	RegisterFailHandler(Fail)
	suite, rep := GinkgoConfiguration()
	if suite.Timeout < 3*time.Hour {
		suite.Timeout = 3 * time.Hour
	}
	RunSpecs(t, "repro-matrix", suite, rep)
}

// The matrix is loaded while the tree is built, so that every cell is a
// spec of its own that --focus and --label-filter can select.
var (
	loaded    *matrix.Matrix
	cells     []matrix.Cell
	known     []cell.KnownDivergence // the matrix's, as the reports judge them
	loadError error
)

func load() {
	loaded, loadError = matrix.Load(*matrixFile)
	if loadError == nil {
		// Host engines taken as found are named by the version they report.
		// One that does not answer keeps its name <kind>-found, and
		// engine.Start fails its cells: the error is not needed here.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_ = loaded.ResolveFound(ctx, func(ctx context.Context, kind matrix.EngineKind) (string, error) {
			e, err := engine.Host(ctx, engine.Kind(kind))
			if err != nil {
				return "", err
			}
			return e.Version(), nil
		})
		cancel()
		cells, loadError = loaded.Expand(*profile)
		if errors.Is(loadError, matrix.ErrUnresolvedLadder) {
			// The ladder's rungs are the releases the Go module proxy
			// serves, online too: images are then pulled by their tags.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			loadError = loaded.ResolveLadders(ctx, provision.Versions)
			cancel()
			if loadError == nil {
				cells, loadError = loaded.Expand(*profile)
			}
		}
		known = loaded.Known()
	}
}

// Per process: the run's shared state and the cell runner; on process 1
// also what must be torn down.
var (
	prepared *runner.Prepared
	shared   *runner.Shared
	run      *runner.Cells
)

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	Expect(loadError).NotTo(HaveOccurred(), "load %s", *matrixFile)
	out := io.MultiWriter(GinkgoWriter, progressOut())
	runner.Sweep(ctx, out)
	m, err := images.ParseMirrors(*mirrors)
	Expect(err).NotTo(HaveOccurred(), "-registry-mirrors")
	work, err := os.MkdirTemp("", "repro-matrix-run-")
	Expect(err).NotTo(HaveOccurred())
	// The work folder holds the cells' tarballs: the reports diff them, then
	// remove it (see reports.go).
	src := &images.Source{Cache: provision.DefaultCache(), Online: *online, Mirrors: m, Log: out}
	prepared, err = runner.Prepare(ctx, loaded, cells, src, work, out)
	if err != nil {
		Fail(err.Error()) // the plain error: every cell's result carries it
	}
	Expect(os.WriteFile(filepath.Join(work, "cells-total"), []byte(fmt.Sprint(toRun)), 0o644)).To(Succeed())
	return prepared.Shared.Encode()
}, func(data []byte) {
	var err error
	shared, err = runner.DecodeShared(data)
	Expect(err).NotTo(HaveOccurred())
	run = runner.NewCells(shared, cells, selectedCells())
	cellsDone = &doneCounter{path: filepath.Join(shared.WorkDir, "cells-done")}
	if b, err := os.ReadFile(filepath.Join(shared.WorkDir, "cells-total")); err == nil {
		fmt.Sscan(string(b), &toRun)
	}
	progressLog = &progress.Log{W: progressOut(), Prefix: "matrix: "}
}, NodeTimeout(90*time.Minute))

// toRun is how many cells this run builds (the label filter applied): set
// on process 1 by ReportBeforeSuite, passed to the others in the run's
// folder.
var toRun int

var _ = ReportBeforeSuite(func(r Report) { toRun = r.PreRunStats.SpecsThatWillRun })

// progressOut is where progress lines go as they happen. Ginkgo holds a
// parallel process's output until the process ends, so under -p they go to
// the standard error of the ginkgo command that started the process (its
// parent); run alone, to this process's standard error.
func progressOut() io.Writer {
	suite, rep := GinkgoConfiguration()
	if suite.ParallelTotal <= 1 {
		if rep.Verbose || rep.VeryVerbose {
			return io.Discard // GinkgoWriter shows it already
		}
		return os.Stderr
	}
	if f, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/2", os.Getppid()), os.O_WRONLY|os.O_APPEND, 0); err == nil {
		return f
	}
	return os.Stderr
}

// progressLog prints cells as they finish, from every process.
var progressLog *progress.Log

// doneCounter counts finished cells across processes: one byte appended
// per cell (appends of one byte are atomic), the count is the file's size.
type doneCounter struct{ path string }

func (d *doneCounter) add() int64 {
	f, err := os.OpenFile(d.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return 0
	}
	defer f.Close()
	f.Write([]byte{'.'})
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	return st.Size()
}

var (
	cellsDone *doneCounter
	suiteT0   = time.Now()
)

var _ = SynchronizedAfterSuite(func(ctx SpecContext) {
	if run == nil {
		return
	}
	if err := run.Close(ctx); err != nil {
		progressLog.Printf("warning: remove builders: %v", err)
	}
}, func(ctx SpecContext) {
	if prepared != nil {
		Expect(prepared.Close(ctx)).To(Succeed())
	}
}, NodeTimeout(5*time.Minute))

// The body runs while RunSpecs builds the tree, after flags are parsed.
var _ = Describe("matrix", func() {
	load()
	if loadError != nil {
		It("loads "+filepath.Base(*matrixFile), func() { Fail(loadError.Error()) })
		return
	}
	// One ordered container per engine and BuildKit: a process runs all of
	// its cells on one builder, which the container removes when done.
	for _, p := range runner.Schedule(cells, lastResults()) {
		Describe(p.Pair, Ordered, ContinueOnFailure, func() {
			for _, c := range p.Cells {
				It(c.Name(), Label(c.Labels()...), func(ctx SpecContext) { cellSpec(ctx, c) }, NodeTimeout(30*time.Minute))
			}
			AfterAll(func(ctx SpecContext) {
				// A builder that cannot be removed (its engine died) is no
				// cell's failure: its engine's cells say what happened, and
				// the next run's sweep removes it from the host.
				if err := release(ctx, p.Pair); err != nil {
					progressLog.Printf("warning: %v", err)
				}
			}, NodeTimeout(2*time.Minute))
		})
	}
})

// release removes the builder of a pair once its cells are done.
func release(ctx context.Context, pair string) error {
	if run == nil {
		return nil
	}
	return run.Release(ctx, pair)
}

// lastResults are the cells of the last run written to the reports
// folder, whose times order this run's pairs; none when there is none.
func lastResults() []report.CellResult {
	r, err := report.ReadJSON(filepath.Join(*reportsDir, "results.json"))
	if err != nil {
		return nil
	}
	return r.Results
}

// cellSpec builds a cell and asks the report for its verdict against the
// golden digest: it fails unless the cell built and matches, has no golden
// digest yet, or differs as a known divergence covers.
func cellSpec(ctx context.Context, c matrix.Cell) {
	Expect(run).NotTo(BeNil(), "the run was not prepared")
	stop := progressLog.Beat(c.Name())
	res := run.Run(ctx, c, GinkgoWriter)
	stop()
	recordResult(res)
	reportProgress(res)
	v := report.CheckCell(res, known...)
	switch {
	case !v.State.Built():
		Fail("cell did not build: " + cmp.Or(res.Error, "no digest recorded"))
	case v.State == report.CellNoGolden:
		AddReportEntry("no golden digest recorded for "+c.GoldenKey()+": run make goldens", ReportEntryVisibilityAlways)
	case v.Known != nil:
		AddReportEntry("known divergence: "+v.Known.Reason+" ("+v.Known.Link+")", ReportEntryVisibilityAlways)
	case v.State == report.CellMismatch:
		Fail(fmt.Sprintf("digest differs from the golden digest of %s: %s", c.GoldenKey(), v.Message))
	}
}

// reportProgress prints one line per finished cell: how many cells are done
// (of how many, when process 1 knows), the cell, its outcome and the time
// since the suite began.
func reportProgress(res report.CellResult) {
	if cellsDone == nil || progressLog == nil {
		return
	}
	n := cellsDone.add()
	of := ""
	if toRun > 0 {
		of = fmt.Sprintf("/%d", toRun)
	}
	outcome := "built " + report.ShortDigest(res.Digest)
	if res.Error != "" {
		outcome = "FAILED"
	}
	progressLog.Printf("%d%s %s %s in %s (%s since start)", n, of, res.Name, outcome,
		progress.Round(res.Timings["total"]), progress.Round(time.Since(suiteT0)))
}

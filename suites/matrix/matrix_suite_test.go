//go:build matrix

// Package matrix_test is the reproducibility matrix as a Ginkgo suite: one
// spec per cell of a matrix.yaml profile, expanded while the spec tree is
// built, plus one verdict per group written into the reports.
//
//	go tool ginkgo -p --tags matrix ./suites/matrix -- -profile=local -reports=reports
package matrix_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/repro-matrix/repro-matrix/internal/engine"
	"github.com/repro-matrix/repro-matrix/internal/matrix"
	"github.com/repro-matrix/repro-matrix/internal/provision"
	"github.com/repro-matrix/repro-matrix/internal/runner"
)

var (
	matrixFile   = flag.String("matrix", envOr("REPRO_MATRIX_FILE", "../../matrix.yaml"), "matrix file")
	profile      = flag.String("profile", envOr("REPRO_MATRIX_PROFILE", "local"), "profile of the matrix to run")
	reportsDir   = flag.String("reports", envOr("REPRO_MATRIX_REPORTS", "../../reports"), "folder for junit.xml, summary.md, results.json")
	keepTarballs = flag.Bool("keep-tarballs", os.Getenv("REPRO_MATRIX_KEEP") == "1", "keep the cells' tarballs after the run")
)

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func TestMatrix(t *testing.T) {
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
	runner.Sweep(ctx, GinkgoWriter)
	work, err := os.MkdirTemp("", "repro-matrix-run-")
	Expect(err).NotTo(HaveOccurred())
	// The work folder holds the cells' tarballs: the reports diff them, then
	// remove it (see reports.go).
	prepared, err = runner.Prepare(ctx, loaded, cells, provision.DefaultCache(), work, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	return prepared.Shared.Encode()
}, func(data []byte) {
	var err error
	shared, err = runner.DecodeShared(data)
	Expect(err).NotTo(HaveOccurred())
	run = runner.NewCells(shared)
}, NodeTimeout(90*time.Minute))

var _ = SynchronizedAfterSuite(func() {}, func(ctx SpecContext) {
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
	for _, c := range cells {
		It(c.Name(), Label(c.Labels()...), func(ctx SpecContext) { cellSpec(ctx, c) }, NodeTimeout(30*time.Minute))
	}
})

// cellSpec builds a cell and checks its digest against the golden one,
// unless a known divergence covers the cell.
func cellSpec(ctx context.Context, c matrix.Cell) {
	Expect(run).NotTo(BeNil(), "the run was not prepared")
	res := run.Run(ctx, c, GinkgoWriter)
	recordResult(res)
	Expect(res.Error).To(BeEmpty(), "cell did not build")
	Expect(res.Digest).NotTo(BeEmpty(), "cell has no digest")
	if res.Golden == "" {
		AddReportEntry("no golden digest recorded for "+c.GoldenKey()+": run make goldens", ReportEntryVisibilityAlways)
		return
	}
	if k := loaded.KnownDivergence(c); k != nil && res.Digest != res.Golden {
		AddReportEntry("known divergence: "+k.Reason+" ("+k.Link+")", ReportEntryVisibilityAlways)
		return
	}
	Expect(res.Digest).To(Equal(res.Golden), "digest differs from the golden digest of %s", c.GoldenKey())
}

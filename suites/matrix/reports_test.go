//go:build matrix

package matrix_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/repro-matrix/repro-matrix/internal/matrix"
	"github.com/repro-matrix/repro-matrix/internal/report"
	"github.com/repro-matrix/repro-matrix/internal/runner"
)

// resultEntry names the report entry that carries a cell's result. Its
// value is the result as JSON text, which crosses Ginkgo's processes as is.
const resultEntry = "cell-result"

func recordResult(res report.CellResult) {
	b, err := json.Marshal(res)
	if err != nil {
		panic(err) // a CellResult always marshals
	}
	AddReportEntry(resultEntry, string(b), ReportEntryVisibilityNever)
}

// After every process is done (also after a failure or Ctrl-C), process 1
// collects the cells' results, decides the group verdicts, diffs the
// disagreeing cells, and writes results.json, summary.md, the step summary
// and junit.xml with one test case per cell and per group.
var _ = ReportAfterSuite("reports", func(rep Report) {
	if shared != nil && !*keepTarballs {
		defer os.RemoveAll(shared.WorkDir)
	}
	run := collect(rep)
	attachDiffs(&run)
	if err := os.MkdirAll(*reportsDir, 0o755); err != nil {
		Fail("reports folder: " + err.Error())
	}
	var errs []string
	add := func(err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	add(report.WriteJSON(filepath.Join(*reportsDir, "results.json"), run))
	add(report.WriteMarkdownFile(filepath.Join(*reportsDir, "summary.md"), run))
	add(report.AppendStepSummary(run))
	add(writeJUnit(rep, run, filepath.Join(*reportsDir, "junit.xml")))
	add(copyEngineLogs(*reportsDir))
	if len(errs) > 0 {
		Fail("write reports: " + strings.Join(errs, "; "))
	}
	GinkgoWriter.Printf("reports: %s (summary.md, results.json, junit.xml)\n", *reportsDir)
	if failed := failedGroups(run); len(failed) > 0 {
		Fail("group verdicts failed:\n" + strings.Join(failed, "\n"))
	}
})

// collect turns the suite's spec reports into a run: each cell's recorded
// result, or, for a cell that recorded none, what became of its spec.
func collect(rep Report) report.Run {
	run := report.Run{Profile: *profile, Started: rep.StartTime.UTC(), Finished: rep.EndTime.UTC(),
		Interrupted: interrupted(rep), Known: known}
	if shared != nil {
		run.ID = shared.RunID
	}
	if prepared != nil {
		run.Setup = prepared.Shared.Timings
	}
	byName := map[string]matrix.Cell{}
	for _, c := range cells {
		byName[c.Name()] = c
	}
	setup := setupFailure(rep)
	for _, sr := range rep.SpecReports {
		c, isCell := byName[sr.LeafNodeText]
		if sr.LeafNodeType != types.NodeTypeIt || !isCell {
			continue
		}
		if sr.State == types.SpecStateSkipped && !run.Interrupted && setup == "" {
			continue // filtered out by --focus or --label-filter
		}
		run.Results = append(run.Results, cellResult(sr, c, setup))
	}
	groups := expectedGroups(rep, byName)
	if setup != "" && len(run.Results) == 0 {
		// Ginkgo leaves the specs it skipped after a failed set-up out of
		// the report: every cell the run selected failed with it.
		for _, c := range selectedCells() {
			run.Results = append(run.Results, report.CellResult{Name: c.Name(), Group: c.Group(), Axes: c.Coords(),
				Pinned: new(c.BuildKit.Pinned), Error: "the run's set-up failed: " + setup})
			if !slices.Contains(groups, c.Group()) {
				groups = append(groups, c.Group())
			}
		}
	}
	run.Evaluate(report.WithGroups(groups...))
	return run
}

// selectedCells are the cells the run's label filter selects.
func selectedCells() []matrix.Cell {
	suite, _ := GinkgoConfiguration()
	keep := func([]string) bool { return true }
	if suite.LabelFilter != "" {
		f, err := types.ParseLabelFilter(suite.LabelFilter)
		if err != nil {
			return cells
		}
		keep = f
	}
	var out []matrix.Cell
	for _, c := range cells {
		if keep(c.Labels()) {
			out = append(out, c)
		}
	}
	return out
}

func cellResult(sr types.SpecReport, c matrix.Cell, setup string) report.CellResult {
	for _, e := range sr.ReportEntries {
		if e.Name != resultEntry {
			continue
		}
		var res report.CellResult
		if s, ok := e.Value.GetRawValue().(string); ok && json.Unmarshal([]byte(s), &res) == nil {
			return res
		}
	}
	res := report.CellResult{Name: c.Name(), Group: c.Group(), Axes: c.Coords(), Pinned: new(c.BuildKit.Pinned)}
	switch {
	case setup != "" && sr.State == types.SpecStateSkipped:
		res.Error = "the run's set-up failed: " + setup
	case sr.State.Is(types.SpecStateInterrupted | types.SpecStateSkipped | types.SpecStatePending):
		res.Interrupted = true
		res.Error = "the run stopped before this cell finished"
	default:
		res.Error = fmt.Sprintf("%s: %s", sr.State, sr.Failure.Message)
	}
	return res
}

// expectedGroups are the groups of the cells this run selected: a group
// whose cells all went missing is reported empty, not dropped. byName holds
// the profile's cells by name.
func expectedGroups(rep Report, byName map[string]matrix.Cell) []string {
	all := setupFailure(rep) != "" || interrupted(rep)
	seen := map[string]bool{}
	var out []string
	for _, sr := range rep.SpecReports {
		c, ok := byName[sr.LeafNodeText]
		if ok && (all || sr.State != types.SpecStateSkipped) && !seen[c.Group()] {
			seen[c.Group()] = true
			out = append(out, c.Group())
		}
	}
	return out
}

// interrupted tells whether the run was stopped (Ctrl-C, a timeout): Ginkgo
// says so in the suite's failure reasons or in the specs' states.
func interrupted(rep Report) bool {
	for _, r := range rep.SpecialSuiteFailureReasons {
		if strings.Contains(strings.ToLower(r), "interrupt") || strings.Contains(strings.ToLower(r), "timeout") {
			return true
		}
	}
	for _, sr := range rep.SpecReports {
		if sr.State.Is(types.SpecStateInterrupted | types.SpecStateTimedout) {
			return true
		}
	}
	return false
}

// setupFailure is the failure of the run's set-up, "" when it went well:
// cells that could not run because of it fail with it.
func setupFailure(rep Report) string {
	for _, sr := range rep.SpecReports {
		if sr.LeafNodeType.Is(types.NodeTypeSynchronizedBeforeSuite|types.NodeTypeBeforeSuite) && sr.State.Is(types.SpecStateFailureStates) {
			return sr.Failure.Message
		}
	}
	return ""
}

func failedGroups(run report.Run) []string {
	var out []string
	for _, g := range run.Verdicts.Groups {
		if g.Fails() {
			out = append(out, fmt.Sprintf("%s: %s", g.Name(), g.State))
		}
	}
	return out
}

// writeJUnit writes Ginkgo's JUnit report with the group verdicts added as
// test cases of their own.
func writeJUnit(rep Report, run report.Run, path string) error {
	for _, g := range run.Verdicts.Groups {
		sr := types.SpecReport{
			ContainerHierarchyTexts: []string{"verdicts"},
			LeafNodeType:            types.NodeTypeIt,
			LeafNodeText:            g.Name(),
			LeafNodeLabels:          []string{"verdict", string(g.State)},
			State:                   types.SpecStatePassed,
			StartTime:               rep.EndTime,
			EndTime:                 rep.EndTime,
			CapturedStdOutErr:       g.Message,
		}
		if g.Fails() {
			sr.State = types.SpecStateFailed
			sr.Failure = types.Failure{Message: g.Message, FailureNodeType: types.NodeTypeIt}
		}
		rep.SpecReports = append(rep.SpecReports, sr)
	}
	tmp := path + ".tmp"
	if err := reporters.GenerateJUnitReportWithConfig(rep, tmp, reporters.JunitReportConfig{OmitTimelinesForSpecState: types.SpecStatePassed, OmitSpecLabels: true, OmitLeafNodeType: true}); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("junit: %w", err)
	}
	return os.Rename(tmp, path)
}

// attachDiffs explains every differing pair with the image diff.
func attachDiffs(run *report.Run) {
	runner.AttachDiffs(run, GinkgoWriter)
}

// copyEngineLogs copies the logs of engines under which a cell failed into
// the reports folder (engine-logs/NAME.log); other engines' logs are not
// kept.
func copyEngineLogs(reports string) error {
	if shared == nil {
		return nil
	}
	src := filepath.Join(shared.WorkDir, runner.EngineLogsDir)
	logs, _ := filepath.Glob(filepath.Join(src, "*.log"))
	if len(logs) == 0 {
		return nil
	}
	dst := filepath.Join(reports, runner.EngineLogsDir)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, l := range logs {
		data, err := os.ReadFile(l)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(l)), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

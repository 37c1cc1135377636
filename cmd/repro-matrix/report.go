package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/repro-matrix/repro-matrix/internal/matrix"
	"github.com/repro-matrix/repro-matrix/internal/report"
	"github.com/repro-matrix/repro-matrix/internal/runner"
)

func init() { register(newReportCmd) }

func newReportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Work with the reports of matrix runs",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newReportMergeCmd())
	return cmd
}

// mergeOptions are the flags of report merge.
type mergeOptions struct {
	out    string // folder for the merged reports
	matrix string // matrix file whose known divergences apply; "" keeps the shards'
}

func newReportMergeCmd() *cobra.Command {
	var o mergeOptions
	cmd := &cobra.Command{
		Use:   "merge [-o DIR] [--matrix FILE] RESULTS.json...",
		Short: "Merge the results.json of a run's shards into one set of reports",
		Long: `Merge reads the results.json of every shard of one run (shards split a profile with
a Ginkgo label filter, for example one per fixture), joins their cells, decides the group
verdicts again over all of them, and writes results.json, summary.md and junit.xml into DIR
(default ./reports); the summary is also appended to $GITHUB_STEP_SUMMARY when set.

With --matrix, the known divergences of that matrix file apply, matched as the suite matches
them; without it, those the shards recorded. Differences the shards explained keep their
diffs; a pair of cells that ran in different shards has none (its tarballs stayed with them).

Shards of one run share its id (` + runner.RunIDEnv + `) and profile.
Exit 0: every group passes. 1: a group fails, or a shard was interrupted (the reports are
written). 2: unusable input: a file missing or not a results.json, a cell in two shards,
shards of different runs or profiles.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return mergeReports(cmd.OutOrStdout(), o, args)
		},
	}
	cmd.Flags().StringVarP(&o.out, "out", "o", "reports", "folder for the merged reports")
	cmd.Flags().StringVar(&o.matrix, "matrix", "", "matrix file whose known divergences apply (default: the shards')")
	return cmd
}

// mergeReports merges the shards at paths and writes the reports; the error
// carries the exit code.
func mergeReports(w io.Writer, o mergeOptions, paths []string) error {
	shards, err := readShards(w, paths)
	if err != nil {
		return withCode(exitUsage, err)
	}
	if o.matrix != "" {
		m, err := matrix.Load(o.matrix)
		if err != nil {
			return withCode(exitUsage, err)
		}
		for i := range shards {
			shards[i].Run.Known = m.Known()
		}
	}
	run, err := report.MergeShards(shards...)
	if errors.Is(err, report.ErrRunMismatch) {
		err = fmt.Errorf("%w (the shards of one run share its id: give each the same %s)", err, runner.RunIDEnv)
	}
	if err != nil {
		return withCode(exitUsage, err)
	}
	if err := writeMerged(o.out, run); err != nil {
		return withCode(exitUsage, err)
	}
	return verdictLines(w, run, o.out)
}

func readShards(w io.Writer, paths []string) ([]report.Shard, error) {
	shards := make([]report.Shard, 0, len(paths))
	for _, p := range paths {
		s, err := report.ReadShard(p)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "%s: run %s, profile %s, %d cells\n", p, s.Run.ID, s.Run.Profile, len(s.Run.Results))
		shards = append(shards, s)
	}
	return shards, nil
}

// writeMerged writes results.json, summary.md and junit.xml into dir and
// appends the summary to the step summary; it tries every one.
func writeMerged(dir string, run report.Run) error {
	return errors.Join(
		report.WriteJSON(filepath.Join(dir, "results.json"), run),
		report.WriteMarkdownFile(filepath.Join(dir, "summary.md"), run),
		report.WriteJUnitFile(filepath.Join(dir, "junit.xml"), run),
		report.AppendStepSummary(run),
	)
}

// groupStateOrder is the order in which the counts of group states print.
var groupStateOrder = []report.GroupState{report.GroupAgree, report.GroupAgreeSingle, report.GroupKnown,
	report.GroupNotReproducible, report.GroupVaries, report.GroupDisagree, report.GroupGoldenMismatch, report.GroupFailed, report.GroupInterrupted, report.GroupEmpty}

// verdictLines prints the merged counts and every failing group; it returns
// the exit-1 error when the run fails.
func verdictLines(w io.Writer, run report.Run, dir string) error {
	c := run.Verdicts.Counts
	var states []string
	for _, s := range groupStateOrder {
		if n := c.Group[s]; n > 0 {
			states = append(states, fmt.Sprintf("%s %d", s, n))
		}
	}
	fmt.Fprintf(w, "merged: %d cells, %d groups (%s); reports in %s\n", c.Cells, c.Groups, strings.Join(states, ", "), dir)
	var failing []string
	for _, g := range run.Verdicts.Groups {
		if g.Fails() {
			failing = append(failing, g.Name())
			fmt.Fprintf(w, "FAIL %s: %s\n", g.Name(), g.State)
		}
	}
	switch {
	case len(failing) > 0:
		return withCode(exitMismatch, fmt.Errorf("%d of %d groups fail", len(failing), len(run.Verdicts.Groups)))
	case run.Interrupted:
		return withCode(exitMismatch, errors.New("a shard was interrupted"))
	}
	return nil
}

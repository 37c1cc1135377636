package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/repro-matrix/repro-matrix/internal/cell"
	"github.com/repro-matrix/repro-matrix/internal/matrix"
	"github.com/repro-matrix/repro-matrix/internal/report"
)

func init() { register(newGoldensCmd) }

func newGoldensCmd() *cobra.Command {
	var file string
	var dry bool
	cmd := &cobra.Command{
		Use:   "goldens [--matrix FILE] [--dry] RESULTS.json",
		Short: "Record the digests of a run as the fixtures' golden digests, and show what changed",
		Long: "Writes each fixture's golden.yaml from a run's results.json. A group's golden digest is\n" +
			"what the pinned BuildKit builds: every cell of the pinned BuildKit in the group must have\n" +
			"built and agree; cells of other BuildKits never vote. They are held to it (known divergences\n" +
			"of matrix.yaml aside; none excuses the pinned BuildKit). Groups without such agreement, or\n" +
			"whose results say their run pinned another BuildKit, are left as they were and listed; the\n" +
			"command then exits 1.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := matrix.LoadContext(cmd.Context(), file)
			if err != nil {
				return withCode(exitUsage, err)
			}
			run, err := report.ReadJSON(args[0])
			if err != nil {
				return withCode(exitUsage, fmt.Errorf("%s: %w", args[0], err))
			}
			pinned := m.Pinned()
			if pinned == nil {
				return withCode(exitUsage, fmt.Errorf("%s: no pinned BuildKit", m.Path))
			}
			return updateGoldens(cmd.OutOrStdout(), m, run, pinned.Name, dry)
		},
	}
	cmd.Flags().StringVar(&file, "matrix", matrix.DefaultFile, "matrix file")
	cmd.Flags().BoolVar(&dry, "dry", false, "show the changes, write nothing")
	return cmd
}

// updateGoldens records the digest that the pinned BuildKit's cells of each
// group of run agree on (report.ProposeGoldens), prints every change and
// every group left as it was, and writes the changed golden.yaml files
// unless dry.
func updateGoldens(w io.Writer, m *matrix.Matrix, run report.Run, pinned string, dry bool) error {
	proposals := report.ProposeGoldens(run.Results, pinned, m.Known()...)
	var skipped []string
	if len(proposals) == 0 {
		skipped = append(skipped, "no cell of the pinned BuildKit "+pinned+" in this run")
	}
	for _, p := range proposals {
		if p.Refused != "" {
			skipped = append(skipped, p.Group+": "+p.Refused)
		}
	}
	next := map[*matrix.Fixture]map[string]digest.Digest{}
	changed := 0
	for _, p := range proposals {
		if p.Refused != "" {
			continue
		}
		fx, key, err := goldenSlot(m, p.Coords)
		if err != nil {
			skipped = append(skipped, p.Group+": "+err.Error())
			continue
		}
		if next[fx] == nil {
			next[fx] = map[string]digest.Digest{}
			maps.Copy(next[fx], fx.Goldens)
		}
		if d, old := digest.Digest(p.Digest), fx.Goldens[key]; old != d {
			fmt.Fprintf(w, "%s %s: %s -> %s\n", fx.Name, key, cmp.Or(old.String(), "(none)"), d)
			next[fx][key] = d
			changed++
		}
	}
	if !dry {
		if err := writeGoldens(next); err != nil {
			return withCode(exitMismatch, err)
		}
	}
	suffix := ""
	if dry {
		suffix = " (dry run: nothing written)"
	}
	fmt.Fprintf(w, "%d golden digests changed%s\n", changed, suffix)
	for _, s := range skipped {
		fmt.Fprintln(w, "not recorded:", s)
	}
	if len(skipped) > 0 {
		return withCode(exitMismatch, fmt.Errorf("%d groups not recorded", len(skipped)))
	}
	return nil
}

// writeGoldens writes the golden.yaml of every fixture whose goldens
// changed, in the order of the fixtures' names.
func writeGoldens(next map[*matrix.Fixture]map[string]digest.Digest) error {
	byName := func(a, b *matrix.Fixture) int { return cmp.Compare(a.Name, b.Name) }
	for _, fx := range slices.SortedFunc(maps.Keys(next), byName) {
		if !maps.Equal(next[fx], fx.Goldens) {
			if err := matrix.WriteGoldens(fx, next[fx]); err != nil {
				return err
			}
		}
	}
	return nil
}

// goldenSlot finds the fixture of a group's cells and their golden key.
func goldenSlot(m *matrix.Matrix, c cell.Coords) (*matrix.Fixture, string, error) {
	fx := m.Fixture(c.Fixture)
	if fx == nil {
		return nil, "", fmt.Errorf("fixture %s is not in the matrix file", c.Fixture)
	}
	if !slices.Contains(fx.Platforms, cell.Unslug(c.Platform)) {
		return nil, "", fmt.Errorf("fixture %s has no platform %s", c.Fixture, c.Platform)
	}
	return fx, c.GoldenKey(), nil
}

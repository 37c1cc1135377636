package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"sort"

	"github.com/spf13/cobra"

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
			"built and agree. Other BuildKits are held to it (known divergences of matrix.yaml aside).\n" +
			"Groups without such agreement are left as they were and listed; the command then exits 1.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := matrix.Load(file)
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

// updateGoldens records the agreed digest of every group of run.
func updateGoldens(w io.Writer, m *matrix.Matrix, run report.Run, pinned string, dry bool) error {
	agreedByGroup, skipped := agreedDigests(run, pinned)
	next := map[*matrix.Fixture]map[string]matrix.Digest{}
	changed := 0
	for _, g := range sortedNames(agreedByGroup) {
		a := agreedByGroup[g].axes
		fx, key, err := goldenSlot(m, a)
		if err != nil {
			skipped = append(skipped, g+": "+err.Error())
			continue
		}
		if next[fx] == nil {
			next[fx] = maps.Clone(fx.Goldens)
			if next[fx] == nil {
				next[fx] = map[string]matrix.Digest{}
			}
		}
		d := matrix.Digest(agreedByGroup[g].digest)
		if old := fx.Goldens[key]; old != d {
			fmt.Fprintf(w, "%s %s: %s -> %s\n", fx.Name, key, cmp.Or(string(old), "(none)"), d)
			next[fx][key] = d
			changed++
		}
	}
	if !dry {
		for fx, goldens := range next {
			if !maps.Equal(goldens, fx.Goldens) {
				if err := matrix.WriteGoldens(fx, goldens); err != nil {
					return withCode(exitMismatch, err)
				}
			}
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

// goldenSlot finds the fixture and golden key of a group's cells.
func goldenSlot(m *matrix.Matrix, a report.Axes) (*matrix.Fixture, string, error) {
	fx := m.Fixture(a.Fixture)
	if fx == nil {
		return nil, "", fmt.Errorf("fixture %s is not in the matrix file", a.Fixture)
	}
	for _, p := range fx.Platforms {
		if matrix.PlatformSlug(p) == a.Platform {
			return fx, matrix.GoldenKey(p, a.Exporter), nil
		}
	}
	return nil, "", fmt.Errorf("fixture %s has no platform %s", a.Fixture, a.Platform)
}

type agreement struct {
	axes   report.Axes
	digest string
}

// agreedDigests returns the groups whose cells of the pinned BuildKit all
// built and agree; the others are returned with the reason.
func agreedDigests(run report.Run, pinned string) (map[string]agreement, []string) {
	byGroup := map[string][]report.CellResult{}
	for _, r := range run.Results {
		if r.Axes.BuildKit == pinned {
			byGroup[r.Group] = append(byGroup[r.Group], r)
		}
	}
	if len(byGroup) == 0 {
		return nil, []string{"no cell of the pinned BuildKit " + pinned + " in this run"}
	}
	out := map[string]agreement{}
	var skipped []string
	for _, g := range sortedNames(byGroup) {
		cells := byGroup[g]
		digest, why := agreed(cells)
		if why != "" {
			skipped = append(skipped, g+": "+why)
			continue
		}
		out[g] = agreement{axes: cells[0].Axes, digest: digest}
	}
	return out, skipped
}

func agreed(cells []report.CellResult) (string, string) {
	digest := ""
	for _, c := range cells {
		switch {
		case c.Error != "" || c.Digest == "":
			return "", "cell " + c.Name + " did not build"
		case digest == "":
			digest = c.Digest
		case c.Digest != digest:
			return "", "cells disagree"
		}
	}
	return digest, ""
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/repro-matrix/repro-matrix/internal/matrix"
)

func init() { register(newCellsCmd) }

// cellRecord is one cell in the output of cells --json.
type cellRecord struct {
	Name            string                  `json:"name"`
	Group           string                  `json:"group"`
	Fixture         string                  `json:"fixture"`
	FixtureDir      string                  `json:"fixtureDir"`
	Platform        string                  `json:"platform"`
	Engine          string                  `json:"engine"`
	Kind            string                  `json:"kind"`
	Where           string                  `json:"where"`
	BuildKit        string                  `json:"buildkit"`
	BuildKitImage   string                  `json:"buildkitImage,omitempty"`
	Exporter        string                  `json:"exporter"`
	Labels          []string                `json:"labels"`
	SourceDateEpoch int64                   `json:"sourceDateEpoch"`
	Golden          string                  `json:"golden,omitempty"`
	KnownDivergence *matrix.KnownDivergence `json:"knownDivergence,omitempty"`
}

func newCellsCmd() *cobra.Command {
	var (
		profile string
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "cells [FILE]",
		Short: "List the cells of a profile, one spec name a line",
		Long: `Cells loads and validates the matrix file (default: ` + matrix.DefaultFile + `) and prints the cells of a
profile in their fixed order, one spec name a line:

  fixture=scratch-copy/platform=linux-amd64/engine=docker-26.1.5/buildkit=v0.19.0/exporter=docker

With --json it prints a JSON array instead, one object per cell with its axes, group, Ginkgo labels,
golden digest and known divergence. An invalid file or an unknown or empty profile exits 2.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := loadMatrixArg(matrixFileArg(args))
			if err != nil {
				return err
			}
			cells, err := m.Expand(profile)
			if err != nil {
				return withCode(exitUsage, err)
			}
			out := cmd.OutOrStdout()
			if !asJSON {
				for _, c := range cells {
					fmt.Fprintln(out, c.Name())
				}
				return nil
			}
			records := make([]cellRecord, len(cells))
			for i, c := range cells {
				golden, _ := c.Fixture.Golden(c.Platform, c.Exporter.Name)
				records[i] = cellRecord{
					Name: c.Name(), Group: c.Group(),
					Fixture: c.Fixture.Name, FixtureDir: c.Fixture.Dir, Platform: c.Platform,
					Engine: c.Engine.Name, Kind: string(c.Engine.Kind), Where: string(c.Engine.Where),
					BuildKit: c.BuildKit.Name, BuildKitImage: c.BuildKit.Image,
					Exporter: c.Exporter.Name, Labels: c.Labels(), SourceDateEpoch: c.Fixture.Epoch(),
					Golden:          string(golden),
					KnownDivergence: m.KnownDivergence(c),
				}
			}
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			return enc.Encode(records)
		},
	}
	cmd.Flags().StringVarP(&profile, "profile", "p", matrix.DefaultProfile, "the profile to expand")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the cells as a JSON array")
	return cmd
}

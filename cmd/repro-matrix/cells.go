package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/repro-matrix/repro-matrix/internal/engine"
	"github.com/repro-matrix/repro-matrix/internal/matrix"
	"github.com/repro-matrix/repro-matrix/internal/provision"
)

func init() { register(newCellsCmd) }

// probeTimeout bounds how long cells waits for a host engine's version.
const probeTimeout = 30 * time.Second

// listTimeout bounds how long cells waits for the list of BuildKit
// releases that a ladder is made of.
const listTimeout = 2 * time.Minute

// cellRecord is one cell in the output of cells --json.
type cellRecord struct {
	Name            string                  `json:"name"`
	Group           string                  `json:"group"`
	Fixture         string                  `json:"fixture"`
	FixtureDir      string                  `json:"fixtureDir"`
	Platform        string                  `json:"platform"`
	Engine          string                  `json:"engine"`
	EngineVersion   string                  `json:"engineVersion"` // declared, found, or "found" when unresolved
	Kind            string                  `json:"kind"`
	Where           string                  `json:"where"`
	BuildKit        string                  `json:"buildkit"`
	BuildKitVersion string                  `json:"buildkitVersion,omitempty"` // concrete version; empty for an unresolved latest
	BuildKitLadder  string                  `json:"buildkitLadder,omitempty"`  // the ladder it is a rung of, "v0.19.0..latest"
	BuildKitImage   string                  `json:"buildkitImage,omitempty"`
	Exporter        string                  `json:"exporter"`
	Labels          []string                `json:"labels"`
	SourceDateEpoch int64                   `json:"sourceDateEpoch"`
	Golden          string                  `json:"golden,omitempty"`
	KnownDivergence *matrix.KnownDivergence `json:"knownDivergence,omitempty"`
}

func newCellsCmd() *cobra.Command { return cellsCmd(hostVersion, provision.Versions) }

// hostVersion is the matrix.Probe that asks the host's engine of a kind.
func hostVersion(ctx context.Context, kind matrix.EngineKind) (string, error) {
	e, err := engine.Host(ctx, engine.Kind(kind))
	if err != nil {
		return "", err
	}
	return e.Version(), nil
}

// cellsCmd is the cells command, reading the versions of host engines taken
// as found with probe and the releases a BuildKit ladder is made of with
// list.
func cellsCmd(probe matrix.Probe, list matrix.Lister) *cobra.Command {
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
golden digest and known divergence. An invalid file or an unknown or empty profile exits 2.

A host engine taken as found (version: found) is named by the version its host engine reports
(engine=docker-28.0.4). When that engine does not answer, its cells are listed unresolved
(engine=docker-found) and stderr says why; a run would fail them.

A profile that runs a BuildKit ladder (buildkits: [{ladder: {from: v0.19.0, to: latest}}]) lists one
BuildKit per minor release, named after the release it resolved to (buildkit=v0.20.2): the newest
patch of each minor the Go module proxy serves for github.com/moby/buildkit. stderr lists the
releases of each ladder. When the proxy cannot be asked, cells fails (exit 2) naming the ladder and
the proxy's error; profiles without a ladder never ask it.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := loadMatrixArg(matrixFileArg(args))
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), probeTimeout)
			unresolved := m.ResolveFound(ctx, probe)
			cancel()
			cells, err := expandWithLadders(cmd.Context(), cmd.ErrOrStderr(), m, profile, list)
			if err != nil {
				return withCode(exitUsage, err)
			}
			noteUnresolved(cmd.ErrOrStderr(), cells, unresolved)
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
					Engine: c.Engine.Name, EngineVersion: c.Engine.EffectiveVersion(),
					Kind: string(c.Engine.Kind), Where: string(c.Engine.Where),
					BuildKit: c.BuildKit.Name, BuildKitVersion: c.Coords().BuildKitVersion,
					BuildKitLadder: ladderName(c.BuildKit), BuildKitImage: c.BuildKit.Image,
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

// noteUnresolved says on w, once per engine, which engines of the cells are
// listed unresolved and why (err is ResolveFound's).
func noteUnresolved(w io.Writer, cells []matrix.Cell, err error) {
	var failed matrix.FoundErrors
	errors.As(err, &failed)
	noted := map[*matrix.Engine]bool{}
	for _, c := range cells {
		if !c.Engine.Unresolved() || noted[c.Engine] {
			continue
		}
		noted[c.Engine] = true
		why := "its version was not read"
		for _, f := range failed {
			if f.Engine == c.Engine.Name {
				why = f.Err.Error()
			}
		}
		fmt.Fprintf(w, "cells: engine %s is listed unresolved: the version of the host's %s could not be read (%s); a run fails its cells unless the engine answers then\n",
			c.Engine.Name, c.Engine.Kind, why)
	}
}

// expandWithLadders expands profile; when the profile uses a BuildKit
// ladder, it first resolves the matrix's ladders with list and says on w
// what each resolved to. Errors are Expand's, or the ladder's that could
// not be resolved.
func expandWithLadders(ctx context.Context, w io.Writer, m *matrix.Matrix, profile string, list matrix.Lister) ([]matrix.Cell, error) {
	cells, err := m.Expand(profile)
	if !errors.Is(err, matrix.ErrUnresolvedLadder) {
		return cells, err
	}
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	if err := m.ResolveLadders(ctx, list); err != nil {
		return nil, fmt.Errorf("profile %q runs a BuildKit ladder, which could not be resolved: %w", profile, err)
	}
	noteLadders(w, m)
	return m.Expand(profile)
}

// noteLadders says on w, one line per ladder, which releases it resolved
// to, marking those that an entry of the file carries.
func noteLadders(w io.Writer, m *matrix.Matrix) {
	for _, l := range m.Ladders() {
		rungs := make([]string, len(l.Versions))
		for i, v := range l.Versions {
			rungs[i] = v
			if b := findVersion(m, v); b != nil && !b.AddedByLadder() {
				rungs[i] += " (the entry " + b.Name + ")"
			}
		}
		fmt.Fprintf(w, "cells: BuildKit ladder %s resolved to %d releases, the newest patch of each minor (%s): %s\n",
			l, len(l.Versions), matrix.DefaultBuildKitModule, strings.Join(rungs, ", "))
	}
}

// findVersion is the BuildKit of m at version v, or nil.
func findVersion(m *matrix.Matrix, v string) *matrix.BuildKit {
	for _, b := range m.BuildKits {
		if b != nil && b.Version == v {
			return b
		}
	}
	return nil
}

// ladderName names the ladder b is a rung of, "" when none.
func ladderName(b *matrix.BuildKit) string {
	if b.Rung == nil {
		return ""
	}
	return b.Rung.String()
}

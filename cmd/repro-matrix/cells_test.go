package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/repro-matrix/repro-matrix/internal/matrix"
)

func TestCellsCommand(t *testing.T) {
	bin := matrixCLI(t)

	t.Run("smoke of the repository's matrix.yaml", func(t *testing.T) {
		stdout, stderr, code := runMatrixCLI(t, bin, "../..", "cells", "--profile", "smoke")
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		want := []string{
			"fixture=scratch-copy/platform=linux-amd64/engine=docker-20.10.24/buildkit=v0.19.0/exporter=docker",
			"fixture=scratch-copy/platform=linux-amd64/engine=podman-4.3.1/buildkit=v0.19.0/exporter=docker",
		}
		if got := strings.Split(strings.TrimSpace(stdout), "\n"); !slices.Equal(got, want) {
			t.Errorf("cells:\n got %q\nwant %q", got, want)
		}
	})

	t.Run("default profile is local", func(t *testing.T) {
		dir := writeCLIMatrix(t, cliTestMatrix)
		stdout, stderr, code := runMatrixCLI(t, bin, dir, "cells")
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if len(lines) != 8 || lines[0] != "fixture=f/platform=linux-amd64/engine=docker-20.10.24/buildkit=v0.19.0/exporter=docker" ||
			lines[7] != "fixture=f/platform=linux-amd64/engine=podman-4.3.1/buildkit=latest/exporter=oci" {
			t.Errorf("cells:\n%s", stdout)
		}
	})

	t.Run("json", func(t *testing.T) {
		dir := writeCLIMatrix(t, cliTestMatrix)
		stdout, stderr, code := runMatrixCLI(t, bin, dir, "cells", "matrix.yaml", "-p", "all", "--json")
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		var cells []cellRecord
		if err := json.Unmarshal([]byte(stdout), &cells); err != nil {
			t.Fatalf("%v\n%s", err, stdout)
		}
		if len(cells) != 16 {
			t.Fatalf("%d cells, want 16", len(cells))
		}
		c := cells[15]
		if c.Name != "fixture=f/platform=linux-arm64/engine=podman-4.3.1/buildkit=latest/exporter=oci" ||
			c.Group != "fixture=f/platform=linux-arm64/exporter=oci" || c.Platform != "linux/arm64" ||
			c.Kind != "podman" || c.Where != "host" || c.BuildKitImage != "moby/buildkit:latest" ||
			c.SourceDateEpoch != 7 || !slices.Contains(c.Labels, "kind:podman") || !strings.HasSuffix(c.FixtureDir, "/fixtures/f") {
			t.Errorf("last cell: %+v", c)
		}
	})

	t.Run("unknown profile", func(t *testing.T) {
		dir := writeCLIMatrix(t, cliTestMatrix)
		_, stderr, code := runMatrixCLI(t, bin, dir, "cells", "--profile", "nightly")
		if code != exitUsage || !strings.Contains(stderr, `unknown profile "nightly" (known: all, local, smoke)`) {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})

	t.Run("invalid file", func(t *testing.T) {
		dir := writeCLIMatrix(t, strings.Replace(cliTestMatrix, "sourceDateEpoch: 7", "sourceDateEpoch: 7, datetime: 2025-01-01", 1))
		stdout, stderr, code := runMatrixCLI(t, bin, dir, "cells", "--profile", "smoke")
		if code != exitUsage || stdout != "" || !strings.Contains(stderr, "fixtures[0].datetime: sourceDateEpoch is set too") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})
}

// noLadders is the Lister of tests that resolve no ladder.
func noLadders(context.Context, string) ([]string, error) {
	return nil, errors.New("the test asked for BuildKit releases")
}

// runCells runs the cells command in this process with probe answering
// for the host's engines.
func runCells(t *testing.T, probe matrix.Probe, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := cellsCmd(probe, noLadders)
	cmd.SetArgs(args)
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	return stdout.String(), stderr.String(), err
}

func TestCellsFoundEngines(t *testing.T) {
	text := strings.NewReplacer(
		"{kind: podman, version: 4.3.1}", "{kind: podman, version: found}",
		"  all: {}\n", "  all: {}\n  declared: {engines: [docker-20.10.24]}\n",
	).Replace(cliTestMatrix)
	file := filepath.Join(writeCLIMatrix(t, text), "matrix.yaml")
	answers := func(_ context.Context, kind matrix.EngineKind) (string, error) {
		if kind == matrix.Podman {
			return "4.9.3", nil
		}
		return "20.10.24", nil
	}
	silent := func(context.Context, matrix.EngineKind) (string, error) {
		return "", errors.New("podman: command not found")
	}

	t.Run("resolved", func(t *testing.T) {
		stdout, stderr, err := runCells(t, answers, file, "--profile", "smoke")
		want := []string{
			"fixture=f/platform=linux-amd64/engine=docker-20.10.24/buildkit=v0.19.0/exporter=docker",
			"fixture=f/platform=linux-amd64/engine=podman-4.9.3/buildkit=v0.19.0/exporter=docker",
		}
		if got := strings.Split(strings.TrimSpace(stdout), "\n"); err != nil || stderr != "" || !slices.Equal(got, want) {
			t.Errorf("err %v, stderr %q, cells:\n got %q\nwant %q", err, stderr, got, want)
		}
	})

	t.Run("json carries the version found", func(t *testing.T) {
		stdout, _, err := runCells(t, answers, file, "--profile", "smoke", "--json")
		var cells []cellRecord
		if err != nil || json.Unmarshal([]byte(stdout), &cells) != nil || len(cells) != 2 {
			t.Fatalf("err %v, stdout:\n%s", err, stdout)
		}
		if cells[0].EngineVersion != "20.10.24" || cells[1].Engine != "podman-4.9.3" || cells[1].EngineVersion != "4.9.3" {
			t.Errorf("cells: %+v", cells)
		}
	})

	t.Run("unresolved", func(t *testing.T) {
		stdout, stderr, err := runCells(t, silent, file, "--profile", "smoke")
		if err != nil || !strings.Contains(stdout, "engine=podman-found/buildkit=v0.19.0") || strings.Count(stdout, "\n") != 2 {
			t.Fatalf("err %v, stdout:\n%s", err, stdout)
		}
		want := "cells: engine podman-found is listed unresolved: the version of the host's podman could not be read (podman: command not found)"
		if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, want) {
			t.Errorf("stderr %q\nwant %q", stderr, want)
		}
	})

	t.Run("unresolved but not in the profile", func(t *testing.T) {
		stdout, stderr, err := runCells(t, silent, file, "--profile", "declared")
		if err != nil || stderr != "" || strings.Contains(stdout, "podman") {
			t.Errorf("err %v, stderr %q, stdout:\n%s", err, stderr, stdout)
		}
	})
}

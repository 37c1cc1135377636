package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/repro-matrix/repro-matrix/internal/matrix"
)

// ladderMatrix is cliTestMatrix with a BuildKit ladder and a profile
// that runs it.
var ladderMatrix = strings.NewReplacer(
	"  - {version: latest}\n", "  - {version: latest}\n  - ladder: {from: v0.19.0, to: latest}\n",
	"  all: {}\n", "  all: {}\n  ladder: {buildkits: [\"@pinned\", \"@ladder\"], platforms: [linux/amd64], exporters: [docker], engines: [docker-20.10.24]}\n",
).Replace(cliTestMatrix)

// runCellsListing runs the cells command in this process, the host's
// engines answering 20.10.24 and list answering the BuildKit releases.
func runCellsListing(t *testing.T, list matrix.Lister, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	probe := func(context.Context, matrix.EngineKind) (string, error) { return "20.10.24", nil }
	cmd := cellsCmd(probe, list)
	cmd.SetArgs(args)
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	return stdout.String(), stderr.String(), err
}

func TestCellsLadder(t *testing.T) {
	file := filepath.Join(writeCLIMatrix(t, ladderMatrix), "matrix.yaml")
	releases := func(context.Context, string) ([]string, error) {
		return []string{"v0.20.1", "v0.20.2", "v0.21.0-rc1", "v0.21.0", "v0.19.0"}, nil
	}

	t.Run("expanded with the versions it resolved to", func(t *testing.T) {
		stdout, stderr, err := runCellsListing(t, releases, file, "--profile", "ladder")
		want := "fixture=f/platform=linux-amd64/engine=docker-20.10.24/buildkit=v0.19.0/exporter=docker\n" +
			"fixture=f/platform=linux-amd64/engine=docker-20.10.24/buildkit=v0.20.2/exporter=docker\n" +
			"fixture=f/platform=linux-amd64/engine=docker-20.10.24/buildkit=v0.21.0/exporter=docker\n"
		note := "cells: BuildKit ladder v0.19.0..latest resolved to 3 releases, the newest patch of each minor (github.com/moby/buildkit): v0.19.0 (the entry v0.19.0), v0.20.2, v0.21.0\n"
		if err != nil || stdout != want || stderr != note {
			t.Errorf("err %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
		}
	})

	t.Run("json names the version and the ladder", func(t *testing.T) {
		stdout, _, err := runCellsListing(t, releases, file, "--profile", "ladder", "--json")
		var cells []cellRecord
		if err != nil || json.Unmarshal([]byte(stdout), &cells) != nil || len(cells) != 3 {
			t.Fatalf("err %v, stdout:\n%s", err, stdout)
		}
		if c := cells[1]; c.BuildKitVersion != "v0.20.2" || c.BuildKitLadder != "v0.19.0..latest" || c.BuildKitImage != "moby/buildkit:v0.20.2" {
			t.Errorf("rung: %+v", c)
		}
	})

	t.Run("profiles without the ladder never ask", func(t *testing.T) {
		stdout, stderr, err := runCellsListing(t, noLadders, file, "--profile", "local")
		if err != nil || stderr != "" || strings.Count(stdout, "\n") != 8 || strings.Contains(stdout, "ladder") {
			t.Errorf("err %v, stderr %q, stdout:\n%s", err, stderr, stdout)
		}
	})

	t.Run("the proxy fails", func(t *testing.T) {
		down := func(context.Context, string) ([]string, error) {
			return nil, errors.New("dial tcp: connection refused")
		}
		stdout, _, err := runCellsListing(t, down, file, "--profile", "ladder")
		want := `profile "ladder" runs a BuildKit ladder, which could not be resolved: list the releases of github.com/moby/buildkit: dial tcp: connection refused`
		var ee *exitError
		if stdout != "" || err == nil || err.Error() != want || !errors.As(err, &ee) || ee.code != exitUsage {
			t.Errorf("stdout %q, err %v", stdout, err)
		}
	})
}

func TestValidateLadder(t *testing.T) {
	bin := matrixCLI(t)
	t.Run("sound", func(t *testing.T) {
		stdout, stderr, code := runMatrixCLI(t, bin, writeCLIMatrix(t, ladderMatrix), "validate")
		if code != exitOK || !strings.Contains(stdout, "profile ladder: runs a BuildKit ladder, resolved when it runs") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})
	t.Run("from after to", func(t *testing.T) {
		text := strings.Replace(ladderMatrix, "{from: v0.19.0, to: latest}", "{from: v0.30.0, to: v0.20.0}", 1)
		_, stderr, code := runMatrixCLI(t, bin, writeCLIMatrix(t, text), "validate")
		if code != exitUsage || !strings.Contains(stderr, "buildkits[2].ladder.to: v0.20.0 is before from v0.30.0: a ladder goes from the older release to the newer (line 7)") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("a range that matches nothing", func(t *testing.T) {
		text := ladderMatrix + "knownDivergences:\n  - {cells: buildkit<v0.19.0, reason: r, link: \"https://example.org/1\", expires: \"2099-12-31\"}\n"
		_, stderr, code := runMatrixCLI(t, bin, writeCLIMatrix(t, text), "validate")
		if code != exitUsage || !strings.Contains(stderr, "knownDivergences[0].cells: buildkit range buildkit<v0.19.0 matches no BuildKit version of the matrix") ||
			!strings.Contains(stderr, "(line 19)") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
}

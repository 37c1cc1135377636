package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
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

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/repro-matrix/repro-matrix/internal/build"
	"github.com/repro-matrix/repro-matrix/internal/engine"
)

func TestSourceDateEpochFlags(t *testing.T) {
	cases := []struct {
		epoch, datetime string
		want            int64
		err             string
	}{
		{epoch: "1700000000", want: 1700000000},
		{epoch: "0", want: 0},
		{datetime: "2024-05-01", want: 1714521600},
		{datetime: "2024-05-01T12:00:00", want: 1714564800},
		{datetime: "2024-05-01 12:00:00", want: 1714564800},
		{datetime: "2024-05-01T12:00:00+02:00", want: 1714557600},
		{datetime: "2024-05-01T12:00:00Z", want: 1714564800},
		{datetime: "2024-05-01T12:00", want: 1714564800},
		{epoch: "1", datetime: "2024-05-01", err: "not both"},
		{err: "--source-date-epoch"},
		{epoch: "-5", err: "--source-date-epoch"},
		{epoch: "12abc", err: "--source-date-epoch"},
		{datetime: "May 1st", err: "--datetime"},
		{datetime: "1960-01-01", err: "before 1970"},
	}
	for _, c := range cases {
		got, err := sourceDateEpoch(c.epoch, c.datetime)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("(%q, %q): err %v, want one naming %q", c.epoch, c.datetime, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("(%q, %q) = %d, %v; want %d", c.epoch, c.datetime, got, err, c.want)
		}
	}
}

// TestBuildErrorsNameTheFlags: the build core speaks of its options in its
// own words; the CLI names the flag that set each one.
func TestBuildErrorsNameTheFlags(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644)
	o := build.Options{Runtime: engine.Docker, Context: dir, Outputs: []build.Output{{Exporter: "tar"}}, BuildArgs: []string{"NOEQUALS"}, Rootless: true}
	err := o.Validate()
	if err == nil || !strings.Contains(err.Error(), "output path: missing") {
		t.Fatalf("the build core's error: %v", err)
	}
	got := inFlags(err).Error()
	for _, want := range []string{"--output: missing", `--exporter "tar": want docker or oci`, `--build-arg "NOEQUALS": want KEY=VALUE`,
		"--rootless: not supported by this runtime"} {
		if !strings.Contains(got, want) {
			t.Errorf("CLI error lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "output path") {
		t.Errorf("CLI error speaks the build core's words:\n%s", got)
	}
}

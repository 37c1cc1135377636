package report

import (
	"path/filepath"
	"testing"

	"github.com/repro-matrix/repro-matrix/internal/cell"
)

// The golden digests a recorded run proposes, per BuildKit: a group
// proposes what all its cells of that BuildKit built, one cell or more.
func TestProposeGoldensOnRecordedRun(t *testing.T) {
	run, err := ReadJSON(filepath.Join("testdata", "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		buildkit string
		want     []Proposal
	}{
		{"v0.19.0", []Proposal{
			{Group: "fixture=timestamps/platform=linux-amd64/exporter=docker", Refused: "cells disagree"},
			{Group: "fixture=timestamps/platform=linux-amd64/exporter=oci", Refused: "cells disagree"},
			{Group: "fixture=timestamps/platform=linux-arm64/exporter=docker",
				Refused: "cell fixture=timestamps/platform=linux-arm64/engine=docker-20/buildkit=v0.19.0/exporter=docker did not build"},
			{Group: "fixture=umask/platform=linux-amd64/exporter=oci", Digest: dB},
		}},
		{"v0.34.2", []Proposal{
			{Group: "fixture=timestamps/platform=linux-amd64/exporter=docker", Digest: dA},
			{Group: "fixture=timestamps/platform=linux-amd64/exporter=oci", Digest: dC},
			{Group: "fixture=timestamps/platform=linux-arm64/exporter=docker",
				Refused: "cell fixture=timestamps/platform=linux-arm64/engine=podman-5/buildkit=v0.34.2/exporter=docker did not build"},
			{Group: "fixture=umask/platform=linux-amd64/exporter=docker", Digest: dC},
			{Group: "fixture=umask/platform=linux-amd64/exporter=oci", Digest: dB},
		}},
		{"v9.9.9", nil},
	} {
		got := ProposeGoldens(run.Results, tc.buildkit)
		if len(got) != len(tc.want) {
			t.Fatalf("%s: %d proposals, want %d: %+v", tc.buildkit, len(got), len(tc.want), got)
		}
		for i, p := range got {
			w := tc.want[i]
			if p.Group != w.Group || p.Digest != w.Digest || p.Refused != w.Refused {
				t.Errorf("%s: proposal %d = %+v, want %+v", tc.buildkit, i, p, w)
			}
			if c, _ := cell.ParseKey(p.Group); p.Coords != c {
				t.Errorf("%s: coordinates %+v of %s", tc.buildkit, p.Coords, p.Group)
			}
		}
	}
}

// The golden digests of a group are what its cells built, whatever the
// golden digest they were held to: cells that agree on another digest
// propose it.
func TestProposeGoldensIgnoresTheOldGolden(t *testing.T) {
	rs := four([4]string{dB, dB, dB, dB}, dA)
	got := ProposeGoldens(rs, "v0.19.0")
	if len(got) != 1 || got[0].Digest != dB || got[0].Refused != "" {
		t.Errorf("proposals %+v", got)
	}
}

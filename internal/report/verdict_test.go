package report

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/cell"
)

const issue = "https://github.com/moby/buildkit/issues/4242"

type scenario struct {
	name    string
	results []CellResult
	known   []cell.KnownDivergence
	// expectations on the single group of interest (the first group)
	state      GroupState
	outcome    Outcome
	reference  string // reference cell name, "" to skip
	message    []string
	failed     bool // the run fails
	cellStates []CellState
}

func scenarios() []scenario {
	r4 := four([4]string{dA, dA, dA, dA}, dA)
	disagree := four([4]string{dA, dA, dB, dA}, dA)
	return []scenario{
		{
			name:    "all-agree",
			results: r4,
			state:   GroupAgree, outcome: OutcomePass, reference: r4[0].Name,
			message:    []string{"4 cells agree on " + dA + ", the golden digest"},
			cellStates: []CellState{CellMatch, CellMatch, CellMatch, CellMatch},
		},
		{
			name:    "one-disagrees",
			results: disagree,
			state:   GroupDisagree, outcome: OutcomeFail, reference: disagree[0].Name, failed: true,
			message: []string{
				"cells disagree: 1 of 4 cells differ from the reference cell",
				"reference: " + disagree[0].Name + " " + dA + " (golden digest)",
				"differs:   " + disagree[2].Name + " " + dB,
			},
			cellStates: []CellState{CellMatch, CellMatch, CellMismatch, CellMatch},
		},
		{
			name:    "failed-cell",
			results: four([4]string{dA, dA, dA, dA}, dA, map[int][]func(*CellResult){1: {failed("buildx: exit status 1\nERROR: failed to solve: process \"/bin/sh -c make\" did not complete successfully: exit code: 2")}}),
			state:   GroupFailed, outcome: OutcomeFail, failed: true,
			message: []string{
				"1 of 4 cells failed; a failed cell never counts as agreeing",
				"failed:    fixture=timestamps/platform=linux-amd64/engine=docker-28/buildkit=v0.34.2/exporter=docker: buildx: exit status 1 …",
			},
			cellStates: []CellState{CellMatch, CellFailed, CellMatch, CellMatch},
		},
		{
			name:    "one-cell",
			results: []CellResult{result("umask", "linux-arm64", "docker-28", "v0.34.2", "oci", dC, dC)},
			state:   GroupAgreeSingle, outcome: OutcomeWarn,
			message:    []string{"only one cell: nothing to compare; its digest " + dC + " equals the golden digest"},
			cellStates: []CellState{CellMatch},
		},
		{
			name:    "one-cell-golden-mismatch",
			results: []CellResult{result("umask", "linux-arm64", "docker-28", "v0.34.2", "oci", dB, dC)},
			state:   GroupGoldenMismatch, outcome: OutcomeFail, failed: true,
			message:    []string{"cells agree with each other on " + dB + " but not with the golden digest " + dC},
			cellStates: []CellState{CellMismatch},
		},
		{
			name:    "no-results",
			results: nil,
			state:   GroupEmpty, outcome: OutcomeFail, failed: true,
			message: []string{"no cells ran: nothing was compared"},
		},
		{
			name:    "golden-mismatch",
			results: four([4]string{dB, dB, dB, dB}, dA),
			state:   GroupGoldenMismatch, outcome: OutcomeFail, failed: true,
			message: []string{
				"cells agree with each other on " + dB + " but not with the golden digest " + dA,
				"golden:    " + dA,
			},
			cellStates: []CellState{CellMismatch, CellMismatch, CellMismatch, CellMismatch},
		},
		{
			name:    "no-golden",
			results: four([4]string{dA, dA, dA, dA}, ""),
			state:   GroupAgree, outcome: OutcomeWarn,
			// Recorded before CellResult.Pinned: nothing but each other to hold them to.
			message: []string{"4 cells agree on " + dA + "; no golden digest, and these results do not say which cells are of the pinned BuildKit " +
				"(recorded before the \"pinned\" field): nothing to hold the group to"},
			cellStates: []CellState{CellNoGolden, CellNoGolden, CellNoGolden, CellNoGolden},
		},
		{
			name:    "known-covers",
			results: disagree,
			known: []cell.KnownDivergence{{
				Cells: "engine=podman-4", Reason: "podman 4.3 writes a different whiteout for /run", Link: issue,
				Expires: time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC),
			}},
			state: GroupKnown, outcome: OutcomeKnown,
			message: []string{
				"cells differ as known: 1 of 4 cells deviate, each covered by a known divergence",
				"differs:   " + disagree[2].Name + " " + dB + " (known: " + issue + ")",
			},
			cellStates: []CellState{CellMatch, CellMatch, CellMismatch, CellMatch},
		},
		{
			name:    "known-no-longer-happens",
			results: r4,
			known: []cell.KnownDivergence{
				{Cells: "engine=podman-4", Reason: "podman 4.3 writes a different whiteout for /run", Link: issue},
				{Cells: "engine=docker-29*", Reason: "docker 29 sets a created annotation", Link: "https://github.com/moby/moby/issues/5000"},
			},
			state: GroupAgree, outcome: OutcomePass,
		},
		{
			name:    "known-expired",
			results: disagree,
			known: []cell.KnownDivergence{{
				Cells: "engine=podman-4", Reason: "podman 4.3 writes a different whiteout for /run", Link: issue,
				Expires: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),
			}},
			state: GroupDisagree, outcome: OutcomeFail, failed: true,
			message: []string{"expired known divergence (" + issue + ", expired 2026-04-01) matches " + disagree[2].Name + ": it no longer covers it"},
		},
		{
			name:    "interrupted",
			results: four([4]string{dA, dA, dA, dA}, dA, map[int][]func(*CellResult){3: {interrupted}}),
			state:   GroupInterrupted, outcome: OutcomeFail, failed: true,
			message:    []string{"1 of 4 cells were interrupted before they finished", "interrupted: fixture=timestamps/platform=linux-amd64/engine=podman-5/buildkit=v0.34.2/exporter=docker"},
			cellStates: []CellState{CellMatch, CellMatch, CellMatch, CellInterrupted},
		},
		{
			// A tie is never broken by a vote: without golden digest and
			// pinned cell, nothing is crowned.
			name:    "tie-no-golden",
			results: four([4]string{dB, dA, dB, dA}, ""),
			state:   GroupDisagree, outcome: OutcomeFail, failed: true,
			message: []string{"cells disagree: 4 cells built 2 different digests",
				"reference: none: no golden digest, and these results do not say which cells are of the pinned BuildKit",
				"built:     " + disagree[1].Name + " " + dA},
		},
		{
			// The golden digest is the reference even when no cell built it.
			name:    "nobody-golden",
			results: four([4]string{dB, dB, dB, dC}, dA),
			state:   GroupDisagree, outcome: OutcomeFail, failed: true,
			message: []string{"cells disagree: 4 of 4 cells differ from the golden digest, which no cell built",
				"reference: the golden digest " + dA + ", which no cell built", "golden:    " + dA},
		},
	}
}

func TestEvaluate(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			v := Evaluate(sc.results, sc.known, WithNow(t0))
			if len(v.Groups) == 0 {
				t.Fatal("no group verdicts: an evaluation must never be a silent pass")
			}
			g := v.Groups[0]
			if g.State != sc.state || g.Outcome != sc.outcome {
				t.Errorf("state %s/%s, want %s/%s\n%s", g.State, g.Outcome, sc.state, sc.outcome, g.Message)
			}
			if sc.reference != "" && g.Reference != sc.reference {
				t.Errorf("reference %s, want %s", g.Reference, sc.reference)
			}
			for _, m := range sc.message {
				if !strings.Contains(g.Message, m) {
					t.Errorf("message lacks %q:\n%s", m, g.Message)
				}
			}
			if v.Failed() != sc.failed {
				t.Errorf("Failed() = %v, want %v", v.Failed(), sc.failed)
			}
			if sc.cellStates != nil {
				var got []CellState
				for _, c := range g.Cells {
					got = append(got, c.State)
				}
				if !slices.Equal(got, sc.cellStates) {
					t.Errorf("cell states %v, want %v", got, sc.cellStates)
				}
			}
			if !strings.HasPrefix(g.Name(), "group: ") {
				t.Errorf("name %q", g.Name())
			}
			// Failed and interrupted cells never agree.
			for _, c := range g.Cells {
				if c.Agrees && !c.State.Built() {
					t.Errorf("%s is %s but counted as agreeing", c.Name, c.State)
				}
			}
		})
	}
}

func TestEvaluateGroupName(t *testing.T) {
	v := Evaluate(four([4]string{dA, dA, dA, dA}, dA), nil, WithNow(t0))
	if got, want := v.Groups[0].Name(), "group: fixture=timestamps/platform=linux-amd64/exporter=docker"; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
	if v.Counts.Groups != 1 || v.Counts.Cells != 4 || v.Counts.Cell[CellMatch] != 4 || v.Counts.Group[GroupAgree] != 1 {
		t.Errorf("counts %+v", v.Counts)
	}
}

func TestEvaluateFailedCellNotAgreeing(t *testing.T) {
	// Three cells fail; the one that built cannot make the group agree.
	rs := four([4]string{dA, dA, dA, dA}, dA, map[int][]func(*CellResult){
		0: {failed("boom")}, 1: {failed("boom")}, 2: {func(r *CellResult) { r.Digest = "" }},
	})
	v := Evaluate(rs, nil, WithNow(t0))
	g := v.Groups[0]
	if g.State != GroupFailed || len(g.Failed) != 3 {
		t.Fatalf("state %s failed %v", g.State, g.Failed)
	}
	if g.Cells[2].Message != "failed: no digest recorded" {
		t.Errorf("a cell without digest nor error: %q", g.Cells[2].Message)
	}
	if g.Reference != rs[3].Name {
		t.Errorf("reference %q", g.Reference)
	}
}

func TestEvaluateDeclaredEmptyGroup(t *testing.T) {
	rs := four([4]string{dA, dA, dA, dA}, dA)
	empty := "fixture=timestamps/platform=linux/arm64/exporter=oci"
	v := Evaluate(rs, nil, WithNow(t0), WithGroups(rs[0].Group, empty))
	if len(v.Groups) != 2 {
		t.Fatalf("groups %d", len(v.Groups))
	}
	g := v.Groups[1]
	if g.Key != empty || g.State != GroupEmpty || !g.Fails() || g.Platform != "linux/arm64" || g.Exporter != "oci" {
		t.Errorf("empty group: %+v", g)
	}
	if !strings.Contains(g.Message, "nothing was compared") {
		t.Errorf("message %q", g.Message)
	}
	if !v.Failed() {
		t.Error("an empty group must fail the run")
	}
}

func TestEvaluateKnownStatuses(t *testing.T) {
	rs := four([4]string{dA, dA, dB, dA}, dA, map[int][]func(*CellResult){3: {failed("boom")}})
	known := []cell.KnownDivergence{
		{Cells: "engine=podman-4", Link: issue},                                                 // covers the differing cell
		{Cells: "engine=docker-20", Link: "https://example.org/1"},                              // built, agrees: no longer happens
		{Cells: "engine=podman-5", Link: "https://example.org/2"},                               // only a failed cell: cannot tell
		{Cells: "engine=docker-9*", Link: "https://example.org/3"},                              // no cell at all
		{Cells: "engine=docker-28", Link: "https://example.org/4", Expires: t0.Add(-time.Hour)}, // expired, agrees
		{Cells: "colour=blue", Link: "https://example.org/5"},                                   // invalid pattern
		{Cells: "engine=podman-[4]", Link: "https://example.org/6"},                             // one pattern language: globs with classes
	}
	v := Evaluate(rs, known, WithNow(t0))
	want := []KnownState{KnownActive, KnownNoLongerHappens, KnownNotExercised, KnownNotExercised, KnownNoLongerHappens, KnownInvalid, KnownActive}
	for i, k := range v.Known {
		if k.State != want[i] {
			t.Errorf("known[%d] %s: %s (%s), want %s", i, k.Cells, k.State, k.Note, want[i])
		}
	}
	if v.Known[0].Covers[0] != rs[2].Name {
		t.Errorf("covers %v", v.Known[0].Covers)
	}
	// The group still fails: a failed cell is never covered by a known divergence.
	if v.Groups[0].State != GroupFailed {
		t.Errorf("state %s", v.Groups[0].State)
	}
	if v.Counts.Known[KnownActive] != 2 || v.Counts.Known[KnownNoLongerHappens] != 2 {
		t.Errorf("known counts %v", v.Counts.Known)
	}
}

func TestEvaluateGoldenMismatchCoveredByKnown(t *testing.T) {
	rs := []CellResult{result("umask", "linux-arm64", "podman-4", "v0.19.0", "oci", dB, dC)}
	v := Evaluate(rs, []cell.KnownDivergence{{Cells: "engine=podman-4", Link: issue}}, WithNow(t0))
	g := v.Groups[0]
	if g.State != GroupKnown || len(g.Pairs) != 1 || g.Pairs[0].Against != AgainstGolden || !g.Pairs[0].Known {
		t.Errorf("%s %+v", g.State, g.Pairs)
	}
}

func TestEvaluatePairs(t *testing.T) {
	rs := four([4]string{dB, dB, dC, dB}, dA)
	v := Evaluate(rs, nil, WithNow(t0))
	ps := v.Pairs()
	if len(ps) != 2 {
		t.Fatalf("pairs %+v", ps)
	}
	if ps[0].Cell != rs[0].Name || ps[0].Against != AgainstGolden || ps[0].AgainstDigest != dA {
		t.Errorf("golden pair %+v", ps[0])
	}
	if ps[1].Cell != rs[2].Name || ps[1].Against != rs[0].Name || ps[1].AgainstTarball != rs[0].Tarball || ps[1].Digest != dC {
		t.Errorf("cell pair %+v", ps[1])
	}
	ps[1].DiffSummary = "layer 2 differs"
	if v.Groups[0].Pairs[1].DiffSummary != "layer 2 differs" {
		t.Error("Pairs() must point into the verdicts")
	}
}

func TestCheckCell(t *testing.T) {
	for _, tc := range []struct {
		r    CellResult
		want CellState
	}{
		{CellResult{Digest: dA, Golden: dA}, CellMatch},
		{CellResult{Digest: dA, Golden: dB}, CellMismatch},
		{CellResult{Digest: dA}, CellNoGolden},
		{CellResult{Error: "x", Golden: dA}, CellFailed},
		{CellResult{Digest: dA, Golden: dA, Error: "analyze: bad index"}, CellFailed},
		{CellResult{Interrupted: true, Error: "context canceled"}, CellInterrupted},
	} {
		if got := CheckCell(tc.r).State; got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.r, got, tc.want)
		}
	}
}

func TestCheckCellKnown(t *testing.T) {
	r := result("umask", "linux-arm64", "podman-4", "v0.19.0", "oci", dB, dC)
	active := cell.KnownDivergence{Cells: "engine=podman-4/platform=linux/arm64/v8", Link: issue}
	expired := cell.KnownDivergence{Cells: "engine=podman-*", Link: "https://example.org/1", Expires: t0.Add(-time.Hour)}
	for _, tc := range []struct {
		known []cell.KnownDivergence
		want  string // the link of the covering divergence, "" for none
	}{
		{nil, ""},
		{[]cell.KnownDivergence{active}, issue},
		{[]cell.KnownDivergence{expired}, ""},
		{[]cell.KnownDivergence{expired, active}, issue},
		{[]cell.KnownDivergence{{Cells: "engine=docker-*", Link: "https://example.org/2"}}, ""},
	} {
		v := CheckCell(r, tc.known...)
		got := ""
		if v.Known != nil {
			got = v.Known.Link
		}
		if v.State != CellMismatch || got != tc.want {
			t.Errorf("known %v: %s covered by %q, want %q", tc.known, v.State, got, tc.want)
		}
	}
	r.Digest = dC
	if v := CheckCell(r, active); v.State != CellMatch || v.Known != nil {
		t.Errorf("a match is not covered: %+v", v)
	}
}

// A known divergence covers a cell whatever spelling its pattern and the
// cell's platform use: the runner writes slugs, matrix.yaml slashes, and
// linux/arm64 is linux/arm64/v8.
func TestKnownPlatformSpellings(t *testing.T) {
	for _, platform := range []string{"linux-amd64", "linux-arm64", "linux-arm64-v8", "linux-arm-v7"} {
		for _, written := range []string{platform, cell.Unslug(platform)} {
			rs := []CellResult{
				result("umask", platform, "docker-28", "v0.19.0", "oci", dC, dC),
				result("umask", platform, "podman-4", "v0.19.0", "oci", dB, dC),
			}
			k := cell.KnownDivergence{Cells: "platform=" + written + "/engine=podman-4", Link: issue}
			if g := Evaluate(rs, []cell.KnownDivergence{k}, WithNow(t0)).Groups[0]; g.State != GroupKnown {
				t.Errorf("%s on %s: %s, want known", k.Cells, platform, g.State)
			}
		}
	}
	rs := []CellResult{
		result("umask", "linux-arm64-v8", "docker-28", "v0.19.0", "oci", dC, dC),
		result("umask", "linux-arm64-v8", "podman-4", "v0.19.0", "oci", dB, dC),
	}
	k := cell.KnownDivergence{Cells: "platform=linux/arm64/engine=podman-4", Link: issue}
	if g := Evaluate(rs, []cell.KnownDivergence{k}, WithNow(t0)).Groups[0]; g.State != GroupKnown {
		t.Errorf("platform=linux/arm64 on linux-arm64-v8: %s", g.State)
	}
	k.Cells = "platform=linux/arm/v7/engine=podman-4"
	if g := Evaluate(rs, []cell.KnownDivergence{k}, WithNow(t0)).Groups[0]; g.State != GroupDisagree {
		t.Errorf("platform=linux/arm/v7 on linux-arm64-v8: %s", g.State)
	}
}

// A known divergence by version range (buildkit>=v0.31.0) covers a latest
// cell by the version it ran, which its environment record names when the
// cell's coordinates do not, and no cell of an older release.
func TestKnownVersionRange(t *testing.T) {
	k := cell.KnownDivergence{Cells: "buildkit>=v0.31.0/exporter=docker", Link: issue}
	ran := func(version string) func(*CellResult) {
		return func(r *CellResult) { r.Env[EnvBuildKitVersion] = version }
	}
	for _, tc := range []struct {
		r    CellResult
		want bool
	}{
		{result("add-user", "linux-amd64", "docker-28", "latest", "docker", dB, dA, ran("v0.34.2")), true},
		{result("add-user", "linux-amd64", "docker-28", "latest", "docker", dB, dA, ran("latest")), false},
		{result("add-user", "linux-amd64", "docker-28", "v0.31.2", "docker", dB, dA), true},
		{result("add-user", "linux-amd64", "docker-28", "v0.30.0", "docker", dB, dA), false},
		{result("add-user", "linux-amd64", "docker-28", "v0.31.2", "oci", dB, dA), false},
	} {
		if got := CheckCell(tc.r, k).Known != nil; got != tc.want {
			t.Errorf("%s (ran %s): covered = %v, want %v", tc.r.Name, tc.r.Env[EnvBuildKitVersion], got, tc.want)
		}
	}
}

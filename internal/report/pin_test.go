package report

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/cell"
)

// The rule of the cases README, "verdicts/: the reference of a group is the
// pin, never a vote": a group is held to its golden digest, else to what the
// pinned BuildKit's cells built; a known divergence never excuses the pin.

const (
	mediaTypes = "https://github.com/moby/buildkit/pull/6824"
	copyLink   = "https://github.com/moby/buildkit/issues/5943"
)

var (
	dD = dg("d")
	dE = dg("e")
	dF = dg("f")
)

// pinnedAs records whether a cell's BuildKit is the pinned one, as the
// runner does.
func pinnedAs(b bool) func(*CellResult) { return func(r *CellResult) { r.Pinned = new(b) } }

// cellsOf builds one cell per engine and BuildKit, pinned when its BuildKit
// is pin; digest gives each BuildKit's digest.
func cellsOf(fixture, platform, exporter, golden, pin string, engines []string, digest map[string]string, opts ...func(*CellResult)) []CellResult {
	var out []CellResult
	for _, e := range engines {
		for _, bk := range slices.Sorted(maps.Keys(digest)) {
			o := append([]func(*CellResult){pinnedAs(bk == pin)}, opts...)
			out = append(out, result(fixture, platform, e, bk, exporter, digest[bk], golden, o...))
		}
	}
	return out
}

var hostEngines = []string{"docker-20.10.24", "podman-4.3.1"}

// The matrix's known divergences that the cases README's scenarios meet.
func matrixKnown() []cell.KnownDivergence {
	exp := time.Date(2027, 5, 31, 0, 0, 0, 0, time.UTC)
	return []cell.KnownDivergence{
		{Cells: "buildkit=latest/exporter=docker", Reason: "BuildKit v0.31+ writes OCI media types from the docker exporter", Link: mediaTypes, Expires: exp},
		{Cells: "fixture=copy-link/buildkit=v0.26.3", Reason: "COPY --link --chmod parents 0755", Link: copyLink, Expires: exp},
		{Cells: "fixture=copy-link/buildkit=latest", Reason: "COPY --link --chmod parents 0755", Link: copyLink, Expires: exp},
	}
}

// pinTieRun is the cases README's first scenario: the nightly profile's
// arm64 cells of debian-run, no arm64 golden recorded; in the docker
// exporter group the pinned v0.19.0 and latest tie 2-2, and latest's cells
// sort first by name.
func pinTieRun() Run {
	var rs []CellResult
	rs = append(rs, cellsOf("debian-run", "linux-arm64", "docker", "", "v0.19.0", hostEngines, map[string]string{"v0.19.0": dA, "latest": dB})...)
	rs = append(rs, cellsOf("debian-run", "linux-arm64", "oci", "", "v0.19.0", hostEngines, map[string]string{"v0.19.0": dC, "latest": dC})...)
	return newRun(rs, matrixKnown())
}

func TestPinTieIsKnownAndActive(t *testing.T) {
	run := pinTieRun()
	g := run.Verdicts.Groups[0]
	if g.Exporter != "docker" || g.State != GroupKnown || g.Outcome != OutcomeKnown || run.Failed() {
		t.Fatalf("%s: %s/%s, run failed %v:\n%s", g.Key, g.State, g.Outcome, run.Failed(), g.Message)
	}
	pinnedCell := "fixture=debian-run/platform=linux-arm64/engine=docker-20.10.24/buildkit=v0.19.0/exporter=docker"
	if g.ReferenceDigest != dA || g.Reference != pinnedCell || g.PinnedBuildKit != "v0.19.0" || g.PinnedDigest != dA || g.NoReference != "" {
		t.Errorf("reference %s %s, pinned %s %s, none %q", g.Reference, g.ReferenceDigest, g.PinnedBuildKit, g.PinnedDigest, g.NoReference)
	}
	if len(g.Known) != 1 || g.Known[0].Link != mediaTypes || len(g.Differing) != 2 {
		t.Errorf("known %v, differing %v", g.Known, g.Differing)
	}
	for _, want := range []string{
		"cells differ as known: 2 of 4 cells deviate",
		"reference: " + pinnedCell + " " + dA + " (what the pinned BuildKit v0.19.0 builds; no golden digest recorded)",
		"differs:   fixture=debian-run/platform=linux-arm64/engine=podman-4.3.1/buildkit=latest/exporter=docker " + dB + " (known: " + mediaTypes + ")",
	} {
		if !strings.Contains(g.Message, want) {
			t.Errorf("message lacks %q:\n%s", want, g.Message)
		}
	}
	if k := run.Verdicts.Known[0]; k.State != KnownActive || len(k.Covers) != 2 || strings.Contains(k.Note, "no longer") {
		t.Errorf("%s: %s %q covers %v", k.Cells, k.State, k.Note, k.Covers)
	}
	if o := run.Verdicts.Groups[1]; o.State != GroupAgree || o.Outcome != OutcomeWarn || !strings.Contains(o.Message, "no golden digest recorded: record it") {
		t.Errorf("oci: %s/%s %s", o.State, o.Outcome, o.Message)
	}
	md := string(markdown(t, run))
	for _, want := range []string{"| `docker-20.10.24` · `v0.19.0` 📌 |", "still happens (2 cells)"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	golden(t, filepath.Join("markdown", "pin-tie.md"), []byte(md))
}

// Without the known divergence the same tie is a disagreement in which
// the newest BuildKit's cells differ, never the pinned ones.
func TestPinTieWithoutKnownBlamesTheNewest(t *testing.T) {
	run := pinTieRun()
	run.Known = nil
	run.Evaluate()
	g := run.Verdicts.Groups[0]
	if g.State != GroupDisagree || g.ReferenceDigest != dA {
		t.Fatalf("%s reference %s", g.State, g.ReferenceDigest)
	}
	for _, d := range g.Differing {
		if !strings.Contains(d, "buildkit=latest") {
			t.Errorf("%s differs: only latest's cells may", d)
		}
	}
	for _, p := range g.Pairs {
		if !strings.Contains(p.Against, "buildkit=v0.19.0") {
			t.Errorf("pair %s against %s: want a pinned cell", p.Cell, p.Against)
		}
	}
}

// pinBumpRun is the cases README's second scenario: a pull request pins
// v0.26.3 (v0.19.0 becomes the candidate); the pr profile under Docker
// 20.10 builds copy-link, whose amd64 golden digests v0.19.0 recorded and
// whose arm64 ones are not recorded yet. The known divergence for v0.26.3
// was written when it was not pinned.
func pinBumpRun() Run {
	engines := []string{"docker-20.10.24"}
	var rs []CellResult
	for _, ex := range [][3]string{{"docker", dA, dD}, {"docker-oci-mediatypes", dB, dE}, {"oci", dB, dE}} {
		rs = append(rs, cellsOf("copy-link", "linux-amd64", ex[0], ex[1], "v0.26.3", engines, map[string]string{"v0.19.0": ex[1], "v0.26.3": ex[2]})...)
	}
	rs = append(rs, cellsOf("copy-link", "linux-arm64", "oci", "", "v0.26.3", engines, map[string]string{"v0.19.0": dC, "v0.26.3": dF})...)
	run := newRun(rs, matrixKnown())
	run.Profile = "pr"
	return run
}

func TestPinBumpChangesGoldens(t *testing.T) {
	run := pinBumpRun()
	if !run.Failed() {
		t.Fatal("a bump that changes golden digests passes")
	}
	for _, g := range run.Verdicts.Groups[:3] {
		pinnedCell := "fixture=copy-link/platform=linux-amd64/engine=docker-20.10.24/buildkit=v0.26.3/exporter=" + g.Exporter
		if g.State != GroupGoldenMismatch || len(g.Known) != 0 || !g.pinChanged() {
			t.Errorf("%s: %s known %v\n%s", g.Key, g.State, g.Known, g.Message)
		}
		if !strings.HasPrefix(g.Message, "the pinned BuildKit v0.26.3 builds "+g.PinnedDigest+", not the golden digest "+g.Golden+
			" that v0.19.0 builds: moving the pin to v0.26.3 changes this golden digest; if that is intended, make goldens records it") {
			t.Errorf("%s: message\n%s", g.Key, g.Message)
		}
		if !strings.Contains(g.Message, "differs:   "+pinnedCell+" "+g.PinnedDigest+" (pinned BuildKit; known divergence "+copyLink+" matches it") {
			t.Errorf("%s: the refused divergence is not named:\n%s", g.Key, g.Message)
		}
		// The diff of the pin's cell against the old pin's, which built the golden digest.
		if len(g.Pairs) != 1 || g.Pairs[0].Cell != pinnedCell || !strings.Contains(g.Pairs[0].Against, "buildkit=v0.19.0") ||
			g.Pairs[0].AgainstTarball == "" || g.Pairs[0].Known {
			t.Errorf("%s: pairs %+v", g.Key, g.Pairs)
		}
		if v := CheckCell(resultNamed(run, pinnedCell), matrixKnown()...); v.State != CellMismatch || v.Known != nil ||
			!strings.Contains(v.Message, "none excuses the pinned BuildKit") {
			t.Errorf("CheckCell(%s) = %+v", pinnedCell, v)
		}
	}
	// No golden digest on arm64: the new pin is the reference, the old one differs.
	if g := run.Verdicts.Groups[3]; g.State != GroupDisagree || g.ReferenceDigest != dF || !strings.Contains(g.Differing[0], "buildkit=v0.19.0") {
		t.Errorf("arm64: %s reference %s differing %v", g.State, g.ReferenceDigest, g.Differing)
	}
	if k := run.Verdicts.Known[1]; k.State != KnownRefused || !strings.Contains(k.Note, "make goldens") {
		t.Errorf("%s: %s %q", k.Cells, k.State, k.Note)
	}
	md := string(markdown(t, run))
	for _, want := range []string{
		"# repro-matrix: ❌ FAILED",
		"## The pinned BuildKit changes golden digests",
		"The pinned BuildKit `v0.26.3` does not build the recorded golden digest of 3 groups: moving the pin to it (or a new base image) changes these golden digests",
		"`make goldens` (with this run's `MATRIX`) records the new digests",
		"| `copy-link` | linux-amd64 · docker | `sha256:aaaaaaaaaaaa` | `sha256:dddddddddddd` | `v0.19.0` |",
		"⛔ known divergence `fixture=copy-link/buildkit=v0.26.3`",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	golden(t, filepath.Join("markdown", "pin-bump.md"), []byte(md))
}

// A pinned cell off its golden digest among other cells that differ from
// both: the group disagrees, and still says that the pin changes it.
func TestPinChangeWithAnotherDifference(t *testing.T) {
	rs := cellsOf("copy-link", "linux-amd64", "oci", dB, "v0.26.3", []string{"docker-20"}, map[string]string{"v0.19.0": dB, "v0.26.3": dE, "v0.27.0": dF})
	g := Evaluate(rs, nil, WithNow(t0)).Groups[0]
	if g.State != GroupDisagree || !g.pinChanged() || !strings.Contains(g.Message, "pinned:    the pinned BuildKit v0.26.3 builds "+dE) {
		t.Errorf("%s\n%s", g.State, g.Message)
	}
	// Cells that follow the pin are part of its change, not a disagreement.
	rs[2].Digest = dE
	if g := Evaluate(rs, nil, WithNow(t0)).Groups[0]; g.State != GroupGoldenMismatch {
		t.Errorf("cells following the pin: %s", g.State)
	}
	// No cell builds the golden digest any more: a new base, not a bump.
	rs[0].Digest = dE
	want := "the pinned BuildKit v0.26.3 builds " + dE + ", not the golden digest " + dB + ", which no cell built (a new base image, or another build of the pin)"
	if g := Evaluate(rs, nil, WithNow(t0)).Groups[0]; g.State != GroupGoldenMismatch || !strings.HasPrefix(g.Message, want) {
		t.Errorf("%s\n%s", g.State, g.Message)
	}
}

// A group without golden digest and without a pinned cell has nothing to
// hold it to: its cells are compared with each other, no digest is crowned
// by a majority, and no known divergence is judged there.
func TestNoPinNoGolden(t *testing.T) {
	noPin := func(digests map[string]string) []CellResult {
		return cellsOf("debian-run", "linux-arm64", "docker", "", "v0.19.0", []string{"docker-26", "docker-28", "podman-5"}, digests)
	}
	known := matrixKnown()[:1]
	t.Run("agree", func(t *testing.T) {
		v := Evaluate(noPin(map[string]string{"latest": dB}), known, WithNow(t0))
		g := v.Groups[0]
		want := "3 cells agree on " + dB + "; no golden digest and no cell of the pinned BuildKit: nothing to hold the group to"
		if g.State != GroupAgree || g.Outcome != OutcomeWarn || g.Message != want || g.ReferenceDigest != dB || g.NoReference == "" {
			t.Errorf("%s/%s %q", g.State, g.Outcome, g.Message)
		}
		if k := v.Known[0]; k.State != KnownNotExercised || !strings.Contains(k.Note, "nothing to hold them to") {
			t.Errorf("known: %s %q", k.State, k.Note)
		}
	})
	t.Run("majority", func(t *testing.T) {
		rs := noPin(map[string]string{"latest": dB, "v0.26.3": dC})
		rs[1].Digest = dB // v0.26.3 under docker-26: latest's digest, 4 cells to 2
		v := Evaluate(rs, known, WithNow(t0))
		g := v.Groups[0]
		if g.State != GroupDisagree || g.ReferenceDigest != "" || g.Reference != "" || len(g.Known) != 0 {
			t.Fatalf("%s reference %q %q known %v", g.State, g.Reference, g.ReferenceDigest, g.Known)
		}
		for _, want := range []string{"cells disagree: 6 cells built 2 different digests",
			"reference: none: no golden digest and no cell of the pinned BuildKit: nothing to hold the group to"} {
			if !strings.Contains(g.Message, want) {
				t.Errorf("message lacks %q:\n%s", want, g.Message)
			}
		}
		for _, c := range g.Cells {
			if c.Agrees || c.Known != nil {
				t.Errorf("%s agrees %v known %v: nothing to agree with", c.Name, c.Agrees, c.Known)
			}
		}
		if strings.Contains(g.Message, "most common") || v.Known[0].State != KnownNotExercised {
			t.Errorf("known %s:\n%s", v.Known[0].State, g.Message)
		}
	})
	t.Run("single", func(t *testing.T) {
		rs := []CellResult{result("umask", "linux-amd64", "docker-28", "latest", "oci", dC, "", pinnedAs(false))}
		g := Evaluate(rs, nil, WithNow(t0)).Groups[0]
		if g.State != GroupAgreeSingle || !strings.HasSuffix(g.Message, "nothing to hold the group to") {
			t.Errorf("%s %q", g.State, g.Message)
		}
	})
}

func TestPinnedCellsDisagree(t *testing.T) {
	rs := cellsOf("umask", "linux-amd64", "oci", "", "v0.19.0", []string{"docker-20", "podman-4"}, map[string]string{"v0.19.0": dA, "latest": dA})
	rs[3].Digest = dB // podman-4's v0.19.0
	g := Evaluate(rs, matrixKnown(), WithNow(t0)).Groups[0]
	if g.State != GroupDisagree || g.ReferenceDigest != "" || g.PinnedDigest != "" || g.PinnedBuildKit != "v0.19.0" {
		t.Fatalf("%s reference %q pinned %q", g.State, g.ReferenceDigest, g.PinnedDigest)
	}
	if want := "reference: none: no golden digest, and the cells of the pinned BuildKit v0.19.0 disagree among themselves: no reference digest"; !strings.Contains(g.Message, want) {
		t.Errorf("message lacks %q:\n%s", want, g.Message)
	}
	// With a golden digest the pinned cells' disagreement is still one.
	for i := range rs {
		rs[i].Golden = dA
	}
	if g := Evaluate(rs, matrixKnown(), WithNow(t0)).Groups[0]; g.State != GroupDisagree ||
		!strings.HasPrefix(g.Message, "cells disagree: the cells of the pinned BuildKit v0.19.0 built different digests") {
		t.Errorf("%s\n%s", g.State, g.Message)
	}
	if got := ProposeGoldens(rs, "v0.19.0"); len(got) != 1 || got[0].Refused != "cells disagree" {
		t.Errorf("proposals %+v", got)
	}
}

// A failed pinned cell fails its group and never counts as agreeing, with or
// without a golden digest.
func TestFailedPinnedCell(t *testing.T) {
	for _, golden := range []string{"", dA} {
		rs := cellsOf("umask", "linux-amd64", "oci", golden, "v0.19.0", []string{"docker-20", "podman-4"}, map[string]string{"v0.19.0": dA, "latest": dA})
		rs[1] = result("umask", "linux-amd64", "docker-20", "v0.19.0", "oci", "", golden, pinnedAs(true), failed("build: exit status 1"))
		g := Evaluate(rs, nil, WithNow(t0)).Groups[0]
		if g.State != GroupFailed || !g.Fails() || g.Cells[1].Agrees || g.ReferenceDigest != dA {
			t.Errorf("golden %q: %s agrees %v reference %q", golden, g.State, g.Cells[1].Agrees, g.ReferenceDigest)
		}
		rs[3] = result("umask", "linux-amd64", "podman-4", "v0.19.0", "oci", "", golden, pinnedAs(true), interrupted)
		g = Evaluate(rs, nil, WithNow(t0)).Groups[0]
		if g.State != GroupFailed || g.Cells[3].Agrees {
			t.Errorf("golden %q, no pinned cell built: %s", golden, g.State)
		}
		if golden == "" && (g.ReferenceDigest != dA || !strings.Contains(g.Message, "no cell of the pinned BuildKit v0.19.0 built")) {
			t.Errorf("no pinned cell built: reference %q\n%s", g.ReferenceDigest, g.Message)
		}
		if got := ProposeGoldens(rs, "v0.19.0"); len(got) != 1 || !strings.HasSuffix(got[0].Refused, "did not build") {
			t.Errorf("proposals %+v", got)
		}
	}
}

// Results recorded before CellResult.Pinned load, and count as not saying
// which BuildKit is pinned: held to the golden digest only, and said so.
func TestResultsWithoutPinned(t *testing.T) {
	path := filepath.Join("testdata", "results-before-pinned.json")
	raw, err := os.ReadFile(path)
	if err != nil || strings.Contains(string(raw), `"pinned"`) {
		t.Fatalf("%v: want a file recorded without the field", err)
	}
	run, err := ReadJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range run.Results {
		if r.Pinned != nil {
			t.Fatalf("%s: pinned %v", r.Name, *r.Pinned)
		}
	}
	before := run.Verdicts
	run.Verdicts = Verdicts{}
	run.Evaluate()
	for i, g := range run.Verdicts.Groups {
		if g.State != before.Groups[i].State || g.PinnedBuildKit != "" {
			t.Errorf("%s: %s, recorded %s", g.Key, g.State, before.Groups[i].State)
		}
	}
	single := run.Verdicts.Groups[3] // umask/linux-amd64/docker: one cell, no golden
	if !strings.Contains(single.Message, "these results do not say which cells are of the pinned BuildKit") {
		t.Errorf("%s: %s", single.Key, single.Message)
	}
	known := run.Verdicts.Groups[1] // timestamps/linux-amd64/oci: covered by a known divergence
	if known.State != GroupKnown || !strings.Contains(known.Message, "held to its golden digest only") {
		t.Errorf("%s: %s", known.Key, known.Message)
	}
	if got := ProposeGoldens(run.Results, "v0.34.2"); len(got) != 5 || got[0].Digest != dA {
		t.Errorf("proposals by name: %+v", got)
	}
}

func TestPinnedJSON(t *testing.T) {
	for _, tc := range []struct {
		pinned *bool
		want   string
	}{{nil, ""}, {new(false), `"pinned":false`}, {new(true), `"pinned":true`}} {
		b, _ := json.Marshal(CellResult{Name: "x", Pinned: tc.pinned})
		if got := string(b); tc.want == "" && strings.Contains(got, "pinned") || !strings.Contains(got, tc.want) {
			t.Errorf("%s, want %s", got, tc.want)
		}
		var back CellResult
		if err := json.Unmarshal(b, &back); err != nil || back.pin() != (CellResult{Pinned: tc.pinned}).pin() {
			t.Errorf("%s: round trip %v", b, err)
		}
	}
}

// goldens records what the pinned cells built, never a majority, and
// refuses results whose run pinned another BuildKit.
func TestProposeGoldensFollowsThePin(t *testing.T) {
	rs := cellsOf("umask", "linux-amd64", "oci", "", "v0.19.0", []string{"docker-20", "docker-28", "podman-4"}, map[string]string{"v0.19.0": dA, "latest": dB})
	rs = append(rs, result("umask", "linux-amd64", "podman-5", "v0.26.3", "oci", dB, "", pinnedAs(false)))
	if got := ProposeGoldens(rs, "v0.19.0"); len(got) != 1 || got[0].Digest != dA {
		t.Errorf("proposals %+v", got)
	}
	got := ProposeGoldens(rs, "latest")
	if len(got) != 1 || got[0].Digest != "" || got[0].Refused != "the run that made these results pinned v0.19.0, not latest: record with the matrix file it used" {
		t.Errorf("another pin: %+v", got)
	}
}

// rootlessRun is the bare-run trap (moby/buildkit#6686): the pinned
// BuildKit's rootless variant builds another digest than the pin under
// rootful engines, and a known divergence names the rootless engine.
func rootlessRun(golden string) []CellResult {
	rs := cellsOf("bare-run", "linux-amd64", "oci", golden, "v0.19.0", hostEngines, map[string]string{"v0.19.0": dA})
	rootless := result("bare-run", "linux-amd64", "podman-4.3.1-rootless", "v0.19.0", "oci", dB, golden, pinnedAs(false))
	rootless.Rootless = true
	return append(rs, rootless)
}

var knownRootless = cell.KnownDivergence{Cells: "fixture=bare-run/engine=*-rootless", Reason: "mount stubs", Link: "https://github.com/moby/buildkit/issues/6686",
	Expires: time.Date(2027, 5, 31, 0, 0, 0, 0, time.UTC)}

// TestRootlessVariantIsNotThePin: the rootless cell of the pinned BuildKit
// is neither the group's reference nor a voter for its golden digest, and
// a known divergence may excuse it; without that divergence it disagrees.
func TestRootlessVariantIsNotThePin(t *testing.T) {
	for _, golden := range []string{"", dA} {
		run := newRun(rootlessRun(golden), []cell.KnownDivergence{knownRootless})
		g := run.Verdicts.Groups[0]
		if g.State != GroupKnown || g.ReferenceDigest != dA || g.PinnedDigest != dA || run.Failed() {
			t.Errorf("golden %q: %s, reference %s, pinned digest %s, failed %v:\n%s", golden, g.State, g.ReferenceDigest, g.PinnedDigest, run.Failed(), g.Message)
		}
		if g := newRun(rootlessRun(golden), nil).Verdicts.Groups[0]; g.State != GroupDisagree {
			t.Errorf("golden %q, no known divergence: %s, want disagree", golden, g.State)
		}
	}
	got := ProposeGoldens(rootlessRun(""), "v0.19.0", knownRootless)
	if len(got) != 1 || got[0].Digest != dA || got[0].Refused != "" {
		t.Errorf("proposals %+v, want %s from the rootful cells", got, dA)
	}
}

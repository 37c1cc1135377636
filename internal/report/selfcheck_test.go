package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/cell"
)

// Self-checks (issue 13): the runner rebuilds a reference cell of each
// group on a fresh builder and records the rebuild's digest.

// rebuilt records a self-check that built d, with its tarball.
func rebuilt(d string) func(*CellResult) {
	return func(r *CellResult) {
		r.SelfCheck, r.SelfCheckTarball = d, strings.TrimSuffix(r.Tarball, ".tar")+"-selfcheck.tar"
	}
}

// rebuildFailed records a self-check whose rebuild failed.
func rebuildFailed(msg string) func(*CellResult) {
	return func(r *CellResult) { r.SelfCheckError = msg }
}

// pinnedFour is four's group (timestamps, linux-amd64, docker) with v0.19.0
// pinned, as the runner records it; opts adjust cell i.
func pinnedFour(digests [4]string, golden string, opts map[int][]func(*CellResult)) []CellResult {
	all := map[int][]func(*CellResult){}
	for i, c := range four(digests, golden) {
		all[i] = append([]func(*CellResult){pinnedAs(c.Axes.BuildKit == "v0.19.0")}, opts[i]...)
	}
	return four(digests, golden, all)
}

// coverAll is a known divergence that matches every cell of fixture
// timestamps: it must never excuse a fixture that is not deterministic.
var coverAll = cell.KnownDivergence{Cells: "fixture=timestamps", Reason: "everything differs", Link: issue,
	Expires: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}

const rebuildFailure = "buildx: exit status 1\nERROR: failed to solve: failed to fetch base: connection refused"

func TestSelfCheckDiffersIsNotReproducible(t *testing.T) {
	for _, tc := range []struct {
		name    string
		digests [4]string
		known   []cell.KnownDivergence
	}{
		{"engines agree", [4]string{dA, dA, dA, dA}, nil},
		{"engines differ too", [4]string{dA, dA, dB, dC}, nil},
		{"engines differ, known divergence covers every cell", [4]string{dA, dA, dB, dC}, []cell.KnownDivergence{coverAll}},
		{"no golden, engines differ", [4]string{dA, dB, dA, dC}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden := dA
			if strings.HasPrefix(tc.name, "no golden") {
				golden = ""
			}
			rs := pinnedFour(tc.digests, golden, map[int][]func(*CellResult){0: {rebuilt(dD)}})
			run := newRun(rs, tc.known)
			g := run.Verdicts.Groups[0]
			want := "the fixture is not deterministic: " + rs[0].Name + " built sha256:aaaaaaaaaaaa, then sha256:dddddddddddd " +
				"when rebuilt on a fresh builder; engines were not compared"
			if g.State != GroupNotReproducible || g.Outcome != OutcomeFail || !g.Fails() || !run.Failed() {
				t.Fatalf("state %s, outcome %s, run failed %v:\n%s", g.State, g.Outcome, run.Failed(), g.Message)
			}
			if first, _, _ := strings.Cut(g.Message, "\n"); first != want {
				t.Errorf("headline %q, want %q", first, want)
			}
			if len(g.Known) != 0 || slices.ContainsFunc(g.Cells, func(c CellVerdict) bool { return c.Known != nil }) {
				t.Errorf("a known divergence excused a cell of a group that is not reproducible: %+v", g.Known)
			}
			for _, k := range run.Verdicts.Known {
				if k.State != KnownNotExercised {
					t.Errorf("known divergence judged in a group that is not reproducible: %s (%s)", k.State, k.Note)
				}
			}
			if len(g.SelfChecks) != 1 || !g.SelfChecks[0].Differs() || g.SelfChecks[0].Rebuilt != dD {
				t.Errorf("self-checks %+v", g.SelfChecks)
			}
		})
	}
}

// Verdicts.Pairs holds the pair of the cell and its rebuild, first of its
// group, for AttachDiffs to diff the two builds.
func TestSelfCheckPair(t *testing.T) {
	rs := pinnedFour([4]string{dA, dA, dB, dA}, dA, map[int][]func(*CellResult){0: {rebuilt(dD)}})
	run := newRun(rs, nil)
	pairs := run.Verdicts.Pairs()
	if len(pairs) != 2 {
		t.Fatalf("%d pairs, want the rebuild's and podman-4's: %+v", len(pairs), pairs)
	}
	want := Pair{Cell: rs[0].Name, Digest: dA, Tarball: rs[0].Tarball,
		Against: rs[0].Name + " (rebuilt on a fresh builder)", AgainstDigest: dD, AgainstTarball: rs[0].SelfCheckTarball, SelfCheck: true}
	if got := *pairs[0]; !samePair(got, want) {
		t.Errorf("rebuild pair %+v, want %+v", got, want)
	}
	if p := pairs[1]; p.SelfCheck || p.Cell != rs[2].Name || p.Against != rs[0].Name {
		t.Errorf("second pair %+v", p)
	}
	pairs[0].DiffSummary = "layer 1: file /etc/machine-id differs"
	if run.Verdicts.Groups[0].Pairs[0].DiffSummary == "" {
		t.Error("Pairs() must point into the verdicts")
	}
}

func samePair(a, b Pair) bool {
	return a.Cell == b.Cell && a.Digest == b.Digest && a.Tarball == b.Tarball && a.Against == b.Against &&
		a.AgainstDigest == b.AgainstDigest && a.AgainstTarball == b.AgainstTarball && a.SelfCheck == b.SelfCheck && a.Known == b.Known
}

func TestSelfCheckIdenticalKeepsAgree(t *testing.T) {
	rs := pinnedFour([4]string{dA, dA, dA, dA}, dA, map[int][]func(*CellResult){0: {rebuilt(dA)}})
	run := newRun(rs, nil)
	g := run.Verdicts.Groups[0]
	if g.State != GroupAgree || g.Outcome != OutcomePass || run.Failed() || len(g.Pairs) != 0 {
		t.Fatalf("state %s, outcome %s, pairs %+v:\n%s", g.State, g.Outcome, g.Pairs, g.Message)
	}
	if len(g.SelfChecks) != 1 || !g.SelfChecks[0].Identical() {
		t.Errorf("self-checks %+v", g.SelfChecks)
	}
	if want := "self-check: " + rs[0].Name + " rebuilt identically on a fresh builder (sha256:aaaaaaaaaaaa)"; !strings.Contains(g.Message, want) {
		t.Errorf("message lacks %q:\n%s", want, g.Message)
	}
}

func TestSelfCheckFailedFailsTheGroup(t *testing.T) {
	rs := pinnedFour([4]string{dA, dA, dA, dA}, dA, map[int][]func(*CellResult){0: {rebuildFailed(rebuildFailure)}})
	run := newRun(rs, nil)
	g := run.Verdicts.Groups[0]
	if g.State != GroupFailed || !run.Failed() || len(g.Failed) != 0 {
		t.Fatalf("state %s, failed cells %v:\n%s", g.State, g.Failed, g.Message)
	}
	for _, want := range []string{
		"the self-check of " + rs[0].Name + " failed: rebuilt on a fresh builder, it did not build",
		"failed:    self-check of " + rs[0].Name + " (rebuilt on a fresh builder): buildx: exit status 1",
	} {
		if !strings.Contains(g.Message, want) {
			t.Errorf("message lacks %q:\n%s", want, g.Message)
		}
	}
	for _, c := range g.Cells {
		if c.State != CellMatch || !c.Agrees {
			t.Errorf("cell %s: %s", c.Name, c.State)
		}
	}
}

// A cell that did not build keeps its precedence: the group is failed or
// interrupted, and its message and pairs still show the fixture's
// non-determinism.
func TestSelfCheckAfterFailedAndInterrupted(t *testing.T) {
	for _, tc := range []struct {
		other func(*CellResult)
		state GroupState
	}{
		{failed("buildx: exit status 1"), GroupFailed},
		{interrupted, GroupInterrupted},
	} {
		rs := pinnedFour([4]string{dA, dA, dA, dA}, dA, map[int][]func(*CellResult){0: {rebuilt(dD)}, 3: {tc.other}})
		g := newRun(rs, nil).Verdicts.Groups[0]
		want := "self-check: " + rs[0].Name + " built sha256:aaaaaaaaaaaa, then sha256:dddddddddddd when rebuilt on a fresh builder: the fixture is not deterministic"
		if g.State != tc.state || !strings.Contains(g.Message, want) || len(g.Pairs) != 1 || !g.Pairs[0].SelfCheck {
			t.Errorf("state %s (want %s), pairs %+v, message:\n%s", g.State, tc.state, g.Pairs, g.Message)
		}
	}
}

// A cell that did not build has nothing to self-check.
func TestSelfCheckOfFailedCellIgnored(t *testing.T) {
	rs := pinnedFour([4]string{dA, dA, dA, dA}, dA, map[int][]func(*CellResult){0: {failed("boom"), rebuilt(dD)}})
	g := newRun(rs, nil).Verdicts.Groups[0]
	if g.State != GroupFailed || len(g.SelfChecks) != 0 || len(g.Pairs) != 0 {
		t.Errorf("state %s, self-checks %+v, pairs %+v", g.State, g.SelfChecks, g.Pairs)
	}
}

// selfCheckRun has one group of each kind of self-check: not reproducible
// (engines differ too, a known divergence covers every cell, the rebuild's
// diff attached), rebuilt identically, rebuild failed.
func selfCheckRun() Run {
	var rs []CellResult
	rs = append(rs, pinnedFour([4]string{dA, dA, dB, dA}, dA, map[int][]func(*CellResult){0: {rebuilt(dD)}})...)
	for _, e := range [][2]string{{"docker-20", "v0.19.0"}, {"podman-4", "v0.19.0"}} {
		o := []func(*CellResult){pinnedAs(true)}
		if e[0] == "docker-20" {
			o = append(o, rebuilt(dC))
		}
		rs = append(rs, result("timestamps", "linux-amd64", e[0], e[1], "oci", dC, dC, o...))
	}
	rs = append(rs,
		result("umask", "linux-amd64", "docker-20", "v0.19.0", "oci", dB, dB, pinnedAs(true), rebuildFailed(rebuildFailure)),
		result("umask", "linux-amd64", "podman-4", "v0.19.0", "oci", dB, dB, pinnedAs(true)),
	)
	run := newRun(rs, []cell.KnownDivergence{coverAll})
	for _, p := range run.Verdicts.Pairs() {
		if p.SelfCheck {
			p.DiffSummary = "layer 2: file /var/lib/dbus/machine-id differs"
			p.Hints = []string{"random-content: a RUN step writes random bytes (fix: remove the file in the same step)"}
		}
	}
	return run
}

func TestSelfCheckJUnit(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, selfCheckRun()); err != nil {
		t.Fatal(err)
	}
	var doc junitDoc
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{}
	for _, c := range doc.Suites[0].Cases {
		if c.Failure != nil {
			cases[c.Name] = c.Failure.Type + ": " + c.Failure.Message
		} else {
			cases[c.Name] = ""
		}
	}
	name := "fixture=timestamps/platform=linux-amd64/engine=docker-20/buildkit=v0.19.0/exporter=docker"
	for group, want := range map[string]string{
		"fixture=timestamps/platform=linux-amd64/exporter=docker": "not-reproducible: the fixture is not deterministic: " + name +
			" built sha256:aaaaaaaaaaaa, then sha256:dddddddddddd when rebuilt on a fresh builder; engines were not compared …",
		"fixture=timestamps/platform=linux-amd64/exporter=oci": "",
		"fixture=umask/platform=linux-amd64/exporter=oci": "failed: the self-check of " +
			"fixture=umask/platform=linux-amd64/engine=docker-20/buildkit=v0.19.0/exporter=oci failed: rebuilt on a fresh builder, it did not build, " +
			"so nothing shows that the fixture is deterministic …",
	} {
		if got, ok := cases["verdicts group: "+group]; !ok || got != want {
			t.Errorf("%s: %q, want %q", group, got, want)
		}
	}
	if !strings.Contains(b.String(), "rebuilt identically on a fresh builder") {
		t.Error("junit does not show the identical self-check")
	}
}

// Shards written to results.json and merged keep the self-checks: the
// merged run is not reproducible where the shard was, with its diff.
func TestSelfCheckMerge(t *testing.T) {
	run := selfCheckRun()
	dir := t.TempDir()
	var shards []Shard
	for i, s := range shardsOf(run, func(r CellResult) int { return boolIndex(r.Axes.Fixture == "umask") }) {
		for _, p := range s.Verdicts.Pairs() {
			if p.SelfCheck {
				p.DiffSummary = "layer 2: file /var/lib/dbus/machine-id differs"
			}
		}
		path := filepath.Join(dir, []string{"a.json", "b.json"}[i])
		if err := WriteJSON(path, s); err != nil {
			t.Fatal(err)
		}
		sh, err := ReadShard(path)
		if err != nil {
			t.Fatal(err)
		}
		shards = append(shards, sh)
	}
	merged, err := MergeShards(shards...)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range run.Results {
		m := resultNamed(merged, r.Name)
		if m.SelfCheck != r.SelfCheck || m.SelfCheckTarball != r.SelfCheckTarball || m.SelfCheckError != r.SelfCheckError {
			t.Errorf("%s: self-check %q %q %q, want %q %q %q", r.Name, m.SelfCheck, m.SelfCheckTarball, m.SelfCheckError,
				r.SelfCheck, r.SelfCheckTarball, r.SelfCheckError)
		}
	}
	var states []GroupState
	for _, g := range merged.Verdicts.Groups {
		states = append(states, g.State)
	}
	if want := []GroupState{GroupNotReproducible, GroupAgree, GroupFailed}; !slices.Equal(states, want) {
		t.Errorf("merged states %v, want %v", states, want)
	}
	if p := merged.Verdicts.Groups[0].Pairs[0]; !p.SelfCheck || p.DiffSummary != "layer 2: file /var/lib/dbus/machine-id differs" {
		t.Errorf("merged rebuild pair %+v", p)
	}
}

// A rebuild pair that no shard reported (shards recorded before
// self-checks were judged) was made in the shard of its cell: the merged
// pair says that no shard compared them, not that they ran apart.
func TestSelfCheckMergeWithoutDiff(t *testing.T) {
	run := selfCheckRun()
	shards := shardsOf(run, func(r CellResult) int { return boolIndex(strings.Contains(r.Name, "engine=podman")) })
	for i := range shards {
		for gi := range shards[i].Verdicts.Groups {
			shards[i].Verdicts.Groups[gi].Pairs = nil
		}
	}
	merged, err := Merge(shards[0], shards[1])
	if err != nil {
		t.Fatal(err)
	}
	if p := merged.Verdicts.Groups[0].Pairs[0]; !p.SelfCheck || p.DiffSummary != noDiffInShard {
		t.Errorf("rebuild pair %+v", p)
	}
}

func TestProposeGoldensRefusesNotReproducible(t *testing.T) {
	rs := selfCheckRun().Results
	name := "fixture=timestamps/platform=linux-amd64/engine=docker-20/buildkit=v0.19.0/exporter=docker"
	want := map[string]string{
		"fixture=timestamps/platform=linux-amd64/exporter=docker": "not reproducible: the fixture is not deterministic: " + name +
			" built sha256:aaaaaaaaaaaa, then sha256:dddddddddddd when rebuilt on a fresh builder",
		"fixture=timestamps/platform=linux-amd64/exporter=oci": "",
		"fixture=umask/platform=linux-amd64/exporter=oci":      "the self-check of cell fixture=umask/platform=linux-amd64/engine=docker-20/buildkit=v0.19.0/exporter=oci did not build",
	}
	got := ProposeGoldens(rs, "v0.19.0")
	if len(got) != len(want) {
		t.Fatalf("proposals %+v", got)
	}
	for _, p := range got {
		if p.Refused != want[p.Group] || (p.Refused == "") != (p.Digest == dC) {
			t.Errorf("%s: refused %q, digest %s; want refused %q", p.Group, p.Refused, p.Digest, want[p.Group])
		}
	}
}

// Results recorded before self-checks load unchanged: no self-check, no
// new state, and a result without one writes none of the fields.
func TestResultsWithoutSelfCheck(t *testing.T) {
	for _, f := range []string{"results.json", "results-before-pinned.json"} {
		run, err := ReadJSON(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		recorded := slices.Clone(run.Verdicts.Groups)
		run.Verdicts = Verdicts{}
		run.Evaluate()
		for i, g := range run.Verdicts.Groups {
			if len(g.SelfChecks) != 0 || g.State == GroupNotReproducible || g.State != recorded[i].State {
				t.Errorf("%s: %s is %s (recorded %s), self-checks %+v", f, g.Key, g.State, recorded[i].State, g.SelfChecks)
			}
		}
	}
	b, err := json.Marshal(result("umask", "linux-amd64", "docker-28", "v0.34.2", "oci", dC, dC))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("selfCheck")) {
		t.Errorf("a result without self-check writes %s", b)
	}
}

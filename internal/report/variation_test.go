package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/repro-matrix/repro-matrix/internal/cell"
)

// Variations (issue 13): the runner rebuilds the self-checked cell of each
// group once per variation of matrix.yaml's vary, on its builder.

// changes says what each variation changes, as the runner says it.
var changes = map[string]string{
	"mtime":  "the context's files and folders dated now",
	"umask":  "the context as a checkout under umask 002 makes it: files 0664, executables and folders 0775",
	"setgid": "the setgid bit on the context's folders (drwxr-sr-x)",
	"order":  "the context's files created in reverse order",
	"path":   "the context at another absolute path",
	"tz":     "TZ=Pacific/Kiritimati (UTC+14) for the building process",
	"locale": "LANG and LC_ALL tr_TR.UTF-8 for the building process",
}

var variationNames = []string{"mtime", "umask", "setgid", "order", "path", "tz", "locale"}

// variedAll records the seven variations, each building the cell's digest
// unless got gives another digest for it, or a failure ("!" + message).
func variedAll(got map[string]string) func(*CellResult) {
	return func(r *CellResult) {
		for _, n := range variationNames {
			v := Variation{Name: n, Changed: changes[n], Digest: r.Digest,
				Tarball: strings.TrimSuffix(r.Tarball, ".tar") + "-vary-" + n + ".tar"}
			if d, ok := got[n]; ok {
				v.Digest = d
				if msg, failed := strings.CutPrefix(d, "!"); failed {
					v.Digest, v.Tarball, v.Error = "", "", msg
				}
			}
			r.Variations = append(r.Variations, v)
		}
	}
}

const varyFailure = "buildx: exit status 1\nERROR: failed to solve: failed to read dockerfile: open /tmp/vary/Dockerfile: no such file or directory"

func TestVariationThatDiffersVaries(t *testing.T) {
	for _, tc := range []struct {
		name    string
		digests [4]string
		golden  string
		known   []cell.KnownDivergence
		without GroupState // the verdict without the variation
	}{
		{"engines agree", [4]string{dA, dA, dA, dA}, dA, nil, GroupAgree},
		{"engines differ too", [4]string{dA, dB, dA, dC}, dA, nil, GroupDisagree},
		{"a known divergence covers every other cell", [4]string{dA, dB, dA, dB}, dA, []cell.KnownDivergence{coverAll}, GroupKnown},
		{"the pin misses the golden digest", [4]string{dA, dA, dA, dA}, dC, nil, GroupGoldenMismatch},
		{"no golden", [4]string{dA, dA, dA, dA}, "", nil, GroupAgree},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plain := newRun(pinnedFour(tc.digests, tc.golden, nil), tc.known)
			if s := plain.Verdicts.Groups[0].State; s != tc.without {
				t.Fatalf("without the variation: %s, want %s", s, tc.without)
			}
			rs := pinnedFour(tc.digests, tc.golden, map[int][]func(*CellResult){0: {variedAll(map[string]string{"setgid": dD})}})
			run := newRun(rs, tc.known)
			g := run.Verdicts.Groups[0]
			if g.State != GroupVaries || g.Outcome != OutcomeFail || !g.Fails() || !run.Failed() {
				t.Fatalf("state %s, outcome %s, run failed %v:\n%s", g.State, g.Outcome, run.Failed(), g.Message)
			}
			want := "the image depends on the build environment: varying setgid (the setgid bit on the context's folders (drwxr-sr-x)) " +
				"gives sha256:dddddddddddd instead of sha256:aaaaaaaaaaaa"
			if first, _, _ := strings.Cut(g.Message, "\n"); first != want {
				t.Errorf("headline %q, want %q", first, want)
			}
			held := "varied:    " + rs[0].Name + " held under mtime, umask, order, path, tz, locale (rebuilt with each, the same digest)"
			if !strings.Contains(g.Message, held) {
				t.Errorf("message lacks %q:\n%s", held, g.Message)
			}
			if len(g.Variations) != 7 || len(g.variedDigests()) != 1 || g.variedDigests()[0].Name != "setgid" {
				t.Errorf("variations %+v", g.Variations)
			}
			// Known divergences never excuse a variation; the cells they
			// cover are still marked as covered.
			if tc.known != nil && len(g.Known) == 0 {
				t.Error("the known divergence no longer covers the other cells")
			}
		})
	}
}

// Every variation that changed the digest is a line of the headline, in
// the order built.
func TestVariationsThatDifferEachNamed(t *testing.T) {
	rs := pinnedFour([4]string{dA, dA, dA, dA}, dA, map[int][]func(*CellResult){0: {variedAll(map[string]string{"umask": dD, "tz": dE})}})
	g := newRun(rs, nil).Verdicts.Groups[0]
	lines := strings.Split(g.Message, "\n")
	want := []string{
		"the image depends on the build environment: varying umask (" + changes["umask"] + ") gives sha256:dddddddddddd instead of sha256:aaaaaaaaaaaa",
		"the image depends on the build environment: varying tz (" + changes["tz"] + ") gives sha256:eeeeeeeeeeee instead of sha256:aaaaaaaaaaaa",
	}
	if g.State != GroupVaries || len(lines) < 2 || !slices.Equal(lines[:2], want) {
		t.Errorf("state %s, message:\n%s", g.State, g.Message)
	}
	if len(g.Pairs) != 2 || g.Pairs[0].Variation != "umask" || g.Pairs[1].Variation != "tz" {
		t.Errorf("pairs %+v", g.Pairs)
	}
}

func TestVariationFailedFailsTheGroup(t *testing.T) {
	rs := pinnedFour([4]string{dA, dA, dA, dA}, dA, map[int][]func(*CellResult){0: {variedAll(map[string]string{"tz": "!" + varyFailure})}})
	run := newRun(rs, nil)
	g := run.Verdicts.Groups[0]
	if g.State != GroupFailed || !run.Failed() || len(g.Failed) != 0 || len(g.Pairs) != 0 {
		t.Fatalf("state %s, failed cells %v, pairs %+v:\n%s", g.State, g.Failed, g.Pairs, g.Message)
	}
	for _, want := range []string{
		"the variation tz of " + rs[0].Name + " failed: rebuilt with " + changes["tz"] + ", it did not build",
		"failed:    variation tz of " + rs[0].Name + " (" + changes["tz"] + "): buildx: exit status 1",
	} {
		if !strings.Contains(g.Message, want) {
			t.Errorf("message lacks %q:\n%s", want, g.Message)
		}
	}
	// A variation that recorded neither digest nor error did not build either.
	rs = pinnedFour([4]string{dA, dA, dA, dA}, dA, map[int][]func(*CellResult){0: {func(r *CellResult) {
		r.Variations = []Variation{{Name: "path", Changed: changes["path"]}}
	}}})
	g = newRun(rs, nil).Verdicts.Groups[0]
	if g.State != GroupFailed || !strings.Contains(g.Message, "failed:    variation path of "+rs[0].Name+" ("+changes["path"]+"): no digest recorded") {
		t.Errorf("state %s:\n%s", g.State, g.Message)
	}
	// A failed variation outranks one that differs: what did not build fails first.
	rs = pinnedFour([4]string{dA, dA, dA, dA}, dA, map[int][]func(*CellResult){0: {variedAll(map[string]string{"mtime": dD, "tz": "!" + varyFailure})}})
	g = newRun(rs, nil).Verdicts.Groups[0]
	if g.State != GroupFailed || !strings.Contains(g.Message, "varied:    "+rs[0].Name+": the image depends on the build environment: varying mtime") {
		t.Errorf("state %s:\n%s", g.State, g.Message)
	}
}

// A fixture that is not deterministic explains every variation: the group
// is not reproducible, and its message and pairs still show the variation.
func TestNotReproducibleWinsOverVaries(t *testing.T) {
	rs := pinnedFour([4]string{dA, dA, dA, dA}, dA, map[int][]func(*CellResult){0: {rebuilt(dD), variedAll(map[string]string{"setgid": dE})}})
	g := newRun(rs, nil).Verdicts.Groups[0]
	if g.State != GroupNotReproducible {
		t.Fatalf("state %s, want not-reproducible:\n%s", g.State, g.Message)
	}
	want := "varied:    " + rs[0].Name + ": the image depends on the build environment: varying setgid"
	if !strings.Contains(g.Message, want) {
		t.Errorf("message lacks %q:\n%s", want, g.Message)
	}
	if len(g.Pairs) != 2 || !g.Pairs[0].SelfCheck || g.Pairs[1].Variation != "setgid" {
		t.Errorf("pairs %+v", g.Pairs)
	}
	// Failed and interrupted cells keep their precedence too.
	for _, tc := range []struct {
		other func(*CellResult)
		state GroupState
	}{{failed("buildx: exit status 1"), GroupFailed}, {interrupted, GroupInterrupted}} {
		rs := pinnedFour([4]string{dA, dA, dA, dA}, dA, map[int][]func(*CellResult){0: {variedAll(map[string]string{"setgid": dE})}, 3: {tc.other}})
		if g := newRun(rs, nil).Verdicts.Groups[0]; g.State != tc.state || len(g.Pairs) != 1 || g.Pairs[0].Variation != "setgid" {
			t.Errorf("state %s (want %s), pairs %+v", g.State, tc.state, g.Pairs)
		}
	}
}

func TestVariationsThatHeldStayAgree(t *testing.T) {
	rs := pinnedFour([4]string{dA, dA, dA, dA}, dA, map[int][]func(*CellResult){0: {rebuilt(dA), variedAll(nil)}})
	run := newRun(rs, nil)
	g := run.Verdicts.Groups[0]
	if g.State != GroupAgree || g.Outcome != OutcomePass || run.Failed() || len(g.Pairs) != 0 {
		t.Fatalf("state %s, outcome %s, pairs %+v:\n%s", g.State, g.Outcome, g.Pairs, g.Message)
	}
	want := "varied:    " + rs[0].Name + " held under mtime, umask, setgid, order, path, tz, locale (rebuilt with each, the same digest)"
	if !strings.Contains(g.Message, want) {
		t.Errorf("message lacks %q:\n%s", want, g.Message)
	}
}

// A cell that did not build has nothing to vary.
func TestVariationOfFailedCellIgnored(t *testing.T) {
	rs := pinnedFour([4]string{dA, dA, dA, dA}, dA, map[int][]func(*CellResult){0: {variedAll(map[string]string{"mtime": dD}), failed("boom")}})
	g := newRun(rs, nil).Verdicts.Groups[0]
	if g.State != GroupFailed || len(g.Variations) != 0 || len(g.Pairs) != 0 {
		t.Errorf("state %s, variations %+v, pairs %+v", g.State, g.Variations, g.Pairs)
	}
}

// Verdicts.Pairs holds the pair of the cell and its varied rebuild, after
// the self-check's and before the other cells', for AttachDiffs.
func TestVariationPair(t *testing.T) {
	rs := pinnedFour([4]string{dA, dA, dB, dA}, dA, map[int][]func(*CellResult){0: {rebuilt(dD), variedAll(map[string]string{"setgid": dE})}})
	run := newRun(rs, nil)
	pairs := run.Verdicts.Pairs()
	if len(pairs) != 3 {
		t.Fatalf("%d pairs, want the rebuild's, the variation's and podman-4's: %+v", len(pairs), pairs)
	}
	want := Pair{Cell: rs[0].Name, Digest: dA, Tarball: rs[0].Tarball,
		Against: rs[0].Name + " (varied: setgid)", AgainstDigest: dE, AgainstTarball: rs[0].Variations[2].Tarball, Variation: "setgid"}
	if got := *pairs[1]; !samePair(got, want) || got.Variation != "setgid" || got.SelfCheck {
		t.Errorf("variation pair %+v, want %+v", got, want)
	}
	if want.Against != VariedName(rs[0].Name, "setgid") || want.AgainstTarball == "" {
		t.Errorf("VariedName %q, tarball %q", VariedName(rs[0].Name, "setgid"), want.AgainstTarball)
	}
	if p := pairs[0]; !p.SelfCheck || p.Variation != "" {
		t.Errorf("first pair %+v", p)
	}
	if p := pairs[2]; p.SelfCheck || p.Variation != "" || p.Cell != rs[2].Name || p.Against != rs[0].Name {
		t.Errorf("third pair %+v", p)
	}
	pairs[1].DiffSummary = "layer 1: mode of /app differs"
	if run.Verdicts.Groups[0].Pairs[1].DiffSummary == "" {
		t.Error("Pairs() must point into the verdicts")
	}
	b, _ := json.Marshal(*pairs[1])
	if !bytes.Contains(b, []byte(`"variation":"setgid"`)) {
		t.Errorf("pair JSON %s", b)
	}
}

// variationRun has one group of each kind: varies (the self-check
// identical, the diff attached), every variation held, a variation that
// failed.
func variationRun() Run {
	var rs []CellResult
	rs = append(rs, pinnedFour([4]string{dA, dA, dA, dA}, dA, map[int][]func(*CellResult){0: {rebuilt(dA), variedAll(map[string]string{"setgid": dD})}})...)
	for _, e := range [][2]string{{"docker-20", "v0.19.0"}, {"podman-4", "v0.19.0"}} {
		o := []func(*CellResult){pinnedAs(true)}
		if e[0] == "docker-20" {
			o = append(o, rebuilt(dC), variedAll(nil))
		}
		rs = append(rs, result("timestamps", "linux-amd64", e[0], e[1], "oci", dC, dC, o...))
	}
	rs = append(rs,
		result("umask", "linux-amd64", "docker-20", "v0.19.0", "oci", dB, dB, pinnedAs(true), rebuilt(dB), variedAll(map[string]string{"tz": "!" + varyFailure})),
		result("umask", "linux-amd64", "podman-4", "v0.19.0", "oci", dB, dB, pinnedAs(true)),
	)
	run := newRun(rs, nil)
	for _, p := range run.Verdicts.Pairs() {
		if p.Variation != "" {
			p.DiffSummary = "layer 1: mode of /app differs (drwxr-sr-x, not drwxr-xr-x)"
			p.Hints = []string{"setgid-dir: a folder of the context carries the setgid bit into the image (fix: chmod g-s, or COPY --chmod)"}
		}
	}
	return run
}

func TestVariationJUnit(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, variationRun()); err != nil {
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
	for group, want := range map[string]string{
		"fixture=timestamps/platform=linux-amd64/exporter=docker": "varies: the image depends on the build environment: varying setgid " +
			"(the setgid bit on the context's folders (drwxr-sr-x)) gives sha256:dddddddddddd instead of sha256:aaaaaaaaaaaa …",
		"fixture=timestamps/platform=linux-amd64/exporter=oci": "",
		"fixture=umask/platform=linux-amd64/exporter=oci": "failed: the variation tz of " +
			"fixture=umask/platform=linux-amd64/engine=docker-20/buildkit=v0.19.0/exporter=oci failed: rebuilt with " + changes["tz"] +
			", it did not build, so nothing shows that the image does not depend on it …",
	} {
		if got, ok := cases["verdicts group: "+group]; !ok || got != want {
			t.Errorf("%s: %q, want %q", group, got, want)
		}
	}
	if doc.Failures != 2 {
		t.Errorf("%d failures, want the two groups", doc.Failures)
	}
	if !strings.Contains(b.String(), "held under mtime, umask, setgid, order, path, tz, locale") {
		t.Error("junit does not show the variations that held")
	}
}

// Shards written to results.json and merged keep the variations: the
// merged group varies where the shard's did, with the shard's diff.
func TestVariationMerge(t *testing.T) {
	run := variationRun()
	dir := t.TempDir()
	var shards []Shard
	for i, s := range shardsOf(run, func(r CellResult) int { return boolIndex(r.Axes.Fixture == "umask") }) {
		for _, p := range s.Verdicts.Pairs() {
			if p.Variation != "" {
				p.DiffSummary = "layer 1: mode of /app differs"
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
		if m := resultNamed(merged, r.Name); !slices.Equal(m.Variations, r.Variations) {
			t.Errorf("%s: variations %+v, want %+v", r.Name, m.Variations, r.Variations)
		}
	}
	var states []GroupState
	for _, g := range merged.Verdicts.Groups {
		states = append(states, g.State)
	}
	if want := []GroupState{GroupVaries, GroupAgree, GroupFailed}; !slices.Equal(states, want) {
		t.Errorf("merged states %v, want %v", states, want)
	}
	if p := merged.Verdicts.Groups[0].Pairs[0]; p.Variation != "setgid" || p.DiffSummary != "layer 1: mode of /app differs" {
		t.Errorf("merged variation pair %+v", p)
	}
	if merged.Verdicts.Counts.Group[GroupVaries] != 1 {
		t.Errorf("counts %v", merged.Verdicts.Counts.Group)
	}
	// Shards that reported no pair: the cell and its variation ran in one
	// shard, which did not compare them.
	shards2 := shardsOf(run, func(r CellResult) int { return boolIndex(strings.Contains(r.Name, "engine=podman")) })
	for i := range shards2 {
		for gi := range shards2[i].Verdicts.Groups {
			shards2[i].Verdicts.Groups[gi].Pairs = nil
		}
	}
	merged, err = Merge(shards2[0], shards2[1])
	if err != nil {
		t.Fatal(err)
	}
	if p := merged.Verdicts.Groups[0].Pairs[0]; p.Variation != "setgid" || p.DiffSummary != noDiffInShard {
		t.Errorf("variation pair %+v", p)
	}
}

func TestProposeGoldensRefusesVaries(t *testing.T) {
	rs := variationRun().Results
	want := map[string]string{
		"fixture=timestamps/platform=linux-amd64/exporter=docker": "the image depends on the build environment: varying setgid " +
			"(the setgid bit on the context's folders (drwxr-sr-x)) gives sha256:dddddddddddd instead of sha256:aaaaaaaaaaaa " +
			"(cell fixture=timestamps/platform=linux-amd64/engine=docker-20/buildkit=v0.19.0/exporter=docker)",
		"fixture=timestamps/platform=linux-amd64/exporter=oci": "",
		"fixture=umask/platform=linux-amd64/exporter=oci":      "the variation tz of cell fixture=umask/platform=linux-amd64/engine=docker-20/buildkit=v0.19.0/exporter=oci did not build",
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

// Results recorded before variations load unchanged: no variation, no new
// state, and a result without one writes no "variations".
func TestResultsWithoutVariations(t *testing.T) {
	for _, f := range []string{"results.json", "results-before-pinned.json"} {
		run, err := ReadJSON(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		recorded := slices.Clone(run.Verdicts.Groups)
		run.Verdicts = Verdicts{}
		run.Evaluate()
		for i, g := range run.Verdicts.Groups {
			// results-before-pinned.json's messages are worded as they were
			// then; results.json's as today.
			if len(g.Variations) != 0 || g.State == GroupVaries || g.State != recorded[i].State || f == "results.json" && g.Message != recorded[i].Message {
				t.Errorf("%s: %s is %s (recorded %s), variations %+v", f, g.Key, g.State, recorded[i].State, g.Variations)
			}
			for _, p := range g.Pairs {
				if p.Variation != "" {
					t.Errorf("%s: pair %+v", f, p)
				}
			}
		}
	}
	b, err := json.Marshal(result("umask", "linux-amd64", "docker-28", "v0.34.2", "oci", dC, dC))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("variation")) {
		t.Errorf("a result without variations writes %s", b)
	}
	g, _ := json.Marshal(newRun(four([4]string{dA, dA, dA, dA}, dA), nil).Verdicts.Groups[0])
	if bytes.Contains(g, []byte("variation")) {
		t.Errorf("a group without variations writes %s", g)
	}
}

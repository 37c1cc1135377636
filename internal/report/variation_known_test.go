package report

import (
	"bytes"
	"encoding/xml"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/cell"
)

// A known divergence with variations acknowledges a variation of its
// cells: the group is not varies for it, and says it as known.

const repoLink = "https://github.com/freedomofpress/repro-build"

var knownUmask = cell.KnownDivergence{Cells: "fixture=timestamps", Variations: []string{"umask"},
	Reason: "its COPY has no --chmod, so the modes of a checkout under umask 002 reach the image", Link: repoLink,
	Expires: time.Date(2027, 5, 31, 23, 59, 59, 0, time.UTC)}

// umaskChanges is a group of four cells whose pinned docker-20 cell,
// rebuilt under every variation, gives dD under umask.
func umaskChanges(digests [4]string, golden string, more ...func(*CellResult)) []CellResult {
	return pinnedFour(digests, golden, map[int][]func(*CellResult){0: append([]func(*CellResult){variedAll(map[string]string{"umask": dD})}, more...)})
}

const umaskKnownText = "varying umask (" + "the context as a checkout under umask 002 makes it: files 0664, executables and folders 0775" +
	") gives sha256:dddddddddddd instead of sha256:aaaaaaaaaaaa (known: its COPY has no --chmod, so the modes of a checkout under umask 002 reach the image " +
	repoLink + ")"

func TestKnownVariationCovered(t *testing.T) {
	run := newRun(umaskChanges([4]string{dA, dA, dA, dA}, dA), []cell.KnownDivergence{knownUmask})
	g := run.Verdicts.Groups[0]
	if g.State != GroupKnown || g.Outcome != OutcomeKnown || g.Fails() || run.Failed() {
		t.Fatalf("state %s, outcome %s, run failed %v:\n%s", g.State, g.Outcome, run.Failed(), g.Message)
	}
	want := "4 cells agree on " + dA + ", the golden digest; the image depends on the build environment as known: " + umaskKnownText
	if first, _, _ := strings.Cut(g.Message, "\n"); first != want {
		t.Errorf("headline\n%q, want\n%q", first, want)
	}
	if strings.Count(g.Message, "varying umask") != 1 {
		t.Errorf("the message says the variation other than once:\n%s", g.Message)
	}
	if len(g.Known) != 1 || !sameKnown(g.Known[0], knownUmask) {
		t.Errorf("group known %+v", g.Known)
	}
	for _, v := range g.Variations {
		if (v.Known != nil) != (v.Name == "umask") {
			t.Errorf("variation %s: known %v", v.Name, v.Known)
		}
	}
	for _, c := range g.Cells {
		if c.Known != nil || !c.Agrees {
			t.Errorf("cell %s: known %v, agrees %v", c.Name, c.Known, c.Agrees)
		}
	}
	// The pair of the two builds is still diffed, marked known.
	pairs := run.Verdicts.Pairs()
	if len(pairs) != 1 || pairs[0].Variation != "umask" || !pairs[0].Known || pairs[0].AgainstDigest != dD {
		t.Errorf("pairs %+v", pairs)
	}
	k := run.Verdicts.Known[0]
	if k.State != KnownActive || !slices.Equal(k.Covers, []string{VariedName(g.Cells[0].Name, "umask")}) ||
		k.Note != "still happens: varying umask changes the digest" {
		t.Errorf("known status %+v", k)
	}
}

// A covered variation leaves the group the verdict it would have without
// it (known where it would agree); an uncovered one, or one whose rebuild
// failed, keeps its precedence, as do failed cells and a self-check that
// rebuilt another digest.
func TestKnownVariationTakesTheOtherVerdict(t *testing.T) {
	other := cell.KnownDivergence{Cells: "fixture=timestamps/buildkit=v0.34.2", Reason: "BuildKit 0.34 differs", Link: issue,
		Expires: knownUmask.Expires}
	for _, tc := range []struct {
		name    string
		results []CellResult
		known   []cell.KnownDivergence
		want    GroupState
		status  KnownState
	}{
		{"cells agree", umaskChanges([4]string{dA, dA, dA, dA}, dA), nil, GroupKnown, KnownActive},
		{"cells agree, no golden", umaskChanges([4]string{dA, dA, dA, dA}, ""), nil, GroupKnown, KnownActive},
		{"one cell", umaskChanges([4]string{dA, dA, dA, dA}, dA)[:1], nil, GroupKnown, KnownActive},
		{"engines differ", umaskChanges([4]string{dA, dB, dA, dC}, dA), nil, GroupDisagree, KnownActive},
		{"other cells covered", umaskChanges([4]string{dA, dB, dA, dB}, dA), []cell.KnownDivergence{other}, GroupKnown, KnownActive},
		{"the pin misses the golden digest", umaskChanges([4]string{dA, dA, dA, dA}, dC), nil, GroupGoldenMismatch, KnownActive},
		{"another variation uncovered", pinnedFour([4]string{dA, dA, dA, dA}, dA,
			map[int][]func(*CellResult){0: {variedAll(map[string]string{"umask": dD, "tz": dE})}}), nil, GroupVaries, KnownActive},
		{"another variation failed", pinnedFour([4]string{dA, dA, dA, dA}, dA,
			map[int][]func(*CellResult){0: {variedAll(map[string]string{"umask": dD, "tz": "!" + varyFailure})}}), nil, GroupFailed, KnownActive},
		{"the umask rebuild failed", pinnedFour([4]string{dA, dA, dA, dA}, dA,
			map[int][]func(*CellResult){0: {variedAll(map[string]string{"umask": "!" + varyFailure})}}), nil, GroupFailed, KnownNotExercised},
		{"a cell failed", pinnedFour([4]string{dA, dA, dA, dA}, dA,
			map[int][]func(*CellResult){0: {variedAll(map[string]string{"umask": dD})}, 1: {failed("boom")}}), nil, GroupFailed, KnownActive},
		{"not reproducible", umaskChanges([4]string{dA, dA, dA, dA}, dA, rebuilt(dB)), nil, GroupNotReproducible, KnownNotExercised},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := newRun(tc.results, append([]cell.KnownDivergence{knownUmask}, tc.known...))
			g := run.Verdicts.Groups[0]
			if g.State != tc.want {
				t.Fatalf("state %s, want %s:\n%s", g.State, tc.want, g.Message)
			}
			if s := run.Verdicts.Known[0]; s.State != tc.status {
				t.Errorf("known status %s (%s), want %s", s.State, s.Note, tc.status)
			}
			if tc.want != GroupKnown && tc.status == KnownActive && !strings.Contains(g.Message, "varied:    "+g.Cells[0].Name+": "+umaskKnownText) {
				t.Errorf("the message does not say the acknowledged variation:\n%s", g.Message)
			}
			if tc.want == GroupVaries && strings.Contains(strings.SplitN(g.Message, "\n", 2)[0], "umask") {
				t.Errorf("the varies headline names the acknowledged variation:\n%s", g.Message)
			}
			if tc.status == KnownActive && !slices.ContainsFunc(g.Pairs, func(p Pair) bool { return p.Variation == "umask" && p.Known }) {
				t.Errorf("no known pair of the umask rebuild: %+v", g.Pairs)
			}
		})
	}
}

// An entry without variations never covers a variation, and one with
// variations never covers a cell's digest (nor CheckCell's mismatch); a
// variation the entry does not name, or of a cell it does not match, stays
// varies; an expired entry acknowledges nothing.
func TestKnownVariationCoversOnlyWhatItNames(t *testing.T) {
	for _, tc := range []struct {
		name    string
		results []CellResult
		known   cell.KnownDivergence
		want    GroupState
		status  KnownState
	}{
		{"an entry without variations", umaskChanges([4]string{dA, dA, dA, dA}, dA), coverAll, GroupVaries, KnownNoLongerHappens},
		{"another variation", pinnedFour([4]string{dA, dA, dA, dA}, dA, map[int][]func(*CellResult){0: {variedAll(map[string]string{"setgid": dD})}}),
			knownUmask, GroupVaries, KnownNoLongerHappens},
		{"another fixture", umaskChanges([4]string{dA, dA, dA, dA}, dA),
			cell.KnownDivergence{Cells: "fixture=umask", Variations: []string{"umask"}, Reason: "r", Link: repoLink}, GroupVaries, KnownNotExercised},
		{"a cell's digest", pinnedFour([4]string{dA, dB, dA, dB}, dA, map[int][]func(*CellResult){0: {variedAll(nil)}}),
			knownUmask, GroupDisagree, KnownNoLongerHappens},
		{"expired", umaskChanges([4]string{dA, dA, dA, dA}, dA),
			cell.KnownDivergence{Cells: knownUmask.Cells, Variations: knownUmask.Variations, Reason: "r", Link: repoLink, Expires: t0.Add(-time.Hour)},
			GroupVaries, KnownExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := newRun(tc.results, []cell.KnownDivergence{tc.known})
			g := run.Verdicts.Groups[0]
			if g.State != tc.want {
				t.Fatalf("state %s, want %s:\n%s", g.State, tc.want, g.Message)
			}
			if s := run.Verdicts.Known[0]; s.State != tc.status {
				t.Errorf("known status %s (%s), want %s", s.State, s.Note, tc.status)
			}
			for _, v := range g.Variations {
				if v.Known != nil {
					t.Errorf("variation %s covered by %+v", v.Name, v.Known)
				}
			}
			if tc.known.ForVariations() && len(g.Known) != 0 {
				t.Errorf("group known %+v", g.Known)
			}
		})
	}
	mismatch := result("timestamps", "linux-amd64", "docker-28", "v0.34.2", "docker", dB, dA, pinnedAs(false))
	if v := CheckCell(mismatch, knownUmask); v.State != CellMismatch || v.Known != nil {
		t.Errorf("CheckCell: %+v", v)
	}
	expired := newRun(umaskChanges([4]string{dA, dA, dA, dA}, dA),
		[]cell.KnownDivergence{{Cells: "fixture=timestamps", Variations: []string{"umask"}, Reason: "r", Link: repoLink, Expires: t0.Add(-time.Hour)}})
	if s := expired.Verdicts.Known[0]; !strings.HasSuffix(s.Note, "and still happens: fix it or extend the expiry") {
		t.Errorf("expired note %q", s.Note)
	}
	if g := expired.Verdicts.Groups[0]; !strings.Contains(g.Message, "expired known divergence ("+repoLink+", expired 2026-05-01) names the variation umask of "+g.Cells[0].Name+": it no longer acknowledges it") {
		t.Errorf("message:\n%s", g.Message)
	}
}

// A variations-entry is active when a covered variation differed, no
// longer happens when each of its variations was rebuilt and all held, not
// exercised when none ran (or not all of them).
func TestKnownVariationStatus(t *testing.T) {
	both := cell.KnownDivergence{Cells: "fixture=timestamps", Variations: []string{"umask", "setgid"}, Reason: "r", Link: repoLink}
	onlyUmask := func(d string) func(*CellResult) {
		return func(r *CellResult) { r.Variations = []Variation{{Name: "umask", Digest: d}} }
	}
	for _, tc := range []struct {
		name    string
		results []CellResult
		state   KnownState
		note    string
	}{
		{"setgid differs", pinnedFour([4]string{dA, dA, dA, dA}, dA, map[int][]func(*CellResult){0: {variedAll(map[string]string{"setgid": dD})}}),
			KnownActive, "still happens: varying setgid changes the digest"},
		{"both differ", pinnedFour([4]string{dA, dA, dA, dA}, dA, map[int][]func(*CellResult){0: {variedAll(map[string]string{"setgid": dD, "umask": dE})}}),
			KnownActive, "still happens: varying umask, setgid changes the digest"},
		{"all held", pinnedFour([4]string{dA, dA, dA, dA}, dA, map[int][]func(*CellResult){0: {variedAll(nil)}}),
			KnownNoLongerHappens, "no longer happens: its cells were rebuilt under umask, setgid and every rebuild held; remove it"},
		{"none ran", pinnedFour([4]string{dA, dA, dA, dA}, dA, nil),
			KnownNotExercised, "none of its variations was rebuilt in this run: cannot tell whether it still happens"},
		{"only umask ran", pinnedFour([4]string{dA, dA, dA, dA}, dA, map[int][]func(*CellResult){0: {onlyUmask(dA)}}),
			KnownNotExercised, "umask held; setgid not rebuilt where it could be judged: cannot tell whether it still happens"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := newRun(tc.results, []cell.KnownDivergence{both})
			s := run.Verdicts.Known[0]
			if s.State != tc.state || s.Note != tc.note {
				t.Errorf("status %s %q, want %s %q", s.State, s.Note, tc.state, tc.note)
			}
			if run.Failed() {
				t.Errorf("the run fails:\n%s", run.Verdicts.Groups[0].Message)
			}
		})
	}
}

// The group case of junit passes, its output saying the acknowledgement.
func TestKnownVariationJUnit(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, newRun(umaskChanges([4]string{dA, dA, dA, dA}, dA), []cell.KnownDivergence{knownUmask})); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Cases []struct {
				Name      string    `xml:"name,attr"`
				Status    string    `xml:"status,attr"`
				Failure   *struct{} `xml:"failure"`
				SystemOut string    `xml:"system-out"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Failures != 0 {
		t.Errorf("%d failures", doc.Failures)
	}
	found := false
	for _, c := range doc.Suites[0].Cases {
		if c.Name != "verdicts group: fixture=timestamps/platform=linux-amd64/exporter=docker" {
			continue
		}
		found = true
		if c.Status != "passed" || c.Failure != nil || !strings.Contains(c.SystemOut, umaskKnownText) {
			t.Errorf("group case %+v", c)
		}
	}
	if !found {
		t.Error("no group case")
	}
}

func TestKnownVariationMarkdown(t *testing.T) {
	run := newRun(umaskChanges([4]string{dA, dA, dA, dA}, dA), []cell.KnownDivergence{knownUmask})
	md := markdown(t, run)
	golden(t, filepath.Join("markdown", "variations-known.md"), md)
	note := "⚠️ varying `umask` gives `sha256:dddddddddddd`, not `sha256:aaaaaaaaaaaa` " +
		"(known: its COPY has no --chmod, so the modes of a checkout under umask 002 reach the image [" + repoLink + "](" + repoLink + "))"
	for _, want := range []string{
		"# repro-matrix: ✅ PASSED",
		"1 known",
		"`umask` changed the digest in 1 of 1 group (known)",
		"| linux-amd64 · docker | ⚠️ known | 4 | `sha256:aaaaaaaaaaaa` | `sha256:aaaaaaaaaaaa` | " + note + " |",
		"**⚠️ linux-amd64 · docker: known**",
		"4 cells agree on " + dA + ", the golden digest; the image depends on the build environment as known: " + umaskKnownText,
		"| `fixture=timestamps` varied: `umask` | its COPY has no --chmod, so the modes of a checkout under umask 002 reach the image | " +
			"[" + repoLink + "](" + repoLink + ") | 2027-05-31 | ⚠️ still happens: varying umask changes the digest (1 rebuild) |",
	} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if bytes.Contains(md, []byte("Needs attention")) || bytes.Contains(md, []byte("known: [http")) {
		t.Errorf("markdown:\n%s", md)
	}
}

// Shards merged keep the acknowledgement: the merged group is known, the
// entry active, the variation covered.
func TestKnownVariationMerge(t *testing.T) {
	run := newRun(umaskChanges([4]string{dA, dA, dA, dA}, dA), []cell.KnownDivergence{knownUmask})
	// The varied cell in one shard, two of the cells it is compared with in the other.
	shards := shardsOf(run, func(r CellResult) int { return boolIndex(strings.HasPrefix(r.Axes.Engine, "podman")) })
	merged, err := Merge(shards[0], shards[1])
	if err != nil {
		t.Fatal(err)
	}
	if len(merged.Known) != 1 || !sameKnown(merged.Known[0], knownUmask) {
		t.Fatalf("merged known %+v", merged.Known)
	}
	g := merged.Verdicts.Groups[0]
	if g.Key != "fixture=timestamps/platform=linux-amd64/exporter=docker" || g.State != GroupKnown || len(g.Cells) != 4 || merged.Verdicts.Failed() {
		t.Errorf("merged group %s %s", g.Key, g.State)
	}
	if s := merged.Verdicts.Known[0]; s.State != KnownActive {
		t.Errorf("merged status %+v", s)
	}
	if !slices.ContainsFunc(g.Variations, func(v VariationCheck) bool { return v.Name == "umask" && v.Known != nil }) {
		t.Errorf("merged variations %+v", g.Variations)
	}
	// An entry that differs only in its variations is another entry.
	setgid := knownUmask
	setgid.Variations = []string{"setgid"}
	shards[1].Known = []cell.KnownDivergence{setgid}
	if merged, err = Merge(shards[0], shards[1]); err != nil || len(merged.Known) != 2 {
		t.Errorf("merged known %+v (%v)", merged.Known, err)
	}
}

// make goldens records the digest of a group whose only change is an
// acknowledged variation, and refuses it without the acknowledgement.
func TestProposeGoldensKnownVariation(t *testing.T) {
	rs := umaskChanges([4]string{dA, dB, dA, dB}, "")
	if got := ProposeGoldens(rs, "v0.19.0"); len(got) != 1 || got[0].Digest != "" || !strings.Contains(got[0].Refused, "varying umask") {
		t.Errorf("without the known divergence: %+v", got)
	}
	got := ProposeGoldens(rs, "v0.19.0", knownUmask, coverAll)
	if len(got) != 1 || got[0].Digest != dA || got[0].Refused != "" {
		t.Errorf("with it: %+v", got)
	}
}

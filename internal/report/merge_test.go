package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The shards in testdata/shards are fullRun cut in two, as a sharded run
// records them: each shard evaluated alone, with the diffs of its own pairs
// (those the unsharded run also made). Run with -update to rewrite them.
var shardings = []struct {
	name  string
	files [2]string
	which func(CellResult) int // 0 or 1
}{
	{"by fixture", [2]string{"fixture-timestamps", "fixture-umask"},
		func(r CellResult) int { return boolIndex(r.Axes.Fixture == "umask") }},
	{"by engine kind", [2]string{"kind-docker", "kind-podman"},
		func(r CellResult) int { return boolIndex(strings.HasPrefix(r.Axes.Engine, "podman")) }},
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

// shardsOf cuts run in two as a sharded run would have recorded it.
func shardsOf(run Run, which func(CellResult) int) [2]Run {
	var out [2]Run
	for i := range out {
		out[i] = Run{ID: run.ID, Profile: run.Profile, Known: run.Known,
			Started:  run.Started.Add(time.Duration(i) * 5 * time.Second),
			Finished: run.Finished.Add(-time.Duration(i) * 20 * time.Minute),
			Setup:    Durations{"engines": time.Duration(60+30*i) * time.Second, "registry": time.Duration(2-i) * time.Second}}
	}
	for _, r := range run.Results {
		s := &out[which(r)]
		s.Results = append(s.Results, r)
		s.Interrupted = s.Interrupted || r.Interrupted
	}
	diffs := map[pairKey]Pair{}
	for _, p := range run.Verdicts.Pairs() {
		diffs[keyOf(*p)] = *p
	}
	for i := range out {
		out[i].Evaluate()
		for _, p := range out[i].Verdicts.Pairs() {
			if d, ok := diffs[keyOf(*p)]; ok {
				p.Diff, p.DiffSummary, p.Hints = d.Diff, d.DiffSummary, d.Hints
			}
		}
	}
	return out
}

func readShards(t *testing.T, names [2]string) []Shard {
	t.Helper()
	var out []Shard
	for _, n := range names {
		s, err := ReadShard(filepath.Join("testdata", "shards", n+".json"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// withoutDiffs returns a copy of v without the pairs' diffs.
func withoutDiffs(v Verdicts) Verdicts {
	v.Groups = slices.Clone(v.Groups)
	for i := range v.Groups {
		v.Groups[i].Pairs = slices.Clone(v.Groups[i].Pairs)
	}
	for _, p := range v.Pairs() {
		p.Diff, p.DiffSummary, p.DiffText, p.Hints = nil, "", "", nil
	}
	return v
}

// Two shards merged give the unsharded run's verdicts. Cut by fixture, every
// group lies in one shard and keeps its diffs; cut by engine, a pair whose
// cells ran in different shards says why it has no diff.
func TestMergeShardsAsUnsharded(t *testing.T) {
	for _, sh := range shardings {
		t.Run(sh.name, func(t *testing.T) {
			for i, s := range shardsOf(fullRun(), sh.which) {
				var b bytes.Buffer
				p := filepath.Join(t.TempDir(), "r.json")
				if err := WriteJSON(p, s); err != nil {
					t.Fatal(err)
				}
				data, _ := os.ReadFile(p)
				b.Write(data)
				golden(t, filepath.Join("shards", sh.files[i]+".json"), b.Bytes())
			}
			got, err := MergeShards(readShards(t, sh.files)...)
			if err != nil {
				t.Fatal(err)
			}
			want := fullRun()
			if !got.Started.Equal(want.Started) || !got.Finished.Equal(want.Finished) || got.Interrupted != want.Interrupted {
				t.Errorf("times %v..%v interrupted %v", got.Started, got.Finished, got.Interrupted)
			}
			if jsonOf(t, got.Results) != jsonOf(t, want.Results) {
				t.Error("merged results differ from the unsharded run's")
			}
			if g, w := jsonOf(t, withoutDiffs(got.Verdicts)), jsonOf(t, withoutDiffs(want.Verdicts)); g != w {
				t.Errorf("merged verdicts differ from the unsharded run's:\n%s\nwant\n%s", g, w)
			}
			if got.Setup["engines"] != 90*time.Second || got.Setup["registry"] != 2*time.Second {
				t.Errorf("set-up %v: want the longest of each step", got.Setup)
			}
			for _, p := range got.Verdicts.Pairs() {
				crosses := p.Against != AgainstGolden && sh.which(resultNamed(want, p.Cell)) != sh.which(resultNamed(want, p.Against))
				switch {
				case crosses && p.DiffSummary != noDiffAcrossShards:
					t.Errorf("pair %s vs %s crosses shards, summary %q", p.Cell, p.Against, p.DiffSummary)
				case !crosses && p.DiffSummary != wantSummary(want, *p):
					t.Errorf("pair %s vs %s: summary %q, want the shard's", p.Cell, p.Against, p.DiffSummary)
				}
			}
		})
	}
}

func resultNamed(run Run, name string) CellResult {
	for _, r := range run.Results {
		if r.Name == name {
			return r
		}
	}
	return CellResult{}
}

func wantSummary(run Run, p Pair) string {
	for _, q := range run.Verdicts.Pairs() {
		if keyOf(*q) == keyOf(p) {
			return q.DiffSummary
		}
	}
	return "?"
}

func TestMergeShardsErrorsNameTheShards(t *testing.T) {
	shards := readShards(t, shardings[0].files)
	t.Run("duplicate", func(t *testing.T) {
		docker := readShards(t, shardings[1].files)[0]
		_, err := MergeShards(shards[0], shards[1], docker)
		cell := "fixture=timestamps/platform=linux-amd64/engine=docker-20/buildkit=v0.19.0/exporter=docker"
		if !errors.Is(err, ErrDuplicateCell) || !strings.Contains(err.Error(), cell+" (in "+shards[0].Source+", "+docker.Source+")") ||
			!strings.Contains(err.Error(), ": 9 cells: ") {
			t.Errorf("err %v", err)
		}
	})
	t.Run("many duplicates", func(t *testing.T) {
		_, err := Merge(fullRun(), fullRun())
		if strings.Count(err.Error(), " (in shard 1, shard 2)") != maxNamed || !strings.Contains(err.Error(), ": 14 cells: ") ||
			!strings.HasSuffix(err.Error(), "; and 4 more") {
			t.Errorf("want %d cells named, then a count: %v", maxNamed, err)
		}
	})
	t.Run("profile", func(t *testing.T) {
		other := shards[1]
		other.Run.Profile = "pr"
		_, err := MergeShards(shards[0], other)
		if !errors.Is(err, ErrRunMismatch) || !strings.Contains(err.Error(), other.Source+` has profile "pr", `+shards[0].Source+` has "nightly"`) {
			t.Errorf("err %v", err)
		}
	})
	t.Run("id", func(t *testing.T) {
		other := shards[1]
		other.Run.ID = "20260501-020000-abcdef"
		if _, err := MergeShards(shards[0], other); !errors.Is(err, ErrRunMismatch) || !strings.Contains(err.Error(), "id") {
			t.Errorf("err %v", err)
		}
	})
}

func TestMergeKeepsEmptyGroups(t *testing.T) {
	s := newRun(nil, nil)
	s.Evaluate(WithGroups("fixture=f/platform=linux-amd64/exporter=docker"))
	got, err := Merge(s, newRun(four([4]string{dA, dA, dA, dA}, dA), nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Verdicts.Groups) != 2 || got.Verdicts.Groups[0].State != GroupEmpty || !got.Failed() {
		t.Errorf("a group a shard reported empty was lost: %+v", got.Verdicts.Groups)
	}
}

func TestReadShard(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, text := range map[string]string{
		"garbled.json":  `{"id": "x", "results": [`,
		"empty.json":    ``,
		"null.json":     `null`,
		"object.json":   `{}`,
		"nameless.json": `{"id": "x", "results": [{"digest": "sha256:aa"}]}`,
		"missing.json":  "",
	} {
		p := filepath.Join(dir, name)
		if name != "missing.json" {
			p = write(name, text)
		}
		if _, err := ReadShard(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err %v, want one naming the file", name, err)
		}
	}
	s, err := ReadShard(filepath.Join("testdata", "results.json"))
	if err != nil || s.Source != filepath.Join("testdata", "results.json") || len(s.Run.Results) != 14 {
		t.Errorf("%v %d", err, len(s.Run.Results))
	}
}

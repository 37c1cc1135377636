package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/cell"
)

// fullRun is a run with two fixtures and most states at once, a diff
// attached to a differing pair, and engines' environment derived from cells.
func fullRun() Run {
	var rs []CellResult
	// timestamps / linux-amd64 / docker: one cell disagrees (with a diff).
	rs = append(rs, four([4]string{dA, dA, dB, dA}, dA, map[int][]func(*CellResult){1: {took(3 * time.Minute)}})...)
	// timestamps / linux-amd64 / oci: podman-4 differs, known.
	for _, e := range [][2]string{{"docker-20", "v0.19.0"}, {"docker-28", "v0.34.2"}, {"podman-4", "v0.19.0"}} {
		d := dC
		if e[0] == "podman-4" {
			d = dB
		}
		rs = append(rs, result("timestamps", "linux-amd64", e[0], e[1], "oci", d, dC))
	}
	// timestamps / linux-arm64 / docker: a failed cell and an interrupted one.
	rs = append(rs,
		result("timestamps", "linux-arm64", "docker-28", "v0.34.2", "docker", dA, dA, took(5*time.Minute)),
		result("timestamps", "linux-arm64", "podman-5", "v0.34.2", "docker", "", dA,
			failed("buildctl: exit status 1\nerror: failed to solve: process \"/bin/sh -c apt-get install -y `cat pkgs`\" did not complete successfully: exit code: 100")),
		result("timestamps", "linux-arm64", "docker-20", "v0.19.0", "docker", "", dA, interrupted),
	)
	// umask / linux-amd64 / docker: one cell only, no golden.
	rs = append(rs, result("umask", "linux-amd64", "docker-28", "v0.34.2", "docker", dC, "", took(2*time.Minute)))
	// umask / linux-amd64 / oci: agree with each other, not with golden.
	rs = append(rs,
		result("umask", "linux-amd64", "docker-28", "v0.34.2", "oci", dB, dA),
		result("umask", "linux-amd64", "podman-5", "v0.34.2", "oci", dB, dA, took(90*time.Second)),
		result("umask", "linux-amd64", "docker-28", "v0.19.0", "oci", dB, dA),
	)
	run := newRun(rs, []cell.KnownDivergence{
		{Cells: "engine=podman-4/exporter=oci", Reason: "podman 4.3 sets org.opencontainers.image.created", Link: issue, Expires: time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)},
		{Cells: "engine=docker-20/exporter=docker", Reason: "docker 20.10 drops rewrite-timestamp", Link: "https://github.com/moby/moby/issues/47000"},
	})
	run.Interrupted = true
	for _, p := range run.Verdicts.Pairs() {
		if strings.Contains(p.Cell, "engine=podman-4") && strings.Contains(p.Cell, "exporter=docker") {
			p.DiffSummary = "layer 2: file /etc/ld.so.cache differs"
			p.Hints = []string{"a RUN step writes a cache file: remove it or set SOURCE_DATE_EPOCH", "check `rewrite-timestamp=true`"}
			p.Diff = json.RawMessage(`{"manifest":{"layers":[{"index":2,"files":[{"path":"/etc/ld.so.cache","left":"sha256:11","right":"sha256:22"}]}]}}`)
		}
	}
	return run
}

func TestMarkdownGolden(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			run := newRun(sc.results, sc.known)
			golden(t, filepath.Join("markdown", sc.name+".md"), markdown(t, run))
		})
	}
	t.Run("full", func(t *testing.T) {
		golden(t, filepath.Join("markdown", "full.md"), markdown(t, fullRun()))
	})
}

func TestMarkdownContent(t *testing.T) {
	md := string(markdown(t, fullRun()))
	for _, want := range []string{
		"# repro-matrix: ⏸ INTERRUPTED (failed)",
		"| `docker-28` · `v0.34.2` | ✅ `sha256:aaaaaaaaaaaa` |",
		"❌ `sha256:bbbbbbbbbbbb`",
		"💥 build failed",
		"⏸ interrupted",
		"⚠️ `sha256:bbbbbbbbbbbb` (known)",
		"[moby/buildkit#4242](https://github.com/moby/buildkit/issues/4242)",
		"only one cell: nothing to compare",
		"no longer happens",
		"<details><summary><code>podman-4 · v0.19.0 sha256:bbbbbbbbbbbb</code> vs <code>docker-20 · v0.19.0 sha256:aaaaaaaaaaaa</code>: layer 2: file /etc/ld.so.cache differs</summary>",
		"\"path\": \"/etc/ld.so.cache\"",
		"| `engine_version` | 20.10.24 | 28.5.2 | 4.3.1 | 5.4.2 |",
		"## Slowest cells",
		"| `fixture=timestamps/platform=linux-arm64/engine=docker-28/buildkit=v0.34.2/exporter=docker` | 5m0s |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if !strings.Contains(md, "| `buildkit_version` | 0.19.0 | (varies by cell) | 0.19.0 | 0.34.2 |") {
		t.Error("a per-cell value must show as varying in an engine's environment")
	}
	// A failed build's text is fenced with a fence longer than its backticks.
	if !strings.Contains(md, "```text\nbuildctl: exit status 1\n") {
		t.Error("failed cell's error text not shown")
	}
}

func TestEnginesFromRun(t *testing.T) {
	run := newRun(four([4]string{dA, dA, dA, dA}, dA), nil)
	run.Engines = map[string]map[string]string{"docker-28": {"engine_version": "28.5.2", "cgroup": "v1|hybrid"}}
	md := string(markdown(t, run))
	if !strings.Contains(md, "| `cgroup` | v1\\|hybrid |") || strings.Contains(md, "podman-4") && strings.Contains(md, "| | `docker-28` | `podman-4`") {
		t.Errorf("explicit engines not used:\n%s", md)
	}
}

func TestDeterminism(t *testing.T) {
	base := fullRun()
	var mds, jsons [][]byte
	dir := t.TempDir()
	for i := range 5 {
		run := fullRun()
		r := rand.New(rand.NewPCG(uint64(i), 7))
		r.Shuffle(len(run.Results), func(a, b int) { run.Results[a], run.Results[b] = run.Results[b], run.Results[a] })
		run.Verdicts = base.Verdicts // keep the attached diffs
		mds = append(mds, markdown(t, run))
		p := filepath.Join(dir, "results.json")
		if err := WriteJSON(p, run); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		jsons = append(jsons, b)
		// Evaluating shuffled input gives the same verdicts too.
		run.Verdicts = Verdicts{}
		run.Evaluate()
		a, _ := json.Marshal(run.Verdicts)
		want := fullRun()
		for _, p := range want.Verdicts.Pairs() {
			p.Diff, p.DiffSummary, p.Hints = nil, "", nil
		}
		w, _ := json.Marshal(want.Verdicts)
		if !bytes.Equal(a, w) {
			t.Errorf("shuffle %d: verdicts differ", i)
		}
	}
	for i := 1; i < len(mds); i++ {
		if !bytes.Equal(mds[0], mds[i]) {
			t.Errorf("markdown %d differs", i)
		}
		if !bytes.Equal(jsons[0], jsons[i]) {
			t.Errorf("json %d differs", i)
		}
	}
	golden(t, "results.json", jsons[0])
}

func TestJSONRoundTrip(t *testing.T) {
	run := fullRun()
	p := filepath.Join(t.TempDir(), "sub", "results.json")
	if err := WriteJSON(p, run); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJSON(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Wall != 42*time.Minute+10*time.Second {
		t.Errorf("wall %v", got.Wall)
	}
	if d := got.Results[0].Timings["analyze"]; d != 1500*time.Millisecond {
		t.Errorf("timings %v", got.Results[0].Timings)
	}
	if !got.Interrupted || len(got.Known) != 2 || got.Known[0].Link != issue {
		t.Errorf("round trip lost fields: %+v", got.Known)
	}
	a, _ := json.Marshal(run.Verdicts)
	b, _ := json.Marshal(got.Verdicts)
	if !bytes.Equal(a, b) {
		t.Error("verdicts differ after a round trip")
	}
	// The known divergences come back as patterns and evaluate the same.
	got.Evaluate()
	for i, k := range got.Verdicts.Known {
		if k.State != run.Verdicts.Known[i].State {
			t.Errorf("known %d: %s, want %s", i, k.State, run.Verdicts.Known[i].State)
		}
	}
	raw, _ := os.ReadFile(p)
	for _, want := range []string{`"wall_seconds": 2530`, `"analyze": 1.5`, `"state": "disagree"`, `"outcome": "fail"`} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("json lacks %s", want)
		}
	}
}

func TestWritersEvaluateWhenNeeded(t *testing.T) {
	run := Run{ID: "x", Results: four([4]string{dA, dA, dB, dA}, dA)}
	if !run.Failed() {
		t.Error("an unevaluated run with a disagreement must fail")
	}
	md := string(markdown(t, run))
	if !strings.Contains(md, "❌ FAILED") || !strings.Contains(md, "disagree") {
		t.Errorf("not evaluated:\n%s", md)
	}
	if !(Run{}).Failed() {
		t.Error("a run without results must fail")
	}
}

func TestStepSummary(t *testing.T) {
	run := newRun(four([4]string{dA, dA, dA, dA}, dA), nil)
	t.Run("unset", func(t *testing.T) {
		t.Setenv(StepSummaryEnv, "")
		if err := AppendStepSummary(run); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("append", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "step_summary.md")
		if err := os.WriteFile(p, []byte("## earlier step\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Setenv(StepSummaryEnv, p)
		for range 2 {
			if err := AppendStepSummary(run); err != nil {
				t.Fatal(err)
			}
		}
		got, _ := os.ReadFile(p)
		md := markdown(t, run)
		want := "## earlier step\n\n" + string(md) + "\n" + string(md)
		if string(got) != want {
			t.Errorf("step summary:\n%s", got)
		}
	})
	t.Run("unwritable", func(t *testing.T) {
		t.Setenv(StepSummaryEnv, filepath.Join(t.TempDir(), "missing", "summary.md"))
		if err := AppendStepSummary(run); err == nil {
			t.Error("no error for a summary file in a missing folder")
		}
	})
}

func TestFitSummary(t *testing.T) {
	run := fullRun()
	full := renderMarkdown(run, false)
	compact := renderMarkdown(run, true)
	if len(compact) >= len(full) || bytes.Contains(compact, []byte("<details>")) {
		t.Fatalf("compact rendering keeps details")
	}
	if got := fitSummary(run, len(full)); !bytes.Equal(got, full) {
		t.Error("a summary that fits must be whole")
	}
	if got := fitSummary(run, len(full)-1); !bytes.Equal(got, compact) {
		t.Error("a summary that does not fit must drop its details first")
	}
	got := fitSummary(run, len(compact)/2)
	if len(got) > len(compact)/2 || !bytes.HasSuffix(got, []byte(cutNote)) || !bytes.HasPrefix(got, []byte("# repro-matrix")) {
		t.Errorf("cut summary (%d bytes):\n%s", len(got), got)
	}
	if got := fitSummary(run, 10); got != nil {
		t.Errorf("no room: %q", got)
	}
}

func TestAtomicWrite(t *testing.T) {
	run := newRun(four([4]string{dA, dA, dA, dA}, dA), nil)
	noTemp := func(t *testing.T, dir string) {
		t.Helper()
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if strings.Contains(e.Name(), ".tmp-") {
				t.Errorf("temporary file left: %s", e.Name())
			}
		}
	}
	t.Run("ok", func(t *testing.T) {
		dir := t.TempDir()
		for _, write := range []func(string, Run) error{WriteJSON, WriteMarkdownFile} {
			p := filepath.Join(dir, "out")
			if err := write(p, run); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(p)
			if err != nil || st.Mode().Perm() != 0o644 {
				t.Errorf("stat %v %v", st.Mode(), err)
			}
		}
		noTemp(t, dir)
	})
	t.Run("rename fails", func(t *testing.T) {
		// The target is a directory: the rename fails after the temporary
		// file was written, which must then be removed.
		dir := t.TempDir()
		target := filepath.Join(dir, "results.json")
		if err := os.Mkdir(target, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := WriteJSON(target, run); err == nil {
			t.Error("no error")
		}
		if err := WriteMarkdownFile(target, run); err == nil {
			t.Error("no error")
		}
		noTemp(t, dir)
	})
	t.Run("parent is a file", func(t *testing.T) {
		dir := t.TempDir()
		file := filepath.Join(dir, "file")
		if err := os.WriteFile(file, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := WriteJSON(filepath.Join(file, "results.json"), run); err == nil {
			t.Error("no error")
		}
		noTemp(t, dir)
	})
	t.Run("encode fails", func(t *testing.T) {
		dir := t.TempDir()
		bad := run
		bad.Verdicts.Groups = slices.Clone(run.Verdicts.Groups)
		bad.Verdicts.Groups[0].Pairs = []Pair{{Diff: json.RawMessage("{not json")}}
		p := filepath.Join(dir, "results.json")
		if err := WriteJSON(p, bad); err == nil {
			t.Error("no error")
		}
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a file was written: %v", err)
		}
		noTemp(t, dir)
	})
}

func TestMerge(t *testing.T) {
	rs := four([4]string{dA, dA, dB, dA}, dA)
	known := []cell.KnownDivergence{{Cells: "engine=podman-4", Link: issue}}
	shard := func(i int, cells ...CellResult) Run {
		return Run{
			ID: "nightly", Profile: "nightly", Started: t0.Add(time.Duration(i) * time.Second),
			Finished: t0.Add(time.Duration(10+i) * time.Minute), Results: cells, Known: known,
			Engines:  map[string]map[string]string{cells[0].Axes.Engine: {"engine_version": "x"}},
			Verdicts: Evaluate(cells, known, WithNow(t0)),
		}
	}
	t.Run("ok", func(t *testing.T) {
		s2 := shard(2, rs[3], rs[1])
		s2.Interrupted = true
		m, err := Merge(shard(1, rs[2], rs[0]), s2)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range m.Results {
			names = append(names, r.Name)
		}
		if !slices.IsSorted(names) || len(names) != 4 {
			t.Errorf("results %v", names)
		}
		if !m.Started.Equal(t0.Add(time.Second)) || !m.Finished.Equal(t0.Add(12*time.Minute)) || !m.Interrupted {
			t.Errorf("times %v %v %v", m.Started, m.Finished, m.Interrupted)
		}
		if len(m.Known) != 1 || len(m.Engines) != 2 {
			t.Errorf("known %d engines %v", len(m.Known), m.Engines)
		}
		if len(m.Verdicts.Groups) != 1 || m.Verdicts.Groups[0].State != GroupKnown || len(m.Verdicts.Groups[0].Cells) != 4 {
			t.Errorf("merged verdicts %+v", m.Verdicts.Groups)
		}
	})
	t.Run("duplicates", func(t *testing.T) {
		_, err := Merge(shard(1, rs[0], rs[1]), shard(2, rs[1], rs[2], rs[0]))
		if !errors.Is(err, ErrDuplicateCell) || !strings.Contains(err.Error(), rs[0].Name) || !strings.Contains(err.Error(), rs[1].Name) {
			t.Errorf("err %v", err)
		}
	})
	t.Run("different runs", func(t *testing.T) {
		other := shard(2, rs[1])
		other.ID = "pr-check"
		if _, err := Merge(shard(1, rs[0]), other); !errors.Is(err, ErrRunMismatch) {
			t.Errorf("err %v", err)
		}
	})
	t.Run("nothing", func(t *testing.T) {
		m, err := Merge()
		if err != nil || !m.Failed() || m.Verdicts.Groups[0].State != GroupEmpty {
			t.Errorf("%v %+v", err, m.Verdicts)
		}
	})
}

func TestNatural(t *testing.T) {
	in := []string{"v0.34.2", "v0.9.0", "v0.19.0", "docker-28", "docker-20", "v0.19.0-rc1"}
	slices.SortFunc(in, natural)
	want := []string{"docker-20", "docker-28", "v0.9.0", "v0.19.0", "v0.19.0-rc1", "v0.34.2"}
	if !slices.Equal(in, want) {
		t.Errorf("%v", in)
	}
	if ShortDigest(dA) != "sha256:aaaaaaaaaaaa" || ShortDigest("") != "" {
		t.Error("ShortDigest")
	}
}

func TestMarkdownShowsSetUpTimings(t *testing.T) {
	run := Run{ID: "r", Results: []CellResult{{Name: "fixture=f/platform=linux-amd64/engine=e/buildkit=b/exporter=docker",
		Axes: cell.Coords{Fixture: "f", Platform: "linux-amd64", Engine: "e", BuildKit: "b", Exporter: "docker"}, Digest: "sha256:" + strings.Repeat("a", 64)}},
		Setup: Durations{"engines": 90 * time.Second, "buildkit-images": 12 * time.Second}}
	var b strings.Builder
	if err := WriteMarkdown(&b, run); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "set-up: buildkit-images 12s · engines 1m30s") {
		t.Errorf("no set-up line:\n%s", b.String())
	}
}

func TestOriginsListedOncePerImage(t *testing.T) {
	pulled := "pulled docker.io/moby/buildkit:v0.19.0@sha256:" + strings.Repeat("a", 64)
	results := []CellResult{
		{Axes: cell.Coords{BuildKit: "v0.19.0", Engine: "docker-20.10.24"}, Env: map[string]string{EnvBuildKitOrigin: pulled, EnvEngineOrigin: "host"}},
		{Axes: cell.Coords{BuildKit: "v0.19.0", Engine: "docker-26.1.5", Fixture: "add-user", Platform: "linux-amd64"},
			Env: map[string]string{EnvBuildKitOrigin: pulled, EnvEngineOrigin: "built from debian trixie docker.io", EnvBaseOrigin: "built from debian bookworm amd64 (mmdebstrap)"}},
		{Axes: cell.Coords{BuildKit: "v0.26.3", Engine: "docker-26.1.5"}}, // failed before its environment was read
	}
	got := origins(results)
	want := []string{"base of fixture=add-user (linux-amd64): built from debian bookworm amd64 (mmdebstrap)",
		"buildkit=v0.19.0: " + pulled, "engine=docker-26.1.5: built from debian trixie docker.io"}
	if !slices.Equal(got, want) {
		t.Errorf("origins:\n got %q\nwant %q", got, want)
	}
	md := string(renderMarkdown(Run{Results: results}, false))
	if !strings.Contains(md, "Where the images came from (3)") || !strings.Contains(md, "buildkit=v0.19.0") {
		t.Errorf("summary lacks the images' origins:\n%s", md)
	}
}

package matrix

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// laughs is an alias bomb: levels of lists, each holding width aliases of
// the level below, the first being leaf; use says where the top is used.
func laughs(leaf string, levels, width int, use string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "l0: &l0 %s\n", leaf)
	for i := 1; i <= levels; i++ {
		items := slices.Repeat([]string{fmt.Sprintf("*l%d", i-1)}, width)
		fmt.Fprintf(&b, "l%d: &l%d [%s]\n", i, i, strings.Join(items, ", "))
	}
	return b.String() + strings.ReplaceAll(use, "TOP", fmt.Sprintf("*l%d", levels))
}

// Other members of the merge-key bomb's kind: alias and merge bombs of
// other shapes and sizes, nesting too deep, too many aliases, aliases that
// contain themselves, files too large. Each is refused with the limit it
// exceeds, after work proportional to its text (a counter, not a clock).
func TestHostileYAMLRefused(t *testing.T) {
	var mergeMaps strings.Builder // each level merges ten aliases of the one below
	mergeMaps.WriteString("m0: &m0 {kind: docker}\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&mergeMaps, "m%d: &m%d {<<: [%s], k%d: x}\n", i, i, strings.Join(slices.Repeat([]string{fmt.Sprintf("*m%d", i-1)}, 10), ", "), i)
	}
	mergeMaps.WriteString("engines: [*m9]\n")
	var aliasDepth strings.Builder // each level nests the one below once more
	aliasDepth.WriteString("d0: &d0 [x]\n")
	for i := 1; i <= 70; i++ {
		fmt.Fprintf(&aliasDepth, "d%d: &d%d [*d%d]\n", i, i, i-1)
	}
	tests := map[string]struct {
		text, key string
	}{
		"sample, one level more":  {laughs("{kind: docker}", 8, 10, "engines:\n  - <<: TOP\n    version: 1.2.3\n"), "nodes"},
		"sample, four more":       {laughs("{kind: docker}", 11, 10, "engines:\n  - <<: TOP\n"), "nodes"},
		"list laughs":             {laughs("lol", 9, 10, "engines: TOP\n"), "nodes"},
		"wide laughs":             {laughs("lol", 3, 60, "profiles: {p: {engines: TOP}}\n"), "nodes"},
		"mapping laughs":          {laughs("{a: b, c: d}", 6, 10, "x: TOP\n"), "nodes"},
		"unused anchor":           {laughs("lol", 7, 10, ""), "nodes"},
		"merges of merges":        {mergeMaps.String(), "nodes"},
		"flow nesting":            {"engines: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n", "depth"},
		"block nesting":           {blockNest(80), "depth"},
		"nesting through aliases": {aliasDepth.String(), "depth"},
		"many aliases":            {"a: &a x\nb: [" + strings.Repeat("*a, ", 1001) + "*a]\n", "aliases"},
		"large file":              {"# " + strings.Repeat("x", int(DefaultLimits.Bytes)) + "\n", "bytes"},
		"many plain nodes":        {"x: [" + strings.Repeat("a,", DefaultLimits.Nodes) + "a]\n", "nodes"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Load(writeMatrix(t, tt.text), WithNow(testNow))
			var lerr *LimitError
			if !errors.As(err, &lerr) || !errors.Is(err, ErrLimit) || lerr.Key != tt.key {
				t.Fatalf("want a LimitError on %s, got %T: %v", tt.key, err, err)
			}
			if !strings.Contains(err.Error(), "matrix.yaml") || !strings.Contains(err.Error(), LimitsEnv+"="+tt.key+"=N") {
				t.Errorf("the error does not name the file and how to raise the limit: %v", err)
			}
			if tt.key == "nodes" || tt.key == "depth" {
				assertBoundedWork(t, []byte(tt.text), tt.key)
			}
		})
	}
}

func blockNest(depth int) string {
	var b strings.Builder
	for i := range depth {
		fmt.Fprintf(&b, "%sk%d:\n", strings.Repeat(" ", i), i)
	}
	return b.String() + strings.Repeat(" ", depth) + "x\n"
}

func TestAliasThatContainsItself(t *testing.T) {
	for _, text := range []string{"a: &x [*x]\nengines: *x\n", "a: &x {<<: *x}\n", "a: &x {b: [{c: *x}]}\n"} {
		_, err := Load(writeMatrix(t, text))
		var serr *SyntaxError
		if !errors.As(err, &serr) || serr.Line != 1 || !strings.Contains(serr.Msg, "the alias *x stands for a node that contains it") {
			t.Errorf("%q: got %v", text, err)
		}
	}
}

// A limit raised with WithLimits or REPRO_MATRIX_LIMITS lets a file through;
// a malformed variable is an error naming it.
func TestLimitsCanBeRaised(t *testing.T) {
	text := blockBase + laughs("lol", 5, 10, "")[len("l0: &l0 lol\n"):] // unknown fields l1..l5
	text = strings.Replace(text, "l1: &l1 [", "l0: &l0 lol\nl1: &l1 [", 1)
	file := writeMatrix(t, text)
	var lerr *LimitError
	if _, err := Load(file); !errors.As(err, &lerr) || lerr.Key != "nodes" {
		t.Fatalf("want a LimitError on nodes, got %v", err)
	}
	_, err := Load(file, WithLimits(Limits{Nodes: 200000}))
	if got := validationErrors(t, err).Fields(); len(got) != 6 { // l0 to l5 are unknown fields
		t.Errorf("with nodes raised: %v", err)
	}
	t.Setenv(LimitsEnv, "nodes=200000, depth=10")
	if _, err := Load(file); !errors.Is(err, ErrInvalid) {
		t.Errorf("with %s: %v", LimitsEnv, err)
	}
	t.Setenv(LimitsEnv, "depth=3")
	if _, err := Load(file); !errors.As(err, &lerr) || lerr.Key != "depth" {
		t.Errorf("with depth=3: %v", err)
	}
	for _, bad := range []string{"nodes", "nodes=x", "nodes=-1", "nodez=1"} {
		t.Setenv(LimitsEnv, bad)
		if _, err := Load(file); err == nil || !strings.Contains(err.Error(), LimitsEnv) {
			t.Errorf("%s=%s: %v", LimitsEnv, bad, err)
		}
	}
}

// Expanding the profiles is bounded too: the cells of the whole matrix,
// once per profile and once more per include or exclude pattern.
func TestCellChecksLimit(t *testing.T) {
	file := writeMatrix(t, replaceOnce(t, blockBase, "    procs: 0\n", "    procs: 0\n  more: {include: [engine=d*, fixture=f]}\n"))
	if _, err := Load(file, WithNow(testNow), WithLimits(Limits{Cells: 4})); err != nil {
		t.Fatalf("4 checks: %v", err) // 1 cell: 1 for all, 3 for more
	}
	_, err := Load(file, WithNow(testNow), WithLimits(Limits{Cells: 3}))
	var lerr *LimitError
	if !errors.As(err, &lerr) || lerr.Key != "cells" || !strings.Contains(err.Error(), "4 cell checks") {
		t.Errorf("3 checks: %v", err)
	}
}

// LoadContext returns as soon as its context is cancelled, even while the
// file blocks (a FIFO nobody writes), and with the context's error.
func TestLoadCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := LoadContext(ctx, filepath.Join("testdata", "valid.yaml")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before: %v", err)
	}
	fifo := filepath.Join(t.TempDir(), "matrix.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { // let the reader that was left behind end
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := LoadContext(ctx, fifo); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), fifo) {
		t.Errorf("cancelled while reading: %v", err)
	}
	// The bounds check stops at a cancelled context too.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	root, err := parseDocument(ctx, "f", []byte("x: ["+strings.Repeat("a,", 3000)+"a]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checkBounds(ctx, "f", root, DefaultLimits); !errors.Is(err, context.Canceled) {
		t.Errorf("checkBounds: %v", err)
	}
}

// golden.yaml is read under the same limits and encoding rules, and a
// Dockerfile that is not a regular file is refused without being read.
func TestFixtureFilesBounded(t *testing.T) {
	file := writeMatrix(t, blockBase)
	golden := filepath.Join(filepath.Dir(file), "fixtures", "f", "golden.yaml")
	for text, want := range map[string]string{
		"linux/amd64/docker: caf\xe9\n": "line 1, column 24: byte 0xE9 is not UTF-8",
		"a: [\n":                        "line 1: not YAML",
		laughs("x", 6, 10, ""):          "limit nodes=50000",
		strings.Repeat("#", 300000):     "limit bytes=262144",
	} {
		if err := os.WriteFile(golden, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(file, WithNow(testNow))
		verrs := validationErrors(t, err)
		if !slices.Equal(verrs.Fields(), []string{"fixtures[0].goldens"}) || !strings.Contains(err.Error(), want) {
			t.Errorf("want one problem at fixtures[0].goldens saying %q; got:\n%v", want, err)
		}
	}
	if err := os.Remove(golden); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(filepath.Dir(golden), "Dockerfile.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	_, err := Load(writeMatrix(t, replaceOnce(t, blockBase, "    sourceDateEpoch: 0\n", "    sourceDateEpoch: 0\n    dir: "+filepath.Dir(fifo)+"\n    dockerfile: Dockerfile.fifo\n")), WithNow(testNow))
	verrs := validationErrors(t, err)
	if !slices.Equal(verrs.Fields(), []string{"fixtures[0].dockerfile"}) || !strings.Contains(err.Error(), "is not a regular file") {
		t.Errorf("a FIFO as Dockerfile: %v", err)
	}
}

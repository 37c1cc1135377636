package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/repro-matrix/repro-matrix/internal/imagediff"
	it "github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

// diffResult is what one in-process run of `repro-matrix diff` produced.
type diffResult struct {
	code   int
	stdout string
	err    error
}

// diffRun runs the root command in process with args, and maps its error
// to an exit code as main does.
func diffRun(t *testing.T, args ...string) diffResult {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"diff"}, args...))
	err := root.ExecuteContext(context.Background())
	code := exitOK
	if err != nil {
		code = exitUsage
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
	}
	return diffResult{code: code, stdout: out.String(), err: err}
}

func (r diffResult) want(t *testing.T, code int, texts ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d (err %v)\n%s", r.code, code, r.err, r.stdout)
	}
	all := r.stdout
	if r.err != nil {
		all += "\n" + r.err.Error()
	}
	for _, w := range texts {
		if !strings.Contains(all, w) {
			t.Errorf("output lacks %q:\n%s", w, all)
		}
	}
}

func diffEntries() []it.Entry {
	return []it.Entry{
		it.Dir("etc/"),
		it.File("etc/hostname", "box\n"),
		it.File("etc/os-release", "ID=test\n"),
		it.Dir("usr/"), it.Dir("usr/bin/"),
		it.File("usr/bin/app", "#!/bin/sh\necho hi\n").With(func(h *tar.Header) { h.Mode = 0o755 }),
	}
}

func diffImage(edit func(img *it.Image)) *it.Store {
	img := it.Image{Layers: []it.Layer{{Entries: diffEntries()}}}
	if edit != nil {
		edit(&img)
	}
	return it.MustBuild(it.Index{Images: []it.Image{img}})
}

// writeImage writes s as an OCI layout tarball (kind "tar") or directory.
func writeImage(t *testing.T, s *it.Store, kind string) string {
	t.Helper()
	dir := t.TempDir()
	if kind == "dir" {
		p := filepath.Join(dir, "layout")
		if err := s.WriteLayout(p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := filepath.Join(dir, "image.tar")
	if err := s.WriteTar(p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDiffCLIEqual(t *testing.T) {
	a := writeImage(t, diffImage(nil), "tar")
	b := writeImage(t, diffImage(nil), "dir")
	diffRun(t, a, b).want(t, exitOK, "identical")
	diffRun(t, "--semantic", a, b).want(t, exitOK, "identical")
}

func TestDiffCLIContentDiffers(t *testing.T) {
	a := writeImage(t, diffImage(nil), "tar")
	b := writeImage(t, diffImage(func(img *it.Image) {
		img.Layers[0].Entries[2] = it.File("etc/os-release", "ID=other\n")
	}), "tar")
	r := diffRun(t, a, b)
	r.want(t, exitMismatch, "semantically differs in 1 layer entry", "! /etc/os-release: size 8 ≠ 9; content", "images differ (strict verdict)")
	diffRun(t, "--semantic", a, b).want(t, exitMismatch, "images differ (semantic verdict)")
}

func TestDiffCLISemanticOnlyDifference(t *testing.T) {
	a := writeImage(t, diffImage(nil), "tar")
	b := writeImage(t, diffImage(func(img *it.Image) {
		img.Docker = true
		img.Config = func(c map[string]any) { c["created"] = "2024-06-01T00:00:00Z" }
	}), "dir")
	diffRun(t, a, b).want(t, exitMismatch, "semantically equal", "[oci-mediatypes]", "[created-epoch]", "fix: ")
	r := diffRun(t, "--semantic", a, b)
	r.want(t, exitOK, "semantically equal")
	if strings.Contains(r.stdout, "created:") {
		t.Errorf("--semantic shows strict-only differences:\n%s", r.stdout)
	}
}

func TestDiffCLIJSON(t *testing.T) {
	a := writeImage(t, diffImage(nil), "tar")
	b := writeImage(t, diffImage(func(img *it.Image) {
		img.Layers[0].Entries[1] = it.File("etc/hostname", "other\n")
	}), "tar")
	r := diffRun(t, "--json", a, b)
	r.want(t, exitMismatch)
	var res imagediff.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if res.Equal || res.SemanticEqual || res.Strict.Entry != 1 || res.A.Name != a {
		t.Fatalf("%+v", res)
	}
}

func TestDiffCLIMax(t *testing.T) {
	var es []it.Entry
	for i := range 30 {
		es = append(es, it.File("f/"+string(rune('a'+i%26))+strings.Repeat("x", i/26), "v"))
	}
	edited := func(img *it.Image) {
		img.Layers[0].Entries = nil
		for i, e := range es {
			e.Body = []byte(string(rune('0' + i%10)))
			if i%2 == 0 {
				e.Header.Uid = i
			}
			img.Layers[0].Entries = append(img.Layers[0].Entries, e)
		}
	}
	a := writeImage(t, diffImage(func(img *it.Image) { img.Layers[0].Entries = es }), "tar")
	b := writeImage(t, diffImage(edited), "tar")
	r := diffRun(t, "--max", "2", a, b)
	r.want(t, exitMismatch, "… and ", "more difference")
	full := diffRun(t, "--max", "0", a, b)
	if strings.Contains(full.stdout, "more difference") {
		t.Errorf("--max 0 should show all:\n%s", full.stdout)
	}
}

func TestDiffCLISourceDateEpoch(t *testing.T) {
	a := writeImage(t, diffImage(nil), "tar")
	b := writeImage(t, diffImage(func(img *it.Image) {
		img.Layers[0].Entries[1].Header.ModTime = time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	}), "tar")
	diffRun(t, "--source-date-epoch", "1706745600", a, b).want(t, exitMismatch, "[mtime-from-source]") // 2024-02-01: not newer
	diffRun(t, "--source-date-epoch", "2024-01-15T00:00:00Z", a, b).want(t, exitMismatch, "[mtime-after-epoch]")
	t.Setenv("SOURCE_DATE_EPOCH", "1704067200") // 2024-01-01
	diffRun(t, a, b).want(t, exitMismatch, "[mtime-after-epoch]")
}

func TestDiffCLIUnusableInput(t *testing.T) {
	good := writeImage(t, diffImage(nil), "tar")
	dir := t.TempDir()
	notArchive := filepath.Join(dir, "notes.txt")
	os.WriteFile(notArchive, []byte(strings.Repeat("hello\n", 200)), 0o644)

	// A layer blob that is gzip in name but corrupt inside, in a sound layout.
	corrupt := writeImage(t, diffImage(func(img *it.Image) {
		img.Layers[0] = it.Layer{Raw: it.Bytes(append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, bytes.Repeat([]byte{0xaa}, 600)...)),
			MediaType: ocispec.MediaTypeImageLayerGzip}
	}), "tar")
	notTar := writeImage(t, diffImage(func(img *it.Image) {
		img.Layers[0] = it.Layer{Raw: it.Bytes(bytes.Repeat([]byte("not a tar\n"), 200)), MediaType: ocispec.MediaTypeImageLayer}
	}), "dir")

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"one argument", []string{good}, "needs two images"},
		{"three arguments", []string{good, good, good}, "needs two images"},
		{"missing file", []string{good, filepath.Join(dir, "nope.tar")}, "image B"},
		{"not an archive", []string{notArchive, good}, "image A"},
		{"corrupt gzip layer", []string{good, corrupt}, "unreadable layer"},
		{"layer not a tar", []string{notTar, good}, "not a tar stream"},
		{"bad flag", []string{"--nope", good, good}, "unknown flag"},
		{"bad epoch", []string{"--source-date-epoch", "yesterday", good, good}, "--source-date-epoch"},
		{"negative max", []string{"--max", "-1", good, good}, "--max"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			diffRun(t, tc.args...).want(t, exitUsage, tc.want)
		})
	}
}

// TestDiffCLIDamaged is the bad-input campaign's check (issue 10, cases
// README "damaged/"): for every sample, whenever analyze exits 2, diff
// exits 2 too, whichever side it is on, under every verdict and output,
// naming the side and the bad blob. A sound sample is compared, fast: the
// one whose layer holds a 1 TiB sparse file in well under a second.
func TestDiffCLIDamaged(t *testing.T) {
	samples, _ := filepath.Glob("../../internal/imagediff/testdata/damaged/*.tar")
	good := "../../internal/imagediff/testdata/damaged/good.tar"
	if len(samples) < 5 {
		t.Fatalf("samples: %v", samples)
	}
	for _, p := range samples {
		t.Run(filepath.Base(p), func(t *testing.T) {
			analyze := runCLI(t, "analyze", p)
			for _, flags := range [][]string{nil, {"--semantic"}, {"--json"}} {
				for side, pair := range map[string][2]string{"B": {good, p}, "A": {p, good}} {
					start := time.Now()
					r := runCLI(t, append(append([]string{"diff"}, flags...), pair[0], pair[1])...)
					if el := time.Since(start); el > 2*time.Second {
						t.Errorf("diff %v took %s", flags, el)
					}
					want := exitMismatch
					if filepath.Base(p) == "good.tar" {
						want = exitOK
					}
					if analyze.code == exitUsage {
						checkDamaged(t, r, side, p, flags)
					} else if r.code != want {
						t.Errorf("diff %v, sound image as %s: exit %d, want %d: %s", flags, side, r.code, want, r.stderr)
					}
				}
			}
		})
	}
}

// checkDamaged asserts a diff run refused a damaged side, naming it.
func checkDamaged(t *testing.T, r cliResult, side, path string, flags []string) {
	t.Helper()
	want := "image " + side + " (" + path + ") is damaged: blob sha256:"
	if r.code != exitUsage || !strings.Contains(r.stderr, want) {
		t.Errorf("diff %v with %s as %s: exit %d, want 2 and %q\n%s%s", flags, filepath.Base(path), side, r.code, want, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "identical") || strings.Contains(r.stdout, "equal") {
		t.Errorf("diff %v printed a verdict for a damaged image:\n%s", flags, r.stdout)
	}
}

// TestDiffCLIDamagedDirectory: a layout directory is verified the same way.
func TestDiffCLIDamagedDirectory(t *testing.T) {
	s := diffImage(nil)
	dir := writeImage(t, s, "dir")
	layer := s.ParsedManifest(0).Layers[0].Digest
	if err := os.Remove(filepath.Join(dir, "blobs", "sha256", layer.Encoded())); err != nil {
		t.Fatal(err)
	}
	a := writeImage(t, s, "tar")
	for _, flags := range [][]string{nil, {"--semantic"}} {
		r := diffRun(t, append(flags, a, dir)...)
		r.want(t, exitUsage, "image B ("+dir+") is damaged", layer.String(), "blob missing")
	}
}

// TestDiffCLICases runs the images/ cases of issue 10's cases README
// through the command, with the exit codes it gives as right answers
// (tarballs copied into internal/imagediff/testdata/cases).
func TestDiffCLICases(t *testing.T) {
	c := func(p string) string {
		return filepath.Join("..", "..", "internal", "imagediff", "testdata", "cases", p)
	}
	for _, tc := range []struct {
		args  []string
		code  int
		texts []string
	}{
		{[]string{"--semantic", c("whiteout-vs-squashed/a-two-layers-whiteouts.tar"), c("whiteout-vs-squashed/b-squashed.tar")}, exitOK,
			[]string{"semantically equal"}},
		{[]string{c("whiteout-vs-squashed/a-two-layers-whiteouts.tar"), c("whiteout-vs-squashed/b-squashed.tar")}, exitMismatch,
			[]string{"layers: 2 ≠ 1", "layers differ, the filesystems they make are equal"}},
		{[]string{"--semantic", c("whiteout-mtime/a-whiteouts-at-epoch.tar"), c("whiteout-mtime/b-whiteouts-at-build-time.tar")}, exitOK, nil},
		{[]string{c("whiteout-mtime/a-whiteouts-at-epoch.tar"), c("whiteout-mtime/b-whiteouts-at-build-time.tar")}, exitMismatch,
			[]string{"/etc/.wh.junk: mtime", "[whiteout-mtime]"}},
		{[]string{c("arm64-v8-pairing/a-arm64-v8.tar"), c("arm64-v8-pairing/c-arm64-novariant-changed.tar")}, exitMismatch,
			[]string{"descriptor.platform.variant: v8 ≠ (none)", "! /arch.txt"}},
		{[]string{c("arm64-v8-pairing/a-arm64-v8.tar"), c("arm64-v8-pairing/b-arm64-novariant.tar")}, exitMismatch,
			[]string{"differs in 1 manifest field (strict); semantically equal"}},
		{[]string{"--semantic", c("zstd-chunked/a-gzip.tar"), c("zstd-chunked/b-zstd-chunked.tar")}, exitOK, nil},
		{[]string{c("zstd-chunked/a-gzip.tar"), c("zstd-chunked/b-zstd-chunked.tar")}, exitMismatch, []string{"[zstd-chunked]"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			diffRun(t, tc.args...).want(t, tc.code, tc.texts...)
		})
	}
}

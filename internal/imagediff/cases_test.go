package imagediff_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/repro-matrix/repro-matrix/internal/imagediff"
	"github.com/repro-matrix/repro-matrix/internal/oci"
)

// diffCase compares two tarballs of testdata/cases/<dir> (copies of the
// issue's ../shared/cases/images, see testdata/cases/README).
func diffCase(t *testing.T, dir, a, b string) *imagediff.Result {
	t.Helper()
	open := func(name string) *oci.Layout {
		l, err := oci.Open(filepath.Join("testdata", "cases", dir, name))
		if err != nil {
			t.Fatalf("oci.Open(%s): %v", name, err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	res, err := imagediff.Diff(context.Background(), open(a), open(b), imagediff.Options{NameA: a, NameB: b})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func textOf(t *testing.T, res *imagediff.Result) string {
	t.Helper()
	var sb strings.Builder
	if err := res.WriteTextOptions(&sb, imagediff.TextOptions{Max: 100}); err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

// containers/automation_images#388: zstd:chunked vs gzip is encoding only.
func TestCaseZstdChunked(t *testing.T) {
	res := diffCase(t, "zstd-chunked", "a-gzip.tar", "b-zstd-chunked.tar")
	verdicts(t, res, false, true)
	if hintIDs(res)["zstd-chunked"] == 0 || hintIDs(res)["layer-compression"] == 0 {
		t.Fatalf("hints %v\n%s", hintIDs(res), dump(res))
	}
	res = diffCase(t, "zstd-chunked", "a-gzip.tar", "c-zstd-plain.tar")
	verdicts(t, res, false, true)
}

// oras-project/oras-go#993: linux/arm64/v8 and linux/arm64 are one platform.
func TestCaseArm64V8Pairing(t *testing.T) {
	res := diffCase(t, "arm64-v8-pairing", "a-arm64-v8.tar", "c-arm64-novariant-changed.tar")
	verdicts(t, res, false, false)
	if ds := find(res, imagediff.KindMissing, ""); len(ds) > 0 {
		t.Fatalf("the arm64 manifests are not paired:\n%s", dump(res))
	}
	v := mustFind(t, res, imagediff.KindPlatform, "descriptor.platform.variant")
	if v.A != "v8" || v.B != nil || v.Semantic {
		t.Fatalf("variant: %+v", v)
	}
	mustFind(t, res, imagediff.KindContent, "/arch.txt")
	if txt := textOf(t, res); !strings.Contains(txt, "/arch.txt") || !strings.Contains(txt, "variant") {
		t.Fatalf("text:\n%s", txt)
	}

	res = diffCase(t, "arm64-v8-pairing", "a-arm64-v8.tar", "b-arm64-novariant.tar")
	verdicts(t, res, false, true)
	var fields []string
	for _, l := range all(res) {
		fields = append(fields, string(l.d.Kind)+" "+l.d.Field)
	}
	if len(fields) != 1 || fields[0] != "platform descriptor.platform.variant" {
		t.Fatalf("a vs b should differ only in the variant, got %q\n%s", fields, dump(res))
	}
}

// moby/buildkit#3168, #3980: a squashed image and its two-layer twin whose
// whiteouts delete a file and empty a folder make the same filesystem.
func TestCaseWhiteoutVsSquashed(t *testing.T) {
	res := diffCase(t, "whiteout-vs-squashed", "a-two-layers-whiteouts.tar", "b-squashed.tar")
	verdicts(t, res, false, true)
	if d := mustFind(t, res, imagediff.KindLayerCount, "layers"); d.Semantic || d.A != 2 || d.B != 1 {
		t.Fatalf("%+v", d)
	}
	txt := textOf(t, res)
	if !strings.Contains(txt, "layers differ, the filesystems they make are equal") {
		t.Fatalf("text:\n%s", txt)
	}
	var sem strings.Builder
	if err := res.WriteTextOptions(&sem, imagediff.TextOptions{SemanticOnly: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sem.String(), "linux/amd64: layers differ, the filesystems they make are equal") {
		t.Fatalf("--semantic text:\n%s", sem.String())
	}
	for _, l := range all(res) {
		if l.d.Semantic {
			t.Errorf("semantic difference %s %s at %s", l.d.Kind, l.d.Path, l.where)
		}
	}
}

// moby/buildkit#5947: a whiteout's own mtime is in no filesystem.
func TestCaseWhiteoutMtime(t *testing.T) {
	res := diffCase(t, "whiteout-mtime", "a-whiteouts-at-epoch.tar", "b-whiteouts-at-build-time.tar")
	verdicts(t, res, false, true)
	for _, p := range []string{"/etc/.wh.junk", "/var/cache/app/.wh..wh..opq"} {
		d := mustFind(t, res, imagediff.KindMtime, p)
		if d.Semantic || !hasHint(d, "whiteout-mtime") || hasHint(d, "mtime-after-epoch") {
			t.Fatalf("%+v", d)
		}
	}
	if h := hintIDs(res); h["whiteout-mtime"] != 2 || h["mtime-after-epoch"] != 0 {
		t.Fatalf("hints %v", h)
	}
}

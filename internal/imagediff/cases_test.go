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

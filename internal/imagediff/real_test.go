package imagediff_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/repro-matrix/repro-matrix/internal/imagediff"
	"github.com/repro-matrix/repro-matrix/internal/oci"
)

// realDir holds tarballs written by real BuildKit versions from
// fixtures/scratch-copy with SOURCE_DATE_EPOCH=1700000000 (see its README).
const realDir = "../oci/testdata/real"

func openReal(t *testing.T, name string) *oci.Layout {
	t.Helper()
	p := filepath.Join(realDir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no real tarball %s: %v", p, err)
	}
	l, err := oci.Open(p)
	if err != nil {
		t.Fatalf("oci.Open(%s): %v", p, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func diffReal(t *testing.T, a, b string) *imagediff.Result {
	t.Helper()
	res, err := imagediff.Diff(context.Background(), openReal(t, a), openReal(t, b), imagediff.Options{NameA: a, NameB: b})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// hintIDs lists the IDs of a result's hints.
func hintIDs(res *imagediff.Result) map[string]int {
	m := map[string]int{}
	for _, h := range res.Hints() {
		m[h.ID] = h.Count
	}
	return m
}

func TestRealDockerVsOCIExporter(t *testing.T) {
	// BuildKit v0.19.0: the docker exporter writes docker media types and
	// drops the layers' rewritten-timestamp annotations; the blobs are the same.
	res := diffReal(t, "buildkit-v0.19.0-docker.tar", "buildkit-v0.19.0-oci.tar")
	verdicts(t, res, false, true)
	if res.Strict.Entry != 0 || res.Strict.Config != 0 {
		t.Fatalf("only media types and annotations should differ:\n%s", dump(res))
	}
	h := hintIDs(res)
	if h["oci-mediatypes"] != 7 || h["rewrite-timestamp"] != 0 || len(h) != 1 {
		t.Fatalf("hints %v\n%s", h, dump(res))
	}
	for _, l := range all(res) {
		if l.d.Kind == imagediff.KindAnnotation && l.d.Note != "docker schema 2 manifests carry no annotations" {
			t.Errorf("%s: %+v", l.where, l.d)
		}
	}
}

func TestRealSameBytesAcrossVersions(t *testing.T) {
	// BuildKit v0.31+ defaults the docker exporter to OCI media types: its
	// output is byte for byte the v0.19.0 oci exporter's.
	res := diffReal(t, "buildkit-v0.19.0-oci.tar", "buildkit-v0.34.2-docker.tar")
	verdicts(t, res, true, true)
}

func TestRealPodmanHostDropsNames(t *testing.T) {
	res := diffReal(t, "buildkit-v0.34.2-docker.tar", "buildkit-v0.34.2-docker-podman.tar")
	verdicts(t, res, false, true)
	if h := hintIDs(res); h["image-name"] != 2 || len(h) != 1 {
		t.Fatalf("hints %v\n%s", h, dump(res))
	}
}

func TestRealSingleVsMultiPlatform(t *testing.T) {
	res := diffReal(t, "buildkit-v0.19.0-oci.tar", "buildkit-v0.19.0-oci-multiplatform.tar")
	verdicts(t, res, false, false)
	mustFind(t, res, imagediff.KindStructure, "nesting")
	m := mustFind(t, res, imagediff.KindMissing, "manifests[linux/arm64]")
	if m.A != nil || !m.Semantic {
		t.Fatalf("%+v", m)
	}
	// The linux/amd64 manifests are the same blob; only their index
	// descriptors' annotations differ.
	if res.Semantic.Total() != 1 || res.Strict.Entry != 0 {
		t.Fatalf("%+v\n%s", res.Semantic, dump(res))
	}
}

// podmanDir holds images Podman built for these tests (see its README).
const podmanDir = "testdata/real"

func diffPodman(t *testing.T, a, b string, o imagediff.Options) *imagediff.Result {
	t.Helper()
	open := func(name string) *oci.Layout {
		l, err := oci.Open(filepath.Join(podmanDir, name))
		if err != nil {
			t.Fatalf("oci.Open(%s): %v", name, err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	res, err := imagediff.Diff(context.Background(), open(a), open(b), o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRealPodmanTimestamps(t *testing.T) {
	// A build stamped by the clock against one built with --timestamp:
	// config times, history and every file mtime differ.
	res := diffPodman(t, "podman-scratch-copy.tar", "podman-scratch-copy-timestamp.tar", imagediff.Options{})
	verdicts(t, res, false, false)
	if res.Semantic.Entry != 4 || res.Semantic.Total() != 4 {
		t.Fatalf("only the 4 entries' mtimes should matter: %+v\n%s", res.Semantic, dump(res))
	}
	for _, d := range find(res, imagediff.KindMtime, "") {
		if !hasHint(d, "mtime-after-epoch") {
			t.Errorf("%+v", d)
		}
	}
	h := hintIDs(res)
	if h["created-epoch"] != 3 || h["image-name"] != 1 || h["base-image"] != 1 {
		t.Fatalf("hints %v\n%s", h, dump(res))
	}
	if res.EpochFrom != "config created (the earlier of the two)" || res.SourceDateEpoch.Unix() != 1704067200 {
		t.Fatalf("epoch %v from %q", res.SourceDateEpoch, res.EpochFrom)
	}
}

func TestRealPodmanZstd(t *testing.T) {
	for _, verify := range []bool{false, true} {
		res := diffPodman(t, "podman-scratch-copy.tar", "podman-scratch-copy-zstd.tar", imagediff.Options{VerifyDiffIDs: verify})
		verdicts(t, res, false, true)
		if n := len(find(res, imagediff.KindCompression, "blob")); n != 2 {
			t.Fatalf("verify=%v: %d compression differences\n%s", verify, n, dump(res))
		}
		if len(res.Warnings) != 0 {
			t.Fatal(res.Warnings)
		}
	}
}

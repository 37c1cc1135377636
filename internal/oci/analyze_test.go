package oci

import (
	"context"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

// sound lists layouts in every shape BuildKit writes (and a few it may).
func sound() map[string]ocitest.Options {
	two := []ocitest.Image{
		{Layers: ocitest.Blobs(ocitest.Random(1, 3000))},
		{Layers: ocitest.Blobs(ocitest.Random(2, 5000)), Platform: &ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}},
	}
	return map[string]ocitest.Options{
		"docker":       {Docker: true},
		"oci":          {},
		"dot-slash":    {Docker: true, DotSlash: true},
		"nested":       {Nested: true},
		"multi":        {Images: two},
		"docker-multi": {Images: two, Docker: true},
		"sha512":       {Algorithm: digest.SHA512},
	}
}

func TestAnalyzeSound(t *testing.T) {
	for name, o := range sound() {
		t.Run(name, func(t *testing.T) {
			l := ocitest.MustBuildLayout(t, o)
			a, err := analyzeBytes(t, l.Tar())
			if err != nil {
				t.Fatalf("Analyze: %v", err)
			}
			checkSound(t, a, l)
		})
	}
}

func checkSound(t *testing.T, a *Analysis, l *ocitest.Layout) {
	t.Helper()
	if a.ImageDigest != l.ImageDigest || a.IndexDigest != l.IndexDigest {
		t.Errorf("image %s index %s, want %s and %s", a.ImageDigest, a.IndexDigest, l.ImageDigest, l.IndexDigest)
	}
	want := len(l.Manifests)
	if l.Nested != nil {
		want++
	}
	if len(a.Manifests) != want {
		t.Fatalf("%d manifests, want %d", len(a.Manifests), want)
	}
	if len(a.Problems) != 0 {
		t.Errorf("problems in a sound layout: %v", a.Problems)
	}
	last := a.Manifests[len(a.Manifests)-1]
	if last.ConfigDigest != l.Configs[len(l.Configs)-1].Digest || last.LayerCount == 0 {
		t.Errorf("last manifest %+v does not match the built one", last)
	}
}

func TestAnalyzeNestedOrder(t *testing.T) {
	l := ocitest.MustBuildLayout(t, sound()["multi"])
	a, err := analyzeBytes(t, l.Tar())
	if err != nil {
		t.Fatal(err)
	}
	// repro-build's order: the nested index first, then its manifests.
	if !a.Manifests[0].IsIndex || a.ImageDigest != a.Manifests[0].Digest {
		t.Errorf("first entry %+v is not the nested index %s", a.Manifests[0], a.ImageDigest)
	}
	if got := a.Manifests[2].PlatformString(); got != "linux/arm64/v8" {
		t.Errorf("platform %q, want linux/arm64/v8", got)
	}
	if a.Manifests[1].Parent != l.Nested.Digest {
		t.Errorf("parent %s, want %s", a.Manifests[1].Parent, l.Nested.Digest)
	}
}

func TestAnalyzeGzip(t *testing.T) {
	l := ocitest.MustBuildLayout(t, ocitest.Options{Docker: true})
	a, err := Analyze(context.Background(), writeTemp(t, "image.tar.gz", l.TarGz()))
	if err != nil {
		t.Fatal(err)
	}
	checkSound(t, a, l)
}

func TestAnalyzeDirectory(t *testing.T) {
	l := ocitest.MustBuildLayout(t, sound()["multi"])
	dir := t.TempDir()
	if err := l.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	a, err := Analyze(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	checkSound(t, a, l)
	if a.Format != "directory" {
		t.Errorf("format %q", a.Format)
	}
}

func TestAnalyzeDirectoryTampered(t *testing.T) {
	l := ocitest.MustBuildLayout(t, ocitest.Options{})
	layer := l.Layers[0]
	l = l.Replace(ocitest.BlobPath(layer.Digest), ocitest.Bytes([]byte("layer ONE")))
	dir := t.TempDir()
	if err := l.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	_, err := Analyze(context.Background(), dir)
	wantErr(t, err, ErrDigestMismatch, layer.Digest.String())
}

func TestAnalysisJSONRoundTrip(t *testing.T) {
	l := ocitest.MustBuildLayout(t, ocitest.Options{})
	l = l.Remove(ocitest.BlobPath(l.Layers[1].Digest))
	a, err := analyzeBytes(t, l.Tar())
	wantErr(t, err, ErrBlobMissing, l.Layers[1].Digest.String())
	if len(a.Problems) != 1 || a.Problems[0].Kind != "blob-missing" || a.Problems[0].Blob != l.Layers[1].Digest.String() {
		t.Errorf("problems %+v", a.Problems)
	}
}

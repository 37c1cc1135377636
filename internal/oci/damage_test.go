package oci

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

func TestAnalyzeUnusableInput(t *testing.T) {
	good := ocitest.MustBuildLayout(t, ocitest.Options{Docker: true})
	tests := map[string]struct {
		data     []byte
		sentinel error
		names    []string
	}{
		"empty":          {nil, ErrNotArchive, []string{"empty"}},
		"text":           {[]byte("this is not a tarball\n"), ErrNotArchive, nil},
		"zeros":          {make([]byte, 10240), ErrNoIndex, []string{"index.json"}},
		"no index":       {good.Remove("index.json").Tar(), ErrNoIndex, []string{"index.json"}},
		"index not JSON": {good.Replace("index.json", ocitest.Bytes([]byte("{nope"))).Tar(), ErrMalformed, []string{"index.json"}},
		"index null":     {good.Replace("index.json", ocitest.Bytes([]byte("null"))).Tar(), ErrMalformed, []string{"index.json"}},
		"index too big": {good.Replace("index.json", ocitest.Bytes(bytes.Repeat([]byte(" "), maxDocumentSize+1))).Tar(),
			ErrTooLarge, []string{"index.json"}},
		"gzip garbage": {[]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3}, ErrTruncated, nil},
		"gzip cut":     {cut(good.TarGz(), 200), ErrTruncated, nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a, err := analyzeBytes(t, tc.data)
			wantErr(t, err, tc.sentinel, tc.names...)
			if a != nil {
				t.Errorf("got an analysis for unusable input")
			}
		})
	}
}

func cut(b []byte, n int) []byte { return b[:min(n, len(b))] }

// TestAnalyzeTruncated cuts a sound tarball at several points: inside a
// header, inside each blob, and inside the end-of-archive marker.
func TestAnalyzeTruncated(t *testing.T) {
	l := ocitest.MustBuildLayout(t, ocitest.Options{Images: []ocitest.Image{{Layers: ocitest.Blobs(ocitest.Random(7, 5000))}}})
	tarball := l.Tar()
	layer := l.Layers[0]
	at := bytes.Index(tarball, ocitest.Random(7, 5000).ReadAll()[:64])
	cases := map[string]struct {
		n    int
		name string
	}{
		"in first header":  {100, ""},
		"after one block":  {512, ""},
		"inside the layer": {at + 2000, layer.Digest.Encoded()},
		"no trailer":       {len(tarball) - 1024, ""},
		"half trailer":     {len(tarball) - 512, ""},
		"last byte":        {len(tarball) - 1, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := analyzeBytes(t, tarball[:tc.n])
			if tc.n <= 512 && errors.Is(err, ErrNotArchive) {
				return // a lone partial header is not recognisably a tar
			}
			wantErr(t, err, ErrTruncated, tc.name)
		})
	}
}

// TestAnalyzeTruncatedEverywhere cuts at every block boundary: never a
// panic, always a sentinel.
func TestAnalyzeTruncatedEverywhere(t *testing.T) {
	tarball := ocitest.MustBuildLayout(t, ocitest.Options{Docker: true}).Tar()
	for n := 0; n < len(tarball); n += 512 {
		_, err := analyzeBytes(t, tarball[:n])
		if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrNotArchive) && !errors.Is(err, ErrNoIndex) {
			t.Errorf("cut at %d: %v", n, err)
		}
	}
}

func TestAnalyzeDamagedBlobs(t *testing.T) {
	l := ocitest.MustBuildLayout(t, ocitest.Options{Docker: true})
	man, cfg, layer := l.Manifests[0], l.Configs[0], l.Layers[0]
	layerFile := ocitest.BlobPath(layer.Digest)
	stray := digest.FromString("unreferenced")
	badDigest, _ := rewriteManifest(t, l, func(m *ocispec.Manifest) { m.Layers[0].Digest = "sha256:xyz" })
	wrongSize, _ := rewriteManifest(t, l, func(m *ocispec.Manifest) { m.Layers[0].Size++ })
	bigConfig, _ := rewriteManifest(t, l, func(m *ocispec.Manifest) { m.Config.Size = maxDocumentSize + 1 })
	tests := map[string]struct {
		l        *ocitest.Layout
		sentinel error
		name     string
	}{
		"layer missing":        {l.Remove(layerFile), ErrBlobMissing, layer.Digest.String()},
		"config missing":       {l.Remove(ocitest.BlobPath(cfg.Digest)), ErrBlobMissing, cfg.Digest.String()},
		"manifest missing":     {l.Remove(ocitest.BlobPath(man.Digest)), ErrBlobMissing, man.Digest.String()},
		"layer tampered":       {l.Replace(layerFile, ocitest.Bytes([]byte("layer ONE"))), ErrDigestMismatch, layer.Digest.String()},
		"manifest tampered":    {l.Replace(ocitest.BlobPath(man.Digest), tamper(l, man)), ErrDigestMismatch, man.Digest.String()},
		"layer longer":         {l.Replace(layerFile, ocitest.Bytes([]byte("layer one!"))), ErrSizeMismatch, layer.Digest.String()},
		"descriptor size":      {wrongSize, ErrSizeMismatch, layer.Digest.String()},
		"malformed digest":     {badDigest, ErrInvalidDigest, "sha256:xyz"},
		"config too big":       {bigConfig, ErrTooLarge, cfg.Digest.String()},
		"unreferenced tamper":  {l.Replace(ocitest.BlobPath(stray), ocitest.Bytes([]byte("something else"))), ErrDigestMismatch, stray.String()},
		"bad blob name":        {l.Replace("blobs/sha256/notahash", ocitest.Bytes(nil)), ErrInvalidDigest, "blobs/sha256/notahash"},
		"unknown algorithm":    {l.Replace("blobs/md5/abc", ocitest.Bytes(nil)), ErrInvalidDigest, "blobs/md5/abc"},
		"duplicate index.json": {l.Append(ocitest.LayoutFile{Name: "index.json", Content: mustGet(l, "index.json")}), ErrDuplicateEntry, "index.json"},
		"no manifests":         {rewriteIndex(t, l, []ocispec.Descriptor{}), ErrNoManifests, "index.json"},
		"manifest.json broken": {l.Replace("manifest.json", ocitest.Bytes([]byte("{}"))), ErrMalformed, "manifest.json"},
		"oci-layout missing":   {l.Remove("oci-layout"), ErrBlobMissing, "oci-layout"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a, err := analyzeBytes(t, tc.l.Tar())
			wantErr(t, err, tc.sentinel, tc.name)
			if a == nil || len(a.Problems) == 0 {
				t.Fatalf("no analysis listing the problem")
			}
		})
	}
}

// tamper changes one byte of a JSON blob without changing its size.
func tamper(l *ocitest.Layout, d ocispec.Descriptor) ocitest.Content {
	b := mustGet(l, ocitest.BlobPath(d.Digest)).ReadAll()
	i := bytes.Index(b, []byte("schemaVersion\": 2"))
	b[i+len("schemaVersion\": ")] = '3'
	return ocitest.Bytes(b)
}

func mustGet(l *ocitest.Layout, name string) ocitest.Content {
	c, ok := l.Get(name)
	if !ok {
		panic("no " + name)
	}
	return c
}

func TestAnalyzeNestedMissingChild(t *testing.T) {
	l := ocitest.MustBuildLayout(t, sound()["multi"])
	child := l.Manifests[1]
	a, err := analyzeBytes(t, l.Remove(ocitest.BlobPath(child.Digest)).Tar())
	wantErr(t, err, ErrBlobMissing, child.Digest.String())
	if a.ImageDigest != l.ImageDigest || len(a.Manifests) != 3 {
		t.Errorf("image %s with %d manifests", a.ImageDigest, len(a.Manifests))
	}
}

func TestAnalyzeHugeManifestDescriptor(t *testing.T) {
	l := ocitest.MustBuildLayout(t, ocitest.Options{})
	d := l.Manifests[0]
	d.Size = 1 << 40
	_, err := analyzeBytes(t, rewriteIndex(t, l, []ocispec.Descriptor{d}).Tar())
	wantErr(t, err, ErrTooLarge, d.Digest.String())
}

// TestAnalyzeListsAllProblems damages three blobs at once.
func TestAnalyzeListsAllProblems(t *testing.T) {
	l := ocitest.MustBuildLayout(t, ocitest.Options{Docker: true})
	stray := digest.FromString("stray")
	damaged := l.Remove(ocitest.BlobPath(l.Layers[0].Digest)).
		Replace(ocitest.BlobPath(l.Layers[1].Digest), ocitest.Bytes([]byte("layer TWO"))).
		Replace(ocitest.BlobPath(stray), ocitest.Bytes([]byte("not stray")))
	a, err := analyzeBytes(t, damaged.Tar())
	for _, want := range []struct {
		sentinel error
		name     string
	}{
		{ErrBlobMissing, l.Layers[0].Digest.String()},
		{ErrDigestMismatch, l.Layers[1].Digest.String()},
		{ErrDigestMismatch, stray.String()},
	} {
		wantErr(t, err, want.sentinel, want.name)
	}
	// manifest.json also names the missing layer; it is reported once.
	if len(a.Problems) != 3 {
		t.Errorf("%d problems, want 3:\n%v", len(a.Problems), err)
	}
	raw, _ := json.Marshal(a)
	if !strings.Contains(string(raw), `"kind":"digest-mismatch"`) {
		t.Errorf("JSON lacks problem kinds: %s", raw)
	}
}

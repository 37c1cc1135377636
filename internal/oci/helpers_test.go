package oci

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

// writeTemp writes b to a file in a per-test directory and returns its path.
func writeTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// analyzeBytes runs Analyze on a tarball held in b.
func analyzeBytes(t *testing.T, b []byte) (*Analysis, error) {
	t.Helper()
	return Analyze(context.Background(), writeTemp(t, "image.tar", b))
}

// wantErr asserts err wraps sentinel and its message names every one of names.
func wantErr(t *testing.T, err, sentinel error, names ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", sentinel)
	}
	t.Logf("error: %v", err)
	if !errors.Is(err, sentinel) {
		t.Fatalf("got %v, want an error wrapping %v", err, sentinel)
	}
	for _, n := range names {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not name %s", err, n)
		}
	}
}

// rewriteManifest returns a copy of l whose (only) image manifest is
// replaced by edit's version, with index.json pointing at it.
func rewriteManifest(t *testing.T, l *ocitest.Layout, edit func(*ocispec.Manifest)) (*ocitest.Layout, ocispec.Descriptor) {
	t.Helper()
	var m ocispec.Manifest
	orig := l.Manifests[0]
	c, _ := l.Get(ocitest.BlobPath(orig.Digest))
	if err := json.Unmarshal(c.ReadAll(), &m); err != nil {
		t.Fatal(err)
	}
	edit(&m)
	raw, _ := json.Marshal(m)
	d := orig
	d.Digest, d.Size = digest.FromBytes(raw), int64(len(raw))
	out := l.Remove(ocitest.BlobPath(orig.Digest)).Replace(ocitest.BlobPath(d.Digest), ocitest.Bytes(raw))
	return rewriteIndex(t, out, []ocispec.Descriptor{d}), d
}

// rewriteIndex returns a copy of l whose index.json lists manifests.
func rewriteIndex(t *testing.T, l *ocitest.Layout, manifests []ocispec.Descriptor) *ocitest.Layout {
	t.Helper()
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: manifests}
	idx.SchemaVersion = 2
	raw, err := json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	return l.Replace("index.json", ocitest.Bytes(raw))
}

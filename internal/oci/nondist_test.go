package oci

import (
	"context"
	"errors"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

// TestForeignLayerAbsent is the cases README's foreign-layer-absent
// (containerd/containerd#4396): the OCI image layout lets a referenced blob
// be absent, and repro-matrix accepts that of a non-distributable layer,
// saying it was not verified, with the digest the complete image has.
func TestForeignLayerAbsent(t *testing.T) {
	ctx := context.Background()
	present, err := Analyze(ctx, "testdata/foreign/b-foreign-present.tar")
	if err != nil || len(present.Unverified) != 0 {
		t.Fatalf("the complete image: %v, unverified %v", err, present.Unverified)
	}
	a, err := Analyze(ctx, "testdata/foreign/a-foreign-absent.tar")
	if err != nil {
		t.Fatalf("Analyze: %v", err)
	}
	if a.ImageDigest != present.ImageDigest {
		t.Errorf("image digest %s, want the complete image's %s", a.ImageDigest, present.ImageDigest)
	}
	if len(a.Unverified) != 1 {
		t.Fatalf("unverified %v, want the foreign layer", a.Unverified)
	}
	u := a.Unverified[0]
	if u.Layer != 0 || len(u.URLs) != 1 || u.URLs[0] != "https://example.invalid/base-layer.tar.gz" || !IsNonDistributable(u.MediaType) {
		t.Errorf("unverified %+v", u)
	}
	t.Logf("line: %s", u)

	l, err := Open("testdata/foreign/a-foreign-absent.tar")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Verify(ctx); err != nil {
		t.Errorf("Verify refuses what Analyze accepts: %v", err)
	}
	desc := ocispec.Descriptor{MediaType: u.MediaType, Digest: u.Digest, Size: u.Size, URLs: u.URLs}
	_, err = l.Blob(ctx, desc)
	if !errors.Is(err, ErrNotDistributed) || !errors.Is(err, ErrBlobMissing) {
		t.Errorf("Blob of the absent layer: %v, want ErrNotDistributed and ErrBlobMissing", err)
	}
}

// TestNonDistributableGenerated: every non-distributable media type may be
// absent, in OCI and docker tarballs; any other layer missing, or a
// non-distributable one present but tampered, stays damage.
func TestNonDistributableGenerated(t *testing.T) {
	for _, docker := range []bool{false, true} {
		l := ocitest.MustBuildLayout(t, ocitest.Options{Docker: docker})
		layer := ocitest.BlobPath(l.Layers[0].Digest)
		for mt := range nonDistributable {
			nd, _ := rewriteManifest(t, l, func(m *ocispec.Manifest) {
				m.Layers[0].MediaType = mt
				m.Layers[0].URLs = []string{"https://example.invalid/l"}
			})
			a, err := analyzeBytes(t, nd.Remove(layer).Tar())
			if err != nil || len(a.Unverified) != 1 {
				t.Errorf("docker=%v %s absent: %v, unverified %v", docker, mt, err, a.Unverified)
			}
			_, err = analyzeBytes(t, nd.Replace(layer, ocitest.Bytes([]byte("layer ONE"))).Tar())
			wantErr(t, err, ErrDigestMismatch, l.Layers[0].Digest.String())
		}
		_, err := analyzeBytes(t, l.Remove(layer).Tar())
		wantErr(t, err, ErrBlobMissing, l.Layers[0].Digest.String())
	}
}

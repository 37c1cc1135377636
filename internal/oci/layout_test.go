package oci

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

func openBuilt(t *testing.T, l *ocitest.Layout) *Layout {
	t.Helper()
	lay, err := Open(writeTemp(t, "image.tar", l.Tar()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lay.Close() })
	return lay
}

func TestOpenIndex(t *testing.T) {
	l := ocitest.MustBuildLayout(t, ocitest.Options{Docker: true, DotSlash: true})
	lay := openBuilt(t, l)
	if lay.IndexDigest() != l.IndexDigest || lay.Index().Manifests[0].Digest != l.ImageDigest || !lay.Docker() {
		t.Errorf("index %s / %+v", lay.IndexDigest(), lay.Index())
	}
}

// TestBlobConcurrent reads every blob from many goroutines at once.
func TestBlobConcurrent(t *testing.T) {
	l := ocitest.MustBuildLayout(t, ocitest.Options{Images: []ocitest.Image{{Layers: ocitest.Blobs(
		ocitest.Random(1, 3<<20), ocitest.Random(2, 1<<20+7),
	)}}})
	lay := openBuilt(t, l)
	var wg sync.WaitGroup
	for i := range 8 {
		d := l.Layers[i%2]
		want := ocitest.Random(uint64(i%2+1), d.Size).ReadAll()
		wg.Go(func() {
			rc, err := lay.Blob(context.Background(), d)
			if err != nil {
				t.Error(err)
				return
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("blob %s: %d bytes, err %v", d.Digest, len(got), err)
			}
		})
	}
	wg.Wait()
}

func TestBlobErrors(t *testing.T) {
	l := ocitest.MustBuildLayout(t, ocitest.Options{})
	layer := l.Layers[0]
	lay := openBuilt(t, l.Replace(ocitest.BlobPath(layer.Digest), ocitest.Bytes([]byte("layer ONE"))))
	ctx := context.Background()
	bad := layer
	bad.Digest = "sha256:nothex"
	missing := layer
	missing.Digest = l.IndexDigest
	short := l.Layers[1]
	short.Size--
	for name, tc := range map[string]struct {
		d        ocispec.Descriptor
		sentinel error
	}{
		"tampered": {layer, ErrDigestMismatch},
		"invalid":  {bad, ErrInvalidDigest},
		"missing":  {missing, ErrBlobMissing},
		"size":     {short, ErrSizeMismatch},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := lay.Blob(ctx, tc.d)
			wantErr(t, err, tc.sentinel, string(tc.d.Digest))
		})
	}
	lay.Close()
	_, err := lay.Blob(ctx, l.Layers[1])
	wantErr(t, err, ErrClosed)
}

// TestBlobFailsAtEOF: in a directory, a tampered blob is only found out by
// reading it, and the reader must say so no later than at EOF.
func TestBlobFailsAtEOF(t *testing.T) {
	l := ocitest.MustBuildLayout(t, ocitest.Options{})
	layer := l.Layers[0]
	dir := t.TempDir()
	if err := l.Replace(ocitest.BlobPath(layer.Digest), ocitest.Bytes([]byte("layer ONE"))).WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	lay, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer lay.Close()
	rc, err := lay.Blob(context.Background(), layer)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	_, err = io.ReadAll(rc)
	wantErr(t, err, ErrDigestMismatch, layer.Digest.String())
}

func TestDirectorySymlinkBlob(t *testing.T) {
	l := ocitest.MustBuildLayout(t, ocitest.Options{})
	layer := ocitest.BlobPath(l.Layers[0].Digest)
	dir := t.TempDir()
	if err := l.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, layer)
	if err := os.Rename(p, p+".real"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(p+".real", p); err != nil {
		t.Fatal(err)
	}
	_, err := Analyze(context.Background(), dir)
	wantErr(t, err, ErrNotRegular, l.Layers[0].Digest.String())
}

func TestCancelled(t *testing.T) {
	l := ocitest.MustBuildLayout(t, ocitest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a, err := Analyze(ctx, writeTemp(t, "image.tar", l.Tar()))
	if a != nil || err == nil {
		t.Errorf("cancelled analysis: %v, %v", a, err)
	}
}

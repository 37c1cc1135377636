package oci

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

// TestVerify: Verify gives Analyze's verdict, kept after the first call,
// but for a cancelled context, which is not a verdict.
func TestVerify(t *testing.T) {
	l := ocitest.MustBuildLayout(t, ocitest.Options{Docker: true})
	open := func(b []byte) *Layout {
		lay, err := OpenReaderAt(context.Background(), bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { lay.Close() })
		return lay
	}
	if err := open(l.Tar()).Verify(context.Background()); err != nil {
		t.Errorf("sound: %v", err)
	}
	bad := open(l.Remove(ocitest.BlobPath(l.Layers[0].Digest)).Tar())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := bad.Verify(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	for range 2 {
		wantErr(t, bad.Verify(context.Background()), ErrBlobMissing, l.Layers[0].Digest.String())
	}
	if err := open(l.TarGz()).Verify(context.Background()); err != nil {
		t.Errorf("gzip-compressed: %v", err)
	}
}

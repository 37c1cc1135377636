package oci

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

// FuzzAnalyze feeds arbitrary bytes to the tarball reader and the walk: any
// error is fine, a panic is not, and so is an error that wraps no sentinel
// (every failure must say what is wrong with the input).
func FuzzAnalyze(f *testing.F) {
	for _, o := range sound() {
		l := ocitest.MustBuildLayout(f, o)
		f.Add(l.Tar())
	}
	l := ocitest.MustBuildLayout(f, ocitest.Options{Docker: true})
	f.Add(l.TarGz())
	f.Add(l.Remove(ocitest.BlobPath(l.Layers[0].Digest)).Tar())
	f.Add(l.Replace(ocitest.BlobPath(l.Layers[1].Digest), ocitest.Bytes([]byte("layer TWO"))).Tar())
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		lay, err := openReaderAt(ctx, bytes.NewReader(data), int64(len(data)), nil, Limits{})
		if err != nil {
			checkSentinel(t, err)
			return
		}
		defer lay.Close()
		a, err := lay.Analyze(ctx)
		if err != nil {
			checkSentinel(t, err)
		}
		if a != nil {
			readManifests(ctx, lay, a)
		}
	})
}

func checkSentinel(t *testing.T, err error) {
	if kindOf(err) == "error" {
		t.Fatalf("error wraps no sentinel: %v", err)
	}
	if errors.Is(err, ErrClosed) {
		t.Fatalf("closed while in use: %v", err)
	}
}

// readManifests exercises Blob on whatever the walk found.
func readManifests(ctx context.Context, lay *Layout, a *Analysis) {
	for _, m := range a.Manifests {
		rc, err := lay.Blob(ctx, ocispec.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: m.Size})
		if err != nil {
			continue
		}
		io.Copy(io.Discard, rc)
		rc.Close()
	}
}

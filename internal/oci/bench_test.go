package oci

import (
	"bufio"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

// benchTarball writes a 64 MiB image tarball (four random layers) once per
// benchmark.
func benchTarball(b testing.TB) (string, int64) {
	b.Helper()
	var img ocitest.Image
	for i := range 4 {
		img.Layers = append(img.Layers, ocitest.Blobs(ocitest.Random(uint64(i), 16<<20))...)
	}
	l := ocitest.MustBuildLayout(b, ocitest.Options{Docker: true, Images: []ocitest.Image{img}})
	p := filepath.Join(b.TempDir(), "image.tar")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	if err := l.WriteTar(w); err != nil || w.Flush() != nil || f.Close() != nil {
		b.Fatalf("write %s: %v", p, err)
	}
	fi, _ := os.Stat(p)
	return p, fi.Size()
}

func BenchmarkAnalyze(b *testing.B) {
	p, size := benchTarball(b)
	b.SetBytes(size)
	for b.Loop() {
		if _, err := Analyze(context.Background(), p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSHA256File is the floor: hashing the same file once, as sha256sum does.
func BenchmarkSHA256File(b *testing.B) {
	p, size := benchTarball(b)
	b.SetBytes(size)
	buf := make([]byte, 1<<20)
	for b.Loop() {
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.CopyBuffer(h, f, buf); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// TestAnalyzeMemoryFlat guards the streaming design: analysing a 64 MiB
// tarball must allocate a small, size-independent amount in total.
func TestAnalyzeMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 64 MiB tarball")
	}
	p, size := benchTarball(t)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := Analyze(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("analysing %d bytes allocated %d bytes", size, alloc)
	if alloc > 8<<20 {
		t.Errorf("analysing %d bytes allocated %d bytes", size, alloc)
	}
}

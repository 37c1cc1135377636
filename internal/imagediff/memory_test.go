package imagediff_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/imagediff"
	it "github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

// bigPair is two images with one generated layer of files×size bytes that
// differ in file number 100 and in one file only B has.
func bigPair(files int, size int64) (*it.Store, *it.Store) {
	la := it.Generated(files, size, "a", -1)
	lb := it.Generated(files, size, "b", 100)
	a := it.MustBuild(single(it.Image{Layers: []it.Layer{la}}))
	b := it.MustBuild(single(it.Image{Layers: []it.Layer{lb, {Entries: []it.Entry{it.File("extra", "x")}}}}))
	return a, b
}

// peakHeap samples the live heap while fn runs and returns the largest
// growth over what was live before.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > base && ms.HeapAlloc-base > peak.Load() {
					peak.Store(ms.HeapAlloc - base)
				}
			}
		}
	}()
	fn()
	close(stop)
	wg.Wait()
	return peak.Load()
}

// TestBoundedMemory diffs two images with a 200 MiB layer each, streamed
// from a generator, and checks that the heap never grows by more than
// 64 MiB.
func TestBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 2×200 MiB")
	}
	const files, size = 200, 1 << 20
	a, b := bigPair(files, size)
	var res *imagediff.Result
	var err error
	peak := peakHeap(func() {
		res, err = imagediff.Diff(context.Background(), a, b, imagediff.Options{})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("peak heap growth %.1f MiB diffing 2×%d MiB", float64(peak)/(1<<20), files*size>>20)
	if peak > 64<<20 {
		t.Fatalf("peak heap growth %d MiB > 64 MiB", peak>>20)
	}
	mustFind(t, res, imagediff.KindContent, "/data/00100.bin")
	if res.Strict.Entry != 1 {
		t.Fatalf("entries %d\n%s", res.Strict.Entry, dump(res))
	}
	mustFind(t, res, imagediff.KindMissing, "layers[1]")
}

// BenchmarkDiffLargeLayer measures the streaming comparison of two
// 64 MiB layers that differ in one file.
func BenchmarkDiffLargeLayer(b *testing.B) {
	const files, size = 64, 1 << 20
	x, y := bigPair(files, size)
	b.SetBytes(2 * files * size)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := imagediff.Diff(context.Background(), x, y, imagediff.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

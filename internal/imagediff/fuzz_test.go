package imagediff_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/repro-matrix/repro-matrix/internal/imagediff"
	"github.com/repro-matrix/repro-matrix/internal/oci"
	it "github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

// FuzzDiff compares an arbitrary tarball with one of a few sound images,
// on either side, as `repro-matrix diff` does (issue 10). It asserts: no
// panic and no hang; when analyze calls the tarball damaged, the comparison
// fails with a *DamageError for its side (exit 2), and when analyze calls it
// sound, with no DamageError; and a sound tarball compared with itself,
// opened twice, is equal under both verdicts. A tarball that cannot be
// opened at all is refused before diff compares anything (exit 2 too).
// Seeds: the sound images, the damaged samples (testdata/damaged, also in
// testdata/fuzz/FuzzDiff), each kind of damageKinds, and layers holding a
// sparse file in each GNU format.
func FuzzDiff(f *testing.F) {
	sound := soundTarballs(f)
	for _, s := range sound {
		f.Add(s, uint8(0), false)
	}
	paths, _ := filepath.Glob("testdata/damaged/*.tar")
	for i, p := range paths {
		f.Add(mustRead(f, p), uint8(i), i%2 == 0)
	}
	l := it.MustBuildLayout(f, it.Options{Images: []it.Image{baseImage()}})
	for i, k := range damageKinds() {
		f.Add(k.make(f, l), uint8(i), i%2 == 1)
	}
	for _, format := range []string{"0.1", "1.0", "gnu"} {
		img := it.Image{Layers: []it.Layer{sparseLayer(format, sixFragments)}}
		f.Add(it.MustBuildLayout(f, it.Options{Images: []it.Image{img}}).Tar(), uint8(2), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, pick uint8, swap bool) {
		ctx := context.Background()
		x, err := oci.OpenReaderAt(ctx, bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		defer x.Close()
		_, damaged := x.Analyze(ctx)
		y := openBytes(t, sound[int(pick)%len(sound)])
		a, b, side := x, y, "A"
		if swap {
			a, b, side = y, x, "B"
		}
		res, err := diffWithin(t, a, b)
		var de *imagediff.DamageError
		switch isDamage := errors.As(err, &de); {
		case err != nil && strings.Contains(err.Error(), "internal error"):
			t.Fatal(err)
		case damaged != nil && (!isDamage || de.Side != side):
			t.Fatalf("analyze: %v\nbut diff with it as %s: %v", damaged, side, err)
		case damaged == nil && isDamage:
			t.Fatalf("a sound image called damaged: %v", err)
		case err == nil && res == nil:
			t.Fatal("neither a result nor an error")
		}
		if damaged != nil {
			return
		}
		res, err = diffWithin(t, x, openBytes(t, data))
		if err != nil || !res.Equal || !res.SemanticEqual {
			t.Fatalf("diff X X: %v %+v", err, res)
		}
	})
}

// soundTarballs are the images FuzzDiff compares with: docker and OCI
// exporter shapes, nested, with tar layers, and the campaign's good.tar.
func soundTarballs(f *testing.F) [][]byte {
	out := [][]byte{mustRead(f, "testdata/damaged/good.tar")}
	for _, o := range []it.Options{{}, {Docker: true}, {Images: []it.Image{baseImage()}},
		{Images: []it.Image{baseImage(), baseImage()}, Docker: true}} {
		out = append(out, it.MustBuildLayout(f, o).Tar())
	}
	return out
}

// diffWithin runs Diff and panics, with every goroutine's stack, if it
// takes more than 10 seconds.
func diffWithin(t *testing.T, a, b imagediff.Source) (*imagediff.Result, error) {
	t.Helper()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			buf := make([]byte, 1<<20)
			panic("hang:\n" + string(buf[:runtime.Stack(buf, true)]))
		}
	}()
	return imagediff.Diff(context.Background(), a, b, imagediff.Options{})
}

// FuzzLayerBytes feeds arbitrary bytes as a layer blob (under each layer
// media type) and arbitrary bytes as a config: the comparison must return a
// result or an error, never panic or hang.
func FuzzLayerBytes(f *testing.F) {
	good := mustTarF(f, baseEntries())
	f.Add(good, []byte(`{"os":"linux"}`), uint8(0))
	f.Add(gz(good), []byte(`{"rootfs":{"diff_ids":[1,2]}}`), uint8(1))
	f.Add(good[:600], []byte(`[]`), uint8(2))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x00}, []byte(`null`), uint8(1))
	f.Add([]byte{0x1f, 0x8b, 0x08}, []byte(`{"history":[{"created_by":1}],"config":{"Env":["A"]}}`), uint8(0))
	mts := []string{ocispec.MediaTypeImageLayer, ocispec.MediaTypeImageLayerGzip, ocispec.MediaTypeImageLayerZstd}
	a := it.MustBuild(single(baseImage()))
	f.Fuzz(func(t *testing.T, layer, config []byte, mt uint8) {
		img := it.Image{ConfigRaw: config, Layers: []it.Layer{{Raw: it.Bytes(layer), MediaType: mts[int(mt)%len(mts)]}}}
		b, err := it.Build(single(img))
		if err != nil {
			t.Skip()
		}
		done := make(chan struct{})
		go func() {
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				buf := make([]byte, 1<<20)
				panic("hang:\n" + string(buf[:runtime.Stack(buf, true)]))
			}
		}()
		res, err := imagediff.Diff(context.Background(), a, b, imagediff.Options{})
		close(done)
		if err == nil && res == nil {
			t.Fatal("neither a result nor an error")
		}
		if res != nil {
			_ = res.Summary()
			_ = res.WriteText(discard{}, 5)
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func mustTarF(f *testing.F, es []it.Entry) []byte {
	b, err := it.TarBytes(es, 0)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

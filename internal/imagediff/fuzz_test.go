package imagediff_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/repro-matrix/repro-matrix/internal/imagediff"
	it "github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

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

package imagediff_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/repro-matrix/repro-matrix/internal/imagediff"
	it "github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestBadInputs(t *testing.T) {
	good := func() *it.Store { return it.MustBuild(single(baseImage())) }
	withLayer := func(l it.Layer) *it.Store {
		img := baseImage()
		img.Layers[1] = l
		return it.MustBuild(single(img))
	}
	validGzip := gz(bytes.Repeat([]byte("x"), 4096))
	cases := []struct {
		name  string
		b     func() *it.Store
		want  error
		words string
	}{
		{"missing manifest", func() *it.Store {
			s := it.MustBuild(it.Index{Images: []it.Image{baseImage()}, Annotations: map[string]string{"k": "v"}})
			s.Delete(s.Manifest(0).Digest)
			return s
		}, it.ErrBlobMissing, "blob missing"},
		{"missing config", func() *it.Store {
			img := baseImage()
			img.Config = func(c map[string]any) { c["author"] = "x" }
			s := it.MustBuild(single(img))
			s.Delete(s.ParsedManifest(0).Config.Digest)
			return s
		}, it.ErrBlobMissing, "blob missing"},
		{"missing layer", func() *it.Store {
			img := baseImage()
			img.Layers[1].Entries = append(baseEntries(), it.File("x", "y"))
			s := it.MustBuild(single(img))
			s.Delete(s.ParsedManifest(0).Layers[1].Digest)
			return s
		}, it.ErrBlobMissing, "blob missing"},
		{"config not JSON", func() *it.Store {
			return it.MustBuild(single(it.Image{ConfigRaw: []byte("not json")}))
		}, nil, "JSON"},
		{"manifest digest mismatch", func() *it.Store {
			s := it.MustBuild(it.Index{Images: []it.Image{baseImage()}, Annotations: map[string]string{"k": "v"}})
			s.Replace(s.Manifest(0).Digest, []byte(`{"schemaVersion":2}`))
			return s
		}, it.ErrDigestMismatch, "digest mismatch"},
		{"layer digest mismatch", func() *it.Store {
			s := withLayer(it.Layer{Entries: append(baseEntries(), it.File("x", "y"))})
			d := s.ParsedManifest(0).Layers[1].Digest
			other := withLayer(it.Layer{Entries: append(baseEntries(), it.File("x", "z"))})
			b, _ := blobOf(other, other.ParsedManifest(0).Layers[1])
			s.Replace(d, b)
			return s
		}, it.ErrDigestMismatch, "digest mismatch"},
		{"corrupt gzip", func() *it.Store {
			corrupt := append([]byte{}, validGzip...)
			for i := 12; i < len(corrupt)-8; i++ {
				corrupt[i] ^= 0x5a
			}
			return withLayer(it.Layer{Raw: it.Bytes(corrupt), MediaType: ocispec.MediaTypeImageLayerGzip})
		}, imagediff.ErrLayer, ""},
		{"truncated gzip", func() *it.Store {
			full := gz(mustTar(t, baseEntries()))
			return withLayer(it.Layer{Raw: it.Bytes(full[:len(full)/2]), MediaType: ocispec.MediaTypeImageLayerGzip})
		}, imagediff.ErrLayer, "truncated"},
		{"not a tar", func() *it.Store {
			return withLayer(it.Layer{Raw: it.Bytes(gz([]byte(strings.Repeat("this is not a tar archive\n", 100)))), MediaType: ocispec.MediaTypeImageLayerGzip})
		}, imagediff.ErrLayer, "not a tar stream"},
		{"truncated tar", func() *it.Store {
			raw := mustTar(t, baseEntries())
			return withLayer(it.Layer{Raw: it.Bytes(raw[:700]), MediaType: ocispec.MediaTypeImageLayer})
		}, imagediff.ErrLayer, "truncated"},
		{"corrupt zstd", func() *it.Store {
			return withLayer(it.Layer{Raw: it.Bytes([]byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0, 1, 2, 3}), MediaType: ocispec.MediaTypeImageLayerZstd})
		}, imagediff.ErrLayer, ""},
		{"index nested too deep", func() *it.Store { return loopIndex(t) }, imagediff.ErrInput, "nested deeper"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := imagediff.Diff(context.Background(), good(), tc.b(), imagediff.Options{})
			if err == nil {
				t.Fatalf("no error; result %s\n%s", res.Summary(), dump(res))
			}
			if res != nil {
				t.Fatal("a result with the error")
			}
			if !errors.Is(err, imagediff.ErrInput) {
				t.Errorf("error does not wrap ErrInput: %v", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error does not wrap %v: %v", tc.want, err)
			}
			if !strings.Contains(err.Error(), tc.words) || !strings.Contains(err.Error(), "image B") {
				t.Errorf("error %q should say %q and name image B", err, tc.words)
			}
			if strings.Contains(err.Error(), "internal error") {
				t.Errorf("panic: %v", err)
			}
		})
	}
}

func TestNilSource(t *testing.T) {
	if _, err := imagediff.Diff(context.Background(), nil, it.MustBuild(single(baseImage())), imagediff.Options{}); !errors.Is(err, imagediff.ErrInput) {
		t.Fatal(err)
	}
}

func TestCancelledContext(t *testing.T) {
	a := it.MustBuild(single(baseImage()))
	b := it.MustBuild(single(withEntries(append(baseEntries(), it.File("x", "y")))))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := imagediff.Diff(ctx, a, b, imagediff.Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

func TestTooManyEntriesOutOfStep(t *testing.T) {
	var a, b []it.Entry
	for i := range 40 {
		a = append(a, it.File("a"+string(rune('A'+i)), "x"))
		b = append(b, it.File("b"+string(rune('A'+i)), "x"))
	}
	_, err := imagediff.Diff(context.Background(), it.MustBuild(single(withEntries(a))), it.MustBuild(single(withEntries(b))),
		imagediff.Options{MaxPending: 10})
	if err == nil || !strings.Contains(err.Error(), "out of step") {
		t.Fatalf("err %v", err)
	}
}

// loopIndex builds an image whose index.json points, through nested
// indexes, deeper than the comparison follows.
func loopIndex(t *testing.T) *it.Store {
	t.Helper()
	return it.MustBuild(it.Index{Images: []it.Image{baseImage()}, NestDepth: 12})
}

func mustTar(t *testing.T, es []it.Entry) []byte {
	t.Helper()
	b, err := it.TarBytes(es, 0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func blobOf(s *it.Store, d ocispec.Descriptor) ([]byte, error) {
	rc, err := s.Blob(context.Background(), d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(rc)
	return buf.Bytes(), err
}

func TestExtraEntriesAfterTheOtherStreamEnds(t *testing.T) {
	b := baseEntries()
	for i := range 300 {
		b = append(b, it.File("extra/"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+string(rune('a'+i/26)), "x"))
	}
	res, err := imagediff.Diff(context.Background(), it.MustBuild(single(baseImage())), it.MustBuild(single(withEntries(b))),
		imagediff.Options{MaxPending: 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.Strict.Entry != 300 || len(find(res, imagediff.KindOrder, "")) != 0 {
		t.Fatalf("%d entries\n%s", res.Strict.Entry, dump(res))
	}
}

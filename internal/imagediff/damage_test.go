package imagediff_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/repro-matrix/repro-matrix/internal/imagediff"
	"github.com/repro-matrix/repro-matrix/internal/oci"
	it "github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

// openBytes opens a tarball held in memory as the CLI opens a file.
func openBytes(t testing.TB, b []byte) *oci.Layout {
	t.Helper()
	l, err := oci.OpenReaderAt(context.Background(), bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// wantDamaged asserts that err reports side as damaged: a *DamageError
// wrapping ErrDamaged and sentinel, whose message names the side and blob.
func wantDamaged(t *testing.T, err error, side string, sentinel error, blob string) {
	t.Helper()
	var de *imagediff.DamageError
	if !errors.As(err, &de) || de.Side != side {
		t.Fatalf("want image %s damaged, got %v", side, err)
	}
	if !errors.Is(err, imagediff.ErrDamaged) || !errors.Is(err, imagediff.ErrInput) || !errors.Is(err, sentinel) {
		t.Errorf("error does not wrap ErrDamaged, ErrInput and %v: %v", sentinel, err)
	}
	if msg := err.Error(); !strings.Contains(msg, "image "+side) || !strings.Contains(msg, blob) {
		t.Errorf("error %q does not name image %s and %s", msg, side, blob)
	}
}

// TestDamagedSamples runs diff on the bad-input campaign's samples against
// the sound one, both ways and each against itself: an image analyze calls
// damaged fails with the side named, never "identical"; a sound one is
// compared, within a second.
func TestDamagedSamples(t *testing.T) {
	paths, _ := filepath.Glob("testdata/damaged/*.tar")
	good := mustRead(t, "testdata/damaged/good.tar")
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			raw := mustRead(t, p)
			a, aerr := openBytes(t, raw).Analyze(context.Background())
			start := time.Now()
			results := [][2][]byte{{good, raw}, {raw, good}, {raw, raw}}
			for i, pair := range results {
				res, err := imagediff.Diff(context.Background(), openBytes(t, pair[0]), openBytes(t, pair[1]), imagediff.Options{})
				switch {
				case aerr != nil:
					side := map[int]string{0: "B", 1: "A", 2: "A"}[i]
					wantDamaged(t, err, side, sentinelOf(a.Problems[0]), a.Problems[0].Blob)
				case err != nil:
					t.Fatalf("sound image: %v", err)
				case i == 2 && !(res.Equal && res.SemanticEqual):
					t.Errorf("diff X X: %s", res.Summary())
				case i < 2 && !bytes.Equal(raw, good) && res.SemanticEqual:
					t.Errorf("another image is semantically equal: %s", res.Summary())
				}
			}
			if el := time.Since(start); el > time.Second {
				t.Errorf("took %s", el)
			}
		})
	}
}

// sentinelOf is the oci sentinel an analysis problem wraps.
func sentinelOf(p oci.Problem) error {
	for _, s := range []error{oci.ErrBlobMissing, oci.ErrDigestMismatch, oci.ErrSizeMismatch, oci.ErrNotRegular,
		oci.ErrTooLarge, oci.ErrInvalidDigest, oci.ErrMalformed, oci.ErrDuplicateEntry, oci.ErrNoManifests} {
		if errors.Is(p, s) {
			return s
		}
	}
	return p
}

func mustRead(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// damageKind makes one kind of damage to a sound layout tarball.
type damageKind struct {
	name     string
	make     func(t testing.TB, l *it.Layout) []byte
	sentinel error
	blob     func(l *it.Layout) string // what the error must name
}

func damageKinds() []damageKind {
	layer := func(l *it.Layout) string { return l.Layers[1].Digest.String() }
	config := func(l *it.Layout) string { return l.Configs[0].Digest.String() }
	manifest := func(l *it.Layout) string { return l.Manifests[0].Digest.String() }
	stray := digest.FromString("stray")
	return []damageKind{
		{"layer missing", func(_ testing.TB, l *it.Layout) []byte { return l.Remove(it.BlobPath(l.Layers[1].Digest)).Tar() }, oci.ErrBlobMissing, layer},
		{"config missing", func(_ testing.TB, l *it.Layout) []byte { return l.Remove(it.BlobPath(l.Configs[0].Digest)).Tar() }, oci.ErrBlobMissing, config},
		{"manifest missing", func(_ testing.TB, l *it.Layout) []byte { return l.Remove(it.BlobPath(l.Manifests[0].Digest)).Tar() }, oci.ErrBlobMissing, manifest},
		{"layer flipped", func(_ testing.TB, l *it.Layout) []byte { return flipBlob(l, l.Layers[1]) }, oci.ErrDigestMismatch, layer},
		{"config flipped", func(_ testing.TB, l *it.Layout) []byte { return flipBlob(l, l.Configs[0]) }, oci.ErrDigestMismatch, config},
		{"layer cut short", func(_ testing.TB, l *it.Layout) []byte {
			c, _ := l.Get(it.BlobPath(l.Layers[1].Digest))
			return l.Replace(it.BlobPath(l.Layers[1].Digest), it.Bytes(c.ReadAll()[:10])).Tar()
		}, oci.ErrSizeMismatch, layer},
		{"layer size huge", func(t testing.TB, l *it.Layout) []byte {
			return rewriteManifest(t, l, func(m *ocispec.Manifest) { m.Layers[1].Size = 1 << 62 })
		}, oci.ErrSizeMismatch, layer},
		{"config size huge", func(t testing.TB, l *it.Layout) []byte {
			return rewriteManifest(t, l, func(m *ocispec.Manifest) { m.Config.Size = 1 << 40 })
		}, oci.ErrTooLarge, config},
		{"layer symlink", func(t testing.TB, l *it.Layout) []byte { return retype(t, l, l.Layers[1], tar.TypeSymlink) }, oci.ErrNotRegular, layer},
		{"layer FIFO", func(t testing.TB, l *it.Layout) []byte { return retype(t, l, l.Layers[1], tar.TypeFifo) }, oci.ErrNotRegular, layer},
		{"config FIFO", func(t testing.TB, l *it.Layout) []byte { return retype(t, l, l.Configs[0], tar.TypeFifo) }, oci.ErrNotRegular, config},
		{"layer hard link", func(t testing.TB, l *it.Layout) []byte { return retype(t, l, l.Layers[1], tar.TypeLink) }, oci.ErrNotRegular, layer},
		{"unreferenced blob tampered", func(_ testing.TB, l *it.Layout) []byte {
			return l.Replace(it.BlobPath(stray), it.Bytes([]byte("not stray"))).Tar()
		}, oci.ErrDigestMismatch, func(*it.Layout) string { return stray.String() }},
		{"duplicate entry", func(_ testing.TB, l *it.Layout) []byte {
			c, _ := l.Get("index.json")
			return l.Append(it.LayoutFile{Name: "index.json", Mode: 0o644, Content: c}).Tar()
		}, oci.ErrDuplicateEntry, func(*it.Layout) string { return "index.json" }},
		{"oci-layout missing", func(_ testing.TB, l *it.Layout) []byte { return l.Remove("oci-layout").Tar() },
			oci.ErrBlobMissing, func(*it.Layout) string { return "oci-layout" }},
	}
}

// TestDamagedKinds damages a sound image in each way the bad-input campaign
// found diff trusting: diff fails naming the side and the blob, in both
// orders and against itself, exactly when analyze calls the image damaged.
func TestDamagedKinds(t *testing.T) {
	l := it.MustBuildLayout(t, it.Options{Images: []it.Image{baseImage()}})
	good := l.Tar()
	for _, k := range damageKinds() {
		t.Run(k.name, func(t *testing.T) {
			bad := k.make(t, l)
			if _, err := openBytes(t, bad).Analyze(context.Background()); !errors.Is(err, k.sentinel) {
				t.Fatalf("analyze: got %v, want %v", err, k.sentinel)
			}
			_, err := imagediff.Diff(context.Background(), openBytes(t, good), openBytes(t, bad), imagediff.Options{NameB: "bad.tar"})
			wantDamaged(t, err, "B", k.sentinel, k.blob(l))
			if !strings.Contains(err.Error(), "image B (bad.tar) is damaged") {
				t.Errorf("error does not name the file: %v", err)
			}
			_, err = imagediff.Diff(context.Background(), openBytes(t, bad), openBytes(t, good), imagediff.Options{})
			wantDamaged(t, err, "A", k.sentinel, k.blob(l))
			same := openBytes(t, bad)
			_, err = imagediff.Diff(context.Background(), same, same, imagediff.Options{})
			wantDamaged(t, err, "A", k.sentinel, k.blob(l))
			if !strings.Contains(err.Error(), "image B") {
				t.Errorf("both sides are damaged, B is not named: %v", err)
			}
		})
	}
}

// TestDamageErrorLists names every problem of a side, one per line.
func TestDamageErrorLists(t *testing.T) {
	l := it.MustBuildLayout(t, it.Options{Images: []it.Image{baseImage()}})
	bad := l.Remove(it.BlobPath(l.Layers[0].Digest)).Remove(it.BlobPath(l.Layers[1].Digest)).Tar()
	_, err := imagediff.Diff(context.Background(), openBytes(t, l.Tar()), openBytes(t, bad), imagediff.Options{})
	msg := err.Error()
	if !strings.HasPrefix(msg, "image B is damaged, 2 problems:\n  - ") ||
		!strings.Contains(msg, l.Layers[0].Digest.String()) || !strings.Contains(msg, l.Layers[1].Digest.String()) {
		t.Errorf("got %q", msg)
	}
}

// TestVerifyCancelled: a cancelled comparison is not reported as damage.
func TestVerifyCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	raw := it.MustBuildLayout(t, it.Options{}).Tar()
	_, err := imagediff.Diff(ctx, openBytes(t, raw), openBytes(t, raw), imagediff.Options{})
	if !errors.Is(err, context.Canceled) || errors.Is(err, imagediff.ErrDamaged) {
		t.Errorf("got %v", err)
	}
}

// flipBlob inverts every byte of a blob, keeping its size.
func flipBlob(l *it.Layout, d ocispec.Descriptor) []byte {
	c, _ := l.Get(it.BlobPath(d.Digest))
	b := c.ReadAll()
	for i := range b {
		b[i] ^= 0xff
	}
	return l.Replace(it.BlobPath(d.Digest), it.Bytes(b)).Tar()
}

// rewriteManifest replaces the layout's manifest with edit's version,
// index.json pointing at it.
func rewriteManifest(t testing.TB, l *it.Layout, edit func(*ocispec.Manifest)) []byte {
	t.Helper()
	orig := l.Manifests[0]
	c, _ := l.Get(it.BlobPath(orig.Digest))
	var m ocispec.Manifest
	if err := json.Unmarshal(c.ReadAll(), &m); err != nil {
		t.Fatal(err)
	}
	edit(&m)
	raw, _ := json.Marshal(m)
	d := orig
	d.Digest, d.Size = digest.FromBytes(raw), int64(len(raw))
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{d}}
	idx.SchemaVersion = 2
	ij, _ := json.Marshal(idx)
	return l.Remove(it.BlobPath(orig.Digest)).Replace(it.BlobPath(d.Digest), it.Bytes(raw)).
		Replace("index.json", it.Bytes(ij)).Tar()
}

// retype writes the layout with the blob d as a tar entry of type typ (a
// symlink, FIFO or hard link to index.json) instead of a regular file.
func retype(t testing.TB, l *it.Layout, d ocispec.Descriptor, typ byte) []byte {
	t.Helper()
	var out bytes.Buffer
	tr, tw := tar.NewReader(bytes.NewReader(l.Tar())), tar.NewWriter(&out)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Name == it.BlobPath(d.Digest) {
			hdr.Typeflag, hdr.Size, hdr.Linkname = typ, 0, "index.json"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			io.Copy(tw, tr)
		}
	}
	tw.Close()
	return out.Bytes()
}

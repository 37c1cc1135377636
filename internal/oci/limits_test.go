package oci

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

// zeros is size zero bytes, produced on demand.
func zeros(size int64) ocitest.Content {
	return ocitest.Content{Size: size, Open: func() io.Reader { return io.LimitReader(zeroReader{}, size) }}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// bombLayout is a sound layout plus an unreferenced file of size zero bytes:
// gzip-compressed, a few KB that unpack to size bytes and more.
func bombLayout(t *testing.T, size int64) *ocitest.Layout {
	t.Helper()
	l := ocitest.MustBuildLayout(t, ocitest.Options{})
	return l.Append(ocitest.LayoutFile{Name: "padding", Mode: 0o644, Content: zeros(size)})
}

// wantLimit asserts err is a *LimitError for cap, naming flag.
func wantLimit(t *testing.T, err error, cap, flag string) {
	t.Helper()
	t.Logf("error: %v", err)
	var le *LimitError
	if !errors.As(err, &le) || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want a *LimitError wrapping ErrTooLarge", err)
	}
	if le.Cap != cap || le.Flag != flag || !strings.Contains(err.Error(), flag) || !strings.Contains(err.Error(), cap) {
		t.Errorf("got cap %q flag %q in %q, want %q and %q", le.Cap, le.Flag, err, cap, flag)
	}
}

func TestLimitUnpackedSize(t *testing.T) {
	gz := bombLayout(t, 4<<20).TarGz()
	path := writeTemp(t, "bomb.tar.gz", gz)
	ctx := context.Background()
	_, err := AnalyzeWith(ctx, path, Options{Limits: Limits{MaxUnpackedSize: 1 << 20}})
	wantLimit(t, err, "unpacked size", "--max-unpacked-size")
	// Raised, the same input is sound.
	if _, err := AnalyzeWith(ctx, path, Options{Limits: Limits{MaxUnpackedSize: 8 << 20}}); err != nil {
		t.Fatalf("with the cap raised: %v", err)
	}
	if _, err := AnalyzeWith(ctx, path, Options{Limits: Limits{MaxUnpackedSize: -1}}); err != nil {
		t.Fatalf("with no cap: %v", err)
	}
}

// TestLimitUnpackedDefault: by default a gzip-compressed tarball may unpack
// to 100 times its size, at least 256 MiB; a bomb of a higher ratio is
// refused once it passes that, not after unpacking whole.
func TestLimitUnpackedDefault(t *testing.T) {
	var lim Limits
	if got := lim.maxUnpacked(1000); got != DefaultMinUnpackedSize {
		t.Errorf("cap for 1000 bytes: %d, want %d", got, DefaultMinUnpackedSize)
	}
	if got := lim.maxUnpacked(10 << 20); got != 1000<<20 {
		t.Errorf("cap for 10 MiB: %d, want %d", got, 1000<<20)
	}
	if testing.Short() {
		t.Skip("unpacks 256 MiB")
	}
	gz := bombLayout(t, DefaultMinUnpackedSize+1).TarGz()
	_, err := Analyze(context.Background(), writeTemp(t, "bomb.tar.gz", gz))
	wantLimit(t, err, "unpacked size", "--max-unpacked-size")
}

func TestLimitEntries(t *testing.T) {
	l := ocitest.MustBuildLayout(t, ocitest.Options{})
	for i := range 20 {
		l = l.Append(ocitest.LayoutFile{Name: "extra/" + string(rune('a'+i)), Mode: 0o644, Content: ocitest.Bytes(nil)})
	}
	for name, b := range map[string][]byte{"tar": l.Tar(), "tar.gz": l.TarGz()} {
		t.Run(name, func(t *testing.T) {
			path := writeTemp(t, "image."+name, b)
			_, err := AnalyzeWith(context.Background(), path, Options{Limits: Limits{MaxEntries: 10}})
			wantLimit(t, err, "entries", "--max-entries")
			if _, err := Analyze(context.Background(), path); err != nil {
				t.Fatalf("default cap: %v", err)
			}
		})
	}
	t.Run("directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := l.WriteDir(dir); err != nil {
			t.Fatal(err)
		}
		_, err := AnalyzeWith(context.Background(), dir, Options{Limits: Limits{MaxEntries: 1}})
		wantLimit(t, err, "entries", "--max-entries")
	})
}

// TestLimitEntrySize: a header's claim is refused before its data is read.
// In a plain tar a claim past the end of the file is truncation instead.
func TestLimitEntrySize(t *testing.T) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	tw.WriteHeader(&tar.Header{Name: "blobs/sha256/" + strings.Repeat("a", 64), Size: 1 << 40, Mode: 0o644, Typeflag: tar.TypeReg})
	tw.Flush()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw.Bytes())
	zw.Close()
	_, err := Analyze(context.Background(), writeTemp(t, "claim.tar.gz", gz.Bytes()))
	wantLimit(t, err, "entry size", "--max-entry-size")
	_, err = Analyze(context.Background(), writeTemp(t, "claim.tar", raw.Bytes()))
	wantErr(t, err, ErrTruncated)

	l := ocitest.MustBuildLayout(t, ocitest.Options{})
	_, err = AnalyzeWith(context.Background(), writeTemp(t, "image.tar", l.Tar()), Options{Limits: Limits{MaxEntrySize: 100}})
	wantLimit(t, err, "entry size", "--max-entry-size")
}

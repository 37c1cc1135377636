package oci

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

// rawTar writes l's files as a tar, letting edit replace the entry of a
// file by writing its own (edit returns true when it did).
func rawTar(t *testing.T, l *ocitest.Layout, edit func(tw *tar.Writer, f ocitest.LayoutFile) bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range l.Files {
		if edit(tw, f) {
			continue
		}
		hdr := &tar.Header{Name: f.Name, Mode: 0o644, Typeflag: tar.TypeReg, Size: f.Content.Size}
		if f.Dir {
			hdr.Typeflag, hdr.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if !f.Dir {
			if _, err := io.Copy(tw, f.Content.Open()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestAnalyzeSymlinkEntry(t *testing.T) {
	l := ocitest.MustBuildLayout(t, ocitest.Options{})
	layer := ocitest.BlobPath(l.Layers[0].Digest)
	data := rawTar(t, l, func(tw *tar.Writer, f ocitest.LayoutFile) bool {
		if f.Name != layer {
			return false
		}
		return tw.WriteHeader(&tar.Header{Name: f.Name, Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}) == nil
	})
	_, err := analyzeBytes(t, data)
	wantErr(t, err, ErrNotRegular, l.Layers[0].Digest.String())
}

// TestAnalyzeSparseEntry: an old-style GNU sparse entry claiming an
// exabyte of holes must be refused, not expanded.
func TestAnalyzeSparseEntry(t *testing.T) {
	l := ocitest.MustBuildLayout(t, ocitest.Options{})
	layer := ocitest.BlobPath(l.Layers[0].Digest)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: layer, Typeflag: tar.TypeReg, Format: tar.FormatGNU}); err != nil {
		t.Fatal(err)
	}
	blk := buf.Bytes()[:512]
	blk[156] = tar.TypeGNUSparse
	copy(blk[483:495], fmt.Sprintf("%011o\x00", int64(1)<<60)) // realsize
	copy(blk[148:156], "        ")
	sum := 0
	for _, b := range blk {
		sum += int(b)
	}
	copy(blk[148:156], fmt.Sprintf("%06o\x00 ", sum))
	data := append(append([]byte{}, blk...), make([]byte, 1024)...)
	_, err := analyzeBytes(t, data)
	wantErr(t, err, ErrNotRegular, layer)
}

// TestAnalyzeHugeTruncatedEntry: a header declaring a terabyte followed by
// a few bytes is reported as truncated without allocating the declared size.
func TestAnalyzeHugeTruncatedEntry(t *testing.T) {
	l := ocitest.MustBuildLayout(t, ocitest.Options{})
	layer := ocitest.BlobPath(l.Layers[0].Digest)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: layer, Typeflag: tar.TypeReg, Size: 1 << 40}); err != nil {
		t.Fatal(err)
	}
	buf.WriteString("a few bytes")
	_, err := analyzeBytes(t, buf.Bytes())
	wantErr(t, err, ErrTruncated, layer)
}

package oci

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

var gzipMagic = []byte{0x1f, 0x8b}

// isGzip sniffs the gzip magic number at the start of ra.
func isGzip(ra io.ReaderAt) bool {
	var head [2]byte
	n, _ := ra.ReadAt(head[:], 0)
	return n == 2 && bytes.Equal(head[:], gzipMagic)
}

// scanGzip indexes a gzip-compressed tar. Offsets into a compressed stream
// are useless for random access, so the scan tees the decompressed archive
// into an anonymous temporary file and serves blobs from that: still one
// pass and flat memory, at the cost of disk space for the uncompressed tar.
func scanGzip(ctx context.Context, ra io.ReaderAt, size int64) (st *tarStore, err error) {
	zr, err := gzip.NewReader(bufio.NewReaderSize(io.NewSectionReader(ra, 0, size), bufSize(size)))
	if err != nil {
		return nil, fmt.Errorf("%w: gzip stream: %v", ErrNotArchive, err)
	}
	tmp, err := os.CreateTemp("", "repro-matrix-oci-*.tar")
	if err != nil {
		return nil, fmt.Errorf("gzip-compressed archive: %w", err)
	}
	cleanup := func() error {
		return errors.Join(tmp.Close(), os.Remove(tmp.Name()))
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	s := newScanner(ctx, &gzipErrReader{io.TeeReader(zr, w)}, 1<<20)
	if err := s.scan(); err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("gzip-compressed archive: write temporary file: %w", err)
	}
	return &tarStore{ra: tmp, closer: cleanup, entries: s.entries, issues: s.problems}, nil
}

// gzipErrReader reports a damaged or cut gzip stream as a truncated archive
// rather than as whatever archive/tar makes of the short read.
type gzipErrReader struct{ r io.Reader }

func (g *gzipErrReader) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if err != nil && err != io.EOF {
		return n, fmt.Errorf("%w: gzip stream damaged or cut short: %v", ErrTruncated, err)
	}
	return n, err
}

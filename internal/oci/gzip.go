package oci

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
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
// into an unnamed temporary file (anonymousFile: nothing of it outlives the
// process, even after SIGKILL) and serves blobs from that: still one pass
// and flat memory, at the cost of disk space for the uncompressed tar, which
// lim's unpacked-size cap bounds.
func scanGzip(ctx context.Context, ra io.ReaderAt, size int64, lim Limits) (st *tarStore, err error) {
	zr, err := gzip.NewReader(bufio.NewReaderSize(io.NewSectionReader(ra, 0, size), bufSize(size)))
	if err != nil {
		return nil, fmt.Errorf("%w: gzip stream: %v", ErrNotArchive, err)
	}
	tmp, err := anonymousFile()
	if err != nil {
		return nil, fmt.Errorf("gzip-compressed archive: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
		}
	}()
	limited := newUnpackCap(zr, "gzip-compressed archive", size, lim)
	w := bufio.NewWriterSize(tmp, 1<<20)
	s := newScanner(ctx, &gzipErrReader{io.TeeReader(limited, w)}, -1, 1<<20, lim)
	if err := s.scan(); err != nil {
		if limited.err != nil {
			return nil, limited.err
		}
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("gzip-compressed archive: write temporary file: %w", err)
	}
	return &tarStore{ra: tmp, closer: tmp.Close, entries: s.entries, issues: s.problems}, nil
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

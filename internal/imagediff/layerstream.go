package imagediff

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/repro-matrix/repro-matrix/internal/oci"
)

// Limits of the layer reader.
const (
	copyBufSize   = 256 << 10 // per side
	entryQueue    = 64        // entries a side may read ahead of the comparison
	captureLimit  = 64 << 10  // largest file kept in memory for a closer look
	zstdMaxWindow = 1 << 27   // 128 MiB, the largest window zstd --long uses
)

// sideStats is what streaming one layer learned beyond its entries.
type sideStats struct {
	entries     int
	formats     map[tar.Format]int
	compression string        // by magic: compNone, compGzip, compZstd
	diffID      digest.Digest // when asked for
}

// openDecompressed detects the compression by its magic number and returns
// the uncompressed stream, and the buffered compressed one to drain.
func openDecompressed(rc io.Reader) (r io.Reader, br *bufio.Reader, comp string, done func(), err error) {
	br = bufio.NewReaderSize(rc, 64<<10)
	magic, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, "", nil, err
	}
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, "", nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, br, compGzip, func() { _ = zr.Close() }, nil
	case len(magic) == 4 && bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, nil, "", nil, fmt.Errorf("zstd: %w", err)
		}
		return zr, br, compZstd, zr.Close, nil
	}
	return br, br, compNone, func() {}, nil
}

// streamLayer reads one layer blob and sends its entries to out, hashing
// each entry's content on the way. It closes nothing of out.
func streamLayer(ctx context.Context, side int, src Source, desc ocispec.Descriptor, wantDiffID bool, out chan<- *entryInfo, st *sideStats) (err error) {
	where := fmt.Sprintf("image %s: layer %s", sideName(side), desc.Digest)
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error: %s: %v", where, p)
		}
	}()
	rc, err := src.Blob(ctx, desc)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInput, where, err)
	}
	defer rc.Close()
	dec, br, comp, done, err := openDecompressed(rc)
	if err != nil {
		return fmt.Errorf("%s: %w", where, layerReadError(err))
	}
	defer done()
	st.compression = comp
	st.formats = map[tar.Format]int{}
	var diffID digest.Digester
	if wantDiffID {
		diffID = digest.Canonical.Digester()
		dec = io.TeeReader(dec, diffID.Hash())
	}
	lr := newLayerReader(ctx, dec, out, st, where)
	if err := lr.entries(); err != nil {
		return err
	}
	// Whatever follows the end-of-archive marker still belongs to the
	// diff-id, and the compressed stream must be read to its end for the
	// decompressor and the Source to check it.
	if _, err := io.CopyBuffer(io.Discard, oci.ContextReader(ctx, dec), lr.buf); err != nil {
		return fmt.Errorf("%s: after the tar stream: %w", where, layerReadError(err))
	}
	if _, err := io.CopyBuffer(io.Discard, oci.ContextReader(ctx, br), lr.buf); err != nil {
		return fmt.Errorf("%s: %w", where, layerReadError(err))
	}
	if diffID != nil {
		st.diffID = diffID.Digest()
	}
	return nil
}

// layerReader walks the entries of one layer's tar stream.
type layerReader struct {
	ctx    context.Context
	tp     *tap
	tr     *tar.Reader
	out    chan<- *entryInfo
	st     *sideStats
	buf    []byte
	where  string
	sparse digest.Digester // of the sparse entry whose data is due
}

func newLayerReader(ctx context.Context, r io.Reader, out chan<- *entryInfo, st *sideStats, where string) *layerReader {
	tp := &tap{ctx: ctx, r: r}
	return &layerReader{ctx: ctx, tp: tp, tr: tar.NewReader(tp), out: out, st: st,
		buf: make([]byte, copyBufSize), where: where}
}

// entries reads every entry and sends it on. A sparse entry is sent once
// the next header is read: archive/tar skips its stored data then, and the
// tap hashes it on the way.
func (lr *layerReader) entries() error {
	var pending *entryInfo
	for i := 0; ; i++ {
		lr.tp.record()
		hdr, err := lr.tr.Next()
		lr.tp.stop()
		if pending != nil && (err == nil || errors.Is(err, io.EOF)) {
			if err := lr.finishSparse(pending); err != nil {
				return err
			}
			pending = nil
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: entry #%d: %w", lr.where, i, layerReadError(err))
		}
		e := newEntryInfo(i, hdr)
		lr.st.entries++
		lr.st.formats[e.format]++
		if sparseFormat(hdr) != "" {
			if err := lr.startSparse(hdr, e); err != nil {
				return fmt.Errorf("%s: %s: %w", lr.where, displayPath(e.name), err)
			}
			pending = e
			continue
		}
		guard := &expansionGuard{r: lr.tr, tp: lr.tp, start: lr.tp.n}
		if err := readContent(lr.ctx, guard, e, lr.buf); err != nil {
			return fmt.Errorf("%s: %s: %w", lr.where, displayPath(e.name), layerReadError(err))
		}
		if err := lr.send(e); err != nil {
			return err
		}
	}
}

func (lr *layerReader) send(e *entryInfo) error {
	select {
	case lr.out <- e:
		return nil
	case <-lr.ctx.Done():
		return lr.ctx.Err()
	}
}

// startSparse reads the map of sparse entry e and sets the tap to hash its
// stored data. Its content digest is of the map and that data, never of the
// zeros its holes stand for: sha256 over "sparse SIZE", one "OFFSET LENGTH"
// line per data fragment, then the data.
func (lr *layerReader) startSparse(h *tar.Header, e *entryInfo) error {
	frags, stored, err := readSparse(h, lr.tp.rec, lr.tp.recAt, lr.tp.over)
	if err != nil {
		return err
	}
	lr.sparse = digest.Canonical.Digester()
	w := lr.sparse.Hash()
	fmt.Fprintf(w, "sparse %d\n", e.size)
	for _, f := range frags {
		fmt.Fprintf(w, "%d %d\n", f.off, f.n)
	}
	w.Write([]byte("\n"))
	e.sparse = true
	lr.tp.sink, lr.tp.sinkLeft = w, stored
	return nil
}

// finishSparse completes e's digest once Next has skipped its data.
func (lr *layerReader) finishSparse(e *entryInfo) error {
	if lr.tp.sinkLeft != 0 {
		return fmt.Errorf("%s: %s: %w: sparse entry: %d bytes of its data missing", lr.where, displayPath(e.name), ErrLayer, lr.tp.sinkLeft)
	}
	e.digest = lr.sparse.Digest()
	lr.tp.sink, lr.sparse = nil, nil
	return lr.send(e)
}

// readContent reads the current entry's data from r, hashing it into
// e.digest (left empty for entries without data but regular files) and
// keeping it in e.captured for capturedPaths.
func readContent(ctx context.Context, r io.Reader, e *entryInfo, buf []byte) error {
	h := digest.Canonical.Digester()
	var w io.Writer = h.Hash()
	var capture *bytes.Buffer
	if capturedPaths[e.name] && e.size <= captureLimit {
		capture = &bytes.Buffer{}
		w = io.MultiWriter(h.Hash(), capture)
	}
	n, err := io.CopyBuffer(w, oci.ContextReader(ctx, r), buf)
	if err != nil {
		return err
	}
	if n > 0 || e.typ == tar.TypeReg {
		e.digest = h.Digest()
	}
	if capture != nil {
		e.captured = capture.Bytes()
	}
	return nil
}

// ErrLayer marks an unreadable layer stream: corrupt compression, not a tar
// stream, truncated. It wraps ErrInput.
var ErrLayer = fmt.Errorf("%w: unreadable layer", ErrInput)

func layerReadError(err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, tar.ErrHeader):
		return fmt.Errorf("%w: not a tar stream: %w", ErrLayer, err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: truncated: %w", ErrLayer, err)
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader):
		return fmt.Errorf("%w: corrupt gzip stream: %w", ErrLayer, err)
	}
	return fmt.Errorf("%w: %w", ErrLayer, err)
}

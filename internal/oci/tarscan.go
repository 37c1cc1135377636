package oci

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"
)

// tarEntry is what the scan keeps of one tar entry: where its bytes are in
// the (uncompressed) archive and what they hash to, never the bytes.
type tarEntry struct {
	offset  int64
	size    int64
	sum     digest.Digest
	badType error // non-nil when the entry is not a plain regular file
}

// scanner reads a tar archive once, front to back, hashing every entry the
// layout cares about with the algorithm its name claims (sha256 for
// index.json and friends), so memory stays flat whatever the archive size.
type scanner struct {
	ctx      context.Context
	cr       *countingReader
	tr       *tar.Reader
	entries  map[string]*tarEntry
	problems []error
	buf      []byte
	lastEnd  int64 // offset just past the last entry's data and padding
	seen     int64 // entries read, recorded or not
	lim      Limits
	// size is the archive's length when known (a plain tar), else -1: a
	// header claiming more than what is left is truncation, not a cap.
	size int64
}

// countingReader tracks the offset the tar reader has reached. archive/tar
// reads headers and data straight from it without read-ahead, so after Next
// the count is the offset of the entry's data.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func newScanner(ctx context.Context, r io.Reader, size int64, bufLen int, lim Limits) *scanner {
	cr := &countingReader{r: r}
	return &scanner{
		ctx: ctx, cr: cr, tr: tar.NewReader(cr),
		entries: map[string]*tarEntry{},
		buf:     make([]byte, bufLen),
		lim:     lim, size: size,
	}
}

// scan walks the whole archive.
func (s *scanner) scan() error {
	for {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		hdr, err := s.tr.Next()
		if err == io.EOF {
			return s.checkTrailer()
		}
		if err != nil {
			return s.headerError(err)
		}
		s.seen++
		if max := s.lim.maxEntries(); s.seen > max {
			return &LimitError{What: "tar archive", Cap: "entries", Flag: "--max-entries", Max: max,
				Claim: fmt.Sprintf("more than %d entries", max)}
		}
		if err := s.entry(hdr); err != nil {
			return err
		}
	}
}

// headerError classifies a failure to read the next header.
func (s *scanner) headerError(err error) error {
	switch {
	case errors.Is(err, ErrTruncated):
		return fmt.Errorf("tar archive: %w", err)
	case s.seen == 0 && errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %d bytes, shorter than one tar header", ErrNotArchive, s.cr.n)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("tar archive: %w: ends inside a header or padding at offset %d", ErrTruncated, s.cr.n)
	case s.seen == 0:
		return fmt.Errorf("%w: %v", ErrNotArchive, err)
	default:
		return fmt.Errorf("tar archive: %w: bad header after entry %d, near offset %d: %v", ErrNotArchive, s.seen, s.lastEnd, err)
	}
}

// checkTrailer insists on the two zero blocks that end a tar archive: a
// download cut at a block boundary looks complete otherwise.
func (s *scanner) checkTrailer() error {
	if s.seen == 0 && s.cr.n == 0 {
		return fmt.Errorf("%w: the file is empty", ErrNotArchive)
	}
	if s.cr.n-s.lastEnd < 2*512 {
		return fmt.Errorf("tar archive: %w: no end-of-archive marker after offset %d", ErrTruncated, s.lastEnd)
	}
	return nil
}

// entry records one header and, if the layout cares about it, hashes its data.
func (s *scanner) entry(hdr *tar.Header) error {
	name := cleanName(hdr.Name)
	if isSparse(hdr) {
		// Reading one would expand its holes, possibly exabytes of zeros,
		// and its offsets could not serve reads anyway. BuildKit never
		// writes them.
		return fmt.Errorf("%s: %w: sparse tar entries are not supported", name, ErrNotRegular)
	}
	truncated := s.size >= 0 && hdr.Size > s.size-s.cr.n
	if max := s.lim.maxEntrySize(); hdr.Size > max && !truncated {
		return &LimitError{What: name, Cap: "entry size", Flag: "--max-entry-size", Max: max,
			Claim: fmt.Sprintf("its tar header claims %d bytes", hdr.Size)}
	}
	e := &tarEntry{offset: s.cr.n, size: hdr.Size}
	var err error
	switch {
	case hdr.Typeflag == tar.TypeDir || !isRecorded(name):
		err = s.drain(name, e)
	case hdr.Typeflag != tar.TypeReg:
		e.badType = fmt.Errorf("%w: %s is a tar entry of type %q", ErrNotRegular, name, hdr.Typeflag)
		err = s.drain(name, e)
	default:
		err = s.hash(name, e)
	}
	if err != nil {
		return err
	}
	// Data is padded to whole blocks; what follows is the next header.
	s.lastEnd = e.offset + roundBlock(s.cr.n-e.offset)
	if hdr.Typeflag == tar.TypeDir || !isRecorded(name) {
		return nil
	}
	return s.record(name, e)
}

// drain reads past an entry's data ourselves rather than leaving it to
// tar.Reader.Next, so that the physical end of every entry is known.
func (s *scanner) drain(name string, e *tarEntry) error {
	r := ContextReader(s.ctx, s.tr)
	for {
		_, err := r.Read(s.buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return s.dataError(name, e, err)
		}
	}
}

// record keeps e under name, flagging a second entry of the same name.
func (s *scanner) record(name string, e *tarEntry) error {
	if _, dup := s.entries[name]; dup {
		s.problems = append(s.problems, fmt.Errorf("%s: %w: the tar holds it more than once; the last one is used", name, ErrDuplicateEntry))
	}
	s.entries[name] = e
	return nil
}

// hash reads the entry's data through the hash its name calls for.
func (s *scanner) hash(name string, e *tarEntry) error {
	alg, h := hashFor(name)
	if h == nil {
		return s.drain(name, e)
	}
	n, err := io.CopyBuffer(h, ContextReader(s.ctx, s.tr), s.buf)
	if err != nil {
		return s.dataError(name, e, err)
	}
	if s.cr.n-e.offset != n || n != e.size {
		// Only a sparse entry could get here, and isSparse rules them out.
		return fmt.Errorf("%s: %w: %d bytes stored for %d read", name, ErrNotRegular, s.cr.n-e.offset, n)
	}
	e.sum = digest.NewDigest(alg, h)
	return nil
}

func (s *scanner) dataError(name string, e *tarEntry, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		got := s.cr.n - e.offset
		return fmt.Errorf("%s: %w: the tar entry declares %d bytes, the archive ends after %d", name, ErrTruncated, e.size, got)
	}
	return fmt.Errorf("%s: read tar entry: %w", name, err)
}

// hashFor picks the hash for a recorded name: the algorithm a blob's path
// names, sha256 for the layout's other files. It returns a nil hash for blob
// paths naming no usable algorithm; the sweep reports those.
func hashFor(name string) (digest.Algorithm, hash.Hash) {
	alg := digest.SHA256
	if rest, ok := strings.CutPrefix(name, blobsPrefix); ok {
		a, _, _ := strings.Cut(rest, "/")
		alg = digest.Algorithm(a)
	}
	if !alg.Available() {
		return alg, nil
	}
	return alg, alg.Hash()
}

func roundBlock(n int64) int64 {
	if n < 0 {
		return 0
	}
	return (n + 511) &^ 511
}

// isSparse tells GNU sparse entries, old style or PAX, apart.
func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

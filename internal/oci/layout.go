package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Layout is an opened OCI image layout: a tarball written by BuildKit's
// docker or OCI exporter (plain or gzip-compressed), or a layout directory.
// Its methods are safe for concurrent use.
type Layout struct {
	st          store
	docker      bool // the tar also holds a docker manifest.json
	index       ocispec.Index
	indexRaw    []byte
	indexDigest digest.Digest
	opts        Options

	mu     sync.Mutex
	closed bool
	sums   map[string]digest.Digest // blob path -> computed digest, once known

	// verifyMu serialises Verify; verified and verifyErr keep its verdict.
	verifyMu  sync.Mutex
	verified  bool
	verifyErr error
}

// Open opens the tarball or layout directory at path. For a tarball it reads
// the whole file once, hashing every blob as it goes, and keeps only offsets,
// sizes and digests. It fails if the input is not a tar archive, is
// truncated, or has no usable index.json.
func Open(path string) (*Layout, error) {
	return OpenWith(context.Background(), path, Options{})
}

// Options tune OpenWith and AnalyzeWith. The zero value is what Open and
// Analyze use: default limits, diff_ids counted but not recomputed.
type Options struct {
	// Limits are the caps on entries, claimed sizes and decompressed sizes.
	Limits Limits
	// VerifyDiffIDs makes Analyze and Verify decompress every layer and
	// check that its uncompressed content hashes to the diff_id the config
	// lists for it (OCI image-spec, config.md, "rootfs"). Without it only
	// their number is checked against the manifest's layers.
	VerifyDiffIDs bool
}

// OpenWith is Open with options, honouring ctx while the tarball is read.
// An input over one of o.Limits is refused with a *LimitError.
func OpenWith(ctx context.Context, path string, o Options) (*Layout, error) {
	l, err := openContext(ctx, path, o)
	if err != nil {
		return nil, err
	}
	l.opts = o
	return l, nil
}

func openContext(ctx context.Context, path string, o Options) (*Layout, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		st, err := openDir(path, o.Limits)
		if err != nil {
			return nil, err
		}
		return newLayout(st)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w: not a regular file or directory", path, ErrNotArchive)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	l, err := openReaderAt(ctx, f, fi.Size(), f.Close, o.Limits)
	if err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// OpenReaderAt opens the tarball (plain or gzip-compressed) that ra holds,
// size bytes long, as Open opens a file, for images that are not files (fuzz
// targets, tests). Closing the Layout does not close ra. Its errors are
// Open's.
func OpenReaderAt(ctx context.Context, ra io.ReaderAt, size int64) (*Layout, error) {
	return openReaderAt(ctx, ra, size, nil, Limits{})
}

// openReaderAt opens a tarball held by ra; closer, if not nil, releases ra
// when the Layout is closed.
func openReaderAt(ctx context.Context, ra io.ReaderAt, size int64, closer func() error, lim Limits) (*Layout, error) {
	var st *tarStore
	var err error
	if isGzip(ra) {
		st, err = scanGzip(ctx, ra, size, lim)
		if err == nil {
			st.closer = chain(st.closer, closer)
		}
	} else {
		st, err = scanTar(ctx, ra, size, closer, lim)
	}
	if err != nil {
		return nil, err
	}
	l, err := newLayout(st)
	if err != nil {
		st.close()
		return nil, err
	}
	_, l.docker = st.entries[dockerManifest]
	l.opts.Limits = lim
	return l, nil
}

func chain(a, b func() error) func() error {
	return func() error {
		var errA, errB error
		if a != nil {
			errA = a()
		}
		if b != nil {
			errB = b()
		}
		if errA != nil {
			return errA
		}
		return errB
	}
}

// newLayout reads and parses index.json from st.
func newLayout(st store) (*Layout, error) {
	fi, err := st.lookup(indexName)
	if errors.Is(err, ErrBlobMissing) {
		return nil, fmt.Errorf("%w: none found, so this is not an OCI image layout (docker-save tarballs without one are not supported)", ErrNoIndex)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoIndex, err)
	}
	if fi.size > maxDocumentSize {
		return nil, fmt.Errorf("%s: %w: %d bytes, the limit is %d", indexName, ErrTooLarge, fi.size, maxDocumentSize)
	}
	raw, err := readAll(st, indexName, fi.size)
	if err != nil {
		return nil, err
	}
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", indexName, ErrMalformed, err)
	}
	if idx.SchemaVersion != 2 {
		return nil, fmt.Errorf("%s: %w: schemaVersion is %d, want 2", indexName, ErrMalformed, idx.SchemaVersion)
	}
	return &Layout{
		st: st, index: idx, indexRaw: raw,
		indexDigest: digest.SHA256.FromBytes(raw),
		sums:        map[string]digest.Digest{},
	}, nil
}

// readAll reads a small file of known size (at most maxDocumentSize).
func readAll(st store, name string, size int64) ([]byte, error) {
	rc, err := st.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := make([]byte, size)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return nil, fmt.Errorf("%s: read: %w", name, err)
	}
	return buf, nil
}

// Close releases the tarball (and any temporary file). Readers returned by
// Blob must not be used afterwards.
func (l *Layout) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	return l.st.close()
}

// Index is index.json as parsed. Its slices and maps are shared: do not
// modify them.
func (l *Layout) Index() ocispec.Index { return l.index }

// IndexDigest is the sha256 digest of index.json's bytes as stored.
func (l *Layout) IndexDigest() digest.Digest { return l.indexDigest }

// IndexJSON is index.json's bytes as stored.
func (l *Layout) IndexJSON() []byte { return l.indexRaw }

// Docker reports whether the tarball also carries a docker manifest.json,
// as BuildKit's docker exporter writes.
func (l *Layout) Docker() bool { return l.docker }

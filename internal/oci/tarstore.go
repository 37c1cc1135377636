package oci

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
)

// tarStore serves a scanned tar archive. Reads go through io.SectionReader
// over offsets recorded by the scan, so any number of independent readers
// can run at once and nothing is re-scanned.
type tarStore struct {
	ra      io.ReaderAt
	closer  func() error
	entries map[string]*tarEntry
	issues  []error
}

// scanTar indexes the plain tar archive readable from ra.
func scanTar(ctx context.Context, ra io.ReaderAt, size int64, closer func() error, lim Limits) (*tarStore, error) {
	r := bufio.NewReaderSize(io.NewSectionReader(ra, 0, size), bufSize(size))
	s := newScanner(ctx, r, size, bufSize(size), lim)
	if err := s.scan(); err != nil {
		return nil, err
	}
	return &tarStore{ra: ra, closer: closer, entries: s.entries, issues: s.problems}, nil
}

func (t *tarStore) lookup(name string) (fileInfo, error) {
	e, ok := t.entries[name]
	if !ok {
		return fileInfo{}, fmt.Errorf("%w: %s is not in the tar archive", ErrBlobMissing, name)
	}
	if e.badType != nil {
		return fileInfo{}, e.badType
	}
	return fileInfo{size: e.size, sum: e.sum}, nil
}

func (t *tarStore) open(name string) (io.ReadCloser, error) {
	e, ok := t.entries[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s is not in the tar archive", ErrBlobMissing, name)
	}
	if e.badType != nil {
		return nil, e.badType
	}
	return io.NopCloser(io.NewSectionReader(t.ra, e.offset, e.size)), nil
}

func (t *tarStore) blobFiles() []string {
	var names []string
	for name := range t.entries {
		if strings.HasPrefix(name, blobsPrefix) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func (t *tarStore) problems() []error { return t.issues }

func (t *tarStore) close() error {
	if t.closer == nil {
		return nil
	}
	return t.closer()
}

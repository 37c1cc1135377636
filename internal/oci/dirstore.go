package oci

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// dirStore serves an OCI layout directory. Names come from descriptors
// validated by validDigest or from a walk of the directory itself, so they
// cannot point outside root.
type dirStore struct {
	root   string
	blobs  []string
	issues []error
}

// openDir lists the layout directory's blobs (without reading them).
func openDir(root string, lim Limits) (*dirStore, error) {
	d := &dirStore{root: root}
	err := filepath.WalkDir(filepath.Join(root, blobsDir), func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if max := lim.maxEntries(); int64(len(d.blobs)) >= max {
			return &LimitError{What: root, Cap: "entries", Flag: "--max-entries", Max: max,
				Claim: fmt.Sprintf("more than %d file(s) under blobs/", max)}
		}
		d.blobs = append(d.blobs, filepath.ToSlash(rel))
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("list blobs: %w", err)
	}
	slices.Sort(d.blobs)
	return d, nil
}

func (d *dirStore) path(name string) string { return filepath.Join(d.root, filepath.FromSlash(name)) }

func (d *dirStore) lookup(name string) (fileInfo, error) {
	fi, err := os.Lstat(d.path(name))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fileInfo{}, fmt.Errorf("%w: %s is not in the layout directory", ErrBlobMissing, name)
	case err != nil:
		return fileInfo{}, fmt.Errorf("%s: %w", name, err)
	case !fi.Mode().IsRegular():
		return fileInfo{}, fmt.Errorf("%w: %s has file mode %s", ErrNotRegular, name, fi.Mode().Type())
	}
	return fileInfo{size: fi.Size()}, nil
}

func (d *dirStore) open(name string) (io.ReadCloser, error) {
	if _, err := d.lookup(name); err != nil {
		return nil, err
	}
	f, err := os.Open(d.path(name))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, nil
}

func (d *dirStore) blobFiles() []string { return d.blobs }
func (d *dirStore) problems() []error   { return d.issues }
func (d *dirStore) close() error        { return nil }

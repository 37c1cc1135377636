package oci

import (
	"io"

	"github.com/opencontainers/go-digest"
)

// store is where a Layout's files live: a scanned tarball or a directory.
type store interface {
	// lookup finds a layout file by its clean name. The error wraps
	// ErrBlobMissing or ErrNotRegular and names the file.
	lookup(name string) (fileInfo, error)
	// open returns the file's content; it must be safe to call concurrently.
	open(name string) (io.ReadCloser, error)
	// blobFiles lists every file present under blobs/, sorted.
	blobFiles() []string
	// problems reports damage seen while indexing (duplicates, odd entries).
	problems() []error
	close() error
}

// fileInfo is what a store knows about one file.
type fileInfo struct {
	size int64
	// sum is the digest of the content computed while scanning, "" if the
	// store did not hash it (directories are hashed on demand).
	sum digest.Digest
}

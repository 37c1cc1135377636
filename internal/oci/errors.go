package oci

import "errors"

// Sentinel errors. Every error this package returns about damaged input wraps
// exactly one of them, with a message that names the file or blob concerned,
// e.g. "blob sha256:ab…: digest mismatch: content hashes to sha256:cd…".
// Callers test them with errors.Is.
var (
	// ErrNotArchive: the file is neither a tar archive (plain or gzip) nor
	// an OCI layout directory.
	ErrNotArchive = errors.New("not a tar archive")
	// ErrTruncated: the archive ends inside an entry or before its
	// end-of-archive marker.
	ErrTruncated = errors.New("truncated")
	// ErrNoIndex: the layout has no index.json.
	ErrNoIndex = errors.New("no index.json")
	// ErrMalformed: a JSON document (index, manifest, config) is not valid
	// JSON or not of the expected shape.
	ErrMalformed = errors.New("malformed document")
	// ErrTooLarge: a JSON document, or the layout as a whole, exceeds a
	// limit this package enforces so that hostile input cannot exhaust memory.
	ErrTooLarge = errors.New("too large")
	// ErrInvalidDigest: a descriptor's digest, or a blob's file name, is not a
	// valid digest of an algorithm go-digest supports.
	ErrInvalidDigest = errors.New("invalid digest")
	// ErrBlobMissing: a referenced blob is not in the layout.
	ErrBlobMissing = errors.New("blob missing")
	// ErrNotRegular: a blob is present but not as a regular file (symlink,
	// hard link, directory, sparse file), so its bytes cannot be trusted.
	ErrNotRegular = errors.New("not a regular file")
	// ErrDigestMismatch: a blob's content does not hash to its digest.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrSizeMismatch: a blob's size differs from the descriptor's size.
	ErrSizeMismatch = errors.New("size mismatch")
	// ErrDuplicateEntry: the tar holds the same name twice. Tar semantics
	// make the later entry win, and this package reads the later one too,
	// but readers disagree on this, so a sound image never has duplicates.
	ErrDuplicateEntry = errors.New("duplicate entry")
	// ErrNoManifests: index.json lists no manifest, so there is no image.
	ErrNoManifests = errors.New("index lists no manifests")
	// ErrClosed: the Layout was used after Close.
	ErrClosed = errors.New("layout closed")
)

// kinds gives each sentinel a stable, machine-readable name for JSON output.
var kinds = []struct {
	err  error
	kind string
}{
	{ErrNotArchive, "not-archive"},
	{ErrTruncated, "truncated"},
	{ErrNoIndex, "no-index"},
	{ErrMalformed, "malformed"},
	{ErrTooLarge, "too-large"},
	{ErrInvalidDigest, "invalid-digest"},
	{ErrBlobMissing, "blob-missing"},
	{ErrNotRegular, "not-regular"},
	{ErrDigestMismatch, "digest-mismatch"},
	{ErrSizeMismatch, "size-mismatch"},
	{ErrDuplicateEntry, "duplicate-entry"},
	{ErrNoManifests, "no-manifests"},
	{ErrClosed, "closed"},
}

// kindOf names the sentinel err wraps, or "error" if none.
func kindOf(err error) string {
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.kind
		}
	}
	return "error"
}

package oci

import "errors"

// Sentinel errors. Every error this package returns about damaged input wraps
// exactly one of them, with a message that names the file or blob concerned,
// e.g. "blob sha256:ab…: digest mismatch: content hashes to sha256:cd…".
// Callers test them with errors.Is.
var (
	// ErrNotArchive: the file is neither a tar archive (plain or gzip) nor
	// an OCI layout directory.
	ErrNotArchive = sentinel("not-archive", "not a tar archive")
	// ErrTruncated: the archive ends inside an entry or before its
	// end-of-archive marker.
	ErrTruncated = sentinel("truncated", "truncated")
	// ErrNoIndex: the layout has no index.json.
	ErrNoIndex = sentinel("no-index", "no index.json")
	// ErrMalformed: a JSON document (index, manifest, config) is not valid
	// JSON or not of the expected shape.
	ErrMalformed = sentinel("malformed", "malformed document")
	// ErrTooLarge: a JSON document, or the layout as a whole, exceeds a
	// limit this package enforces so that hostile input cannot exhaust memory.
	ErrTooLarge = sentinel("too-large", "too large")
	// ErrInvalidDigest: a descriptor's digest, or a blob's file name, is not a
	// valid digest of an algorithm go-digest supports.
	ErrInvalidDigest = sentinel("invalid-digest", "invalid digest")
	// ErrNotDistributed: Blob was asked for a non-distributable layer whose
	// blob the layout lacks, which Analyze accepts unverified (see
	// IsNonDistributable). Such an error wraps ErrBlobMissing too.
	ErrNotDistributed = sentinel("not-distributed", "non-distributable layer absent")
	// ErrBlobMissing: a referenced blob is not in the layout.
	ErrBlobMissing = sentinel("blob-missing", "blob missing")
	// ErrNotRegular: a blob is present but not as a regular file (symlink,
	// hard link, directory, sparse file), so its bytes cannot be trusted.
	ErrNotRegular = sentinel("not-regular", "not a regular file")
	// ErrDigestMismatch: a blob's content does not hash to its digest.
	ErrDigestMismatch = sentinel("digest-mismatch", "digest mismatch")
	// ErrSizeMismatch: a blob's size differs from the descriptor's size.
	ErrSizeMismatch = sentinel("size-mismatch", "size mismatch")
	// ErrDiffIDMismatch: a config's rootfs.diff_ids do not match the
	// manifest's layers: not one per layer, or (with
	// Options.VerifyDiffIDs) a layer that does not decompress to its
	// diff_id (OCI image-spec config.md, "rootfs").
	ErrDiffIDMismatch = sentinel("diffid-mismatch", "diff_id mismatch")
	// ErrDuplicateEntry: the tar holds the same name twice. Tar semantics
	// make the later entry win, and this package reads the later one too,
	// but readers disagree on this, so a sound image never has duplicates.
	ErrDuplicateEntry = sentinel("duplicate-entry", "duplicate entry")
	// ErrNoManifests: index.json lists no manifest, so there is no image.
	ErrNoManifests = sentinel("no-manifests", "index lists no manifests")
	// ErrClosed: the Layout was used after Close.
	ErrClosed = sentinel("closed", "layout closed")
)

// kinds lists the sentinels in declaration order, each with a stable,
// machine-readable name for JSON output.
var kinds []kind

type kind struct {
	err  error
	kind string
}

// sentinel makes a sentinel error and records its kind name.
func sentinel(name, msg string) error {
	err := errors.New(msg)
	kinds = append(kinds, kind{err, name})
	return err
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

// Package oci reads container image tarballs written by BuildKit's docker
// and OCI exporters (and OCI image layout directories), and verifies them.
//
// Open scans a tarball once, front to back, hashing every file under blobs/
// with the algorithm its name claims (sha256, sha384, sha512) while it
// streams past; it keeps only each file's offset, size and digest, so memory
// does not grow with the tarball's size. Blob then serves any blob through an
// io.SectionReader over those offsets, verifying it again as it is read, from
// as many goroutines as needed. Gzip-compressed tarballs are decompressed
// during the same single pass into a temporary file that has no name (Linux
// O_TMPFILE, else unlinked as soon as it is created), so nothing of it
// outlives the process, even one killed with SIGKILL.
//
// Analyze walks index.json -> manifests (through nested indexes, depth first,
// in document order, as repro-build lists them) -> configs and layers, and
// checks every referenced blob and every file under blobs/, referenced or
// not, against its digest and size. A non-distributable layer whose blob is
// absent is accepted and listed in Analysis.Unverified (see
// IsNonDistributable); any other missing blob is damage. Each manifest's
// layers are held against its config's rootfs.diff_ids: their number always,
// each layer's uncompressed digest with Options.VerifyDiffIDs. Its notion of the image digest is
// repro-build's: the digest of index.json's first manifest.
//
// Verify runs Analyze's checks on an opened Layout and keeps the verdict.
// Blob (each read) and Verify (the whole image) are the one verifier that
// both `repro-matrix analyze` and `repro-matrix diff` read through: diff
// verifies both images before comparing them, so that an image analyze calls
// damaged is never reported equal (issue 10, point 4).
//
// Errors and problems. Input that cannot be analysed at all (not a tar
// archive, truncated, no usable index.json) is an error from Open and
// Analyze. Damage found while walking a usable layout (a blob missing,
// tampered, of the wrong size, malformed, too large; a duplicate tar entry)
// is collected as Problems in the Analysis, all of them, and Analyze also
// returns them joined as its error. Every error wraps one sentinel from
// errors.go and names the blob or file concerned.
//
// Decisions:
//   - Tar entry names are cleaned: "./index.json", "/index.json" and
//     "index.json" are the same file.
//   - A name present twice in a tar is a problem (ErrDuplicateEntry); the
//     later entry is used, as tar extraction and Python's tarfile do.
//   - Blob files must be regular tar entries; symlinks, hard links and
//     sparse entries are refused (ErrNotRegular).
//   - The tar must end with its end-of-archive marker, otherwise it is
//     reported as truncated: a download cut at a block boundary would look
//     complete otherwise.
//   - JSON documents (index, manifest, config) over 16 MiB, all documents
//     together over 64 MiB, or more than 4096 manifests are refused
//     (ErrTooLarge) rather than read into memory.
//   - Limits caps the entries of an archive (100,000), the size a tar
//     header claims (64 GiB) and what a decompression may produce (100 times
//     the compressed size, at least 256 MiB); over a cap, the input is
//     refused with a *LimitError naming the cap and the flag raising it.
package oci

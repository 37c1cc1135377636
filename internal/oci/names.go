package oci

import (
	// go-digest only knows the algorithms whose hash is linked in; without
	// these imports Algorithm.Available reports false for them.
	_ "crypto/sha256"
	_ "crypto/sha512"
	"fmt"
	"path"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Names of the files of an OCI image layout, and of the docker exporter's
// extra manifest.
const (
	indexName        = ocispec.ImageIndexFile  // "index.json"
	layoutName       = ocispec.ImageLayoutFile // "oci-layout"
	dockerManifest   = "manifest.json"
	blobsDir         = ocispec.ImageBlobsDir // "blobs"
	blobsPrefix      = blobsDir + "/"
	maxDocumentSize  = 16 << 20 // one JSON document (index, manifest, config)
	maxDocumentTotal = 64 << 20 // all JSON documents an Analysis keeps
)

// cleanName maps a tar entry name to the layout-relative name it stands for:
// "./index.json", "/index.json" and "index.json" are all "index.json".
// Entries written with a leading "./" occur in real OCI tarballs.
func cleanName(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// blobPath is where the layout stores the blob with digest d. d must be valid.
func blobPath(d digest.Digest) string {
	return path.Join(blobsDir, d.Algorithm().String(), d.Encoded())
}

// validDigest checks d the way every blob access does: well-formed and of an
// algorithm that can be verified here.
func validDigest(d digest.Digest) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("digest %q: %w: %v", d, ErrInvalidDigest, err)
	}
	return nil
}

// digestOfPath is the digest a file under blobs/ claims by its name.
func digestOfPath(name string) (digest.Digest, error) {
	rest, ok := strings.CutPrefix(name, blobsPrefix)
	alg, enc, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 {
		return "", fmt.Errorf("%s: %w: not named blobs/ALGORITHM/ENCODED", name, ErrInvalidDigest)
	}
	d := digest.NewDigestFromEncoded(digest.Algorithm(alg), enc)
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("%s: %w: file name is not a valid digest: %v", name, ErrInvalidDigest, err)
	}
	return d, nil
}

// isRecorded tells whether the scan keeps a tar entry: only the layout's own
// files matter, which bounds memory for archives full of other entries.
func isRecorded(name string) bool {
	switch name {
	case indexName, layoutName, dockerManifest:
		return true
	}
	return strings.HasPrefix(name, blobsPrefix)
}

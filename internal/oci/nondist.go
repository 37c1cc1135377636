package oci

import (
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Unverified is a layer Analyze accepted without reading it: a
// non-distributable layer whose blob is absent from the layout.
type Unverified struct {
	Manifest  digest.Digest `json:"manifest"` // the image manifest listing it
	Layer     int           `json:"layer"`    // its index in the manifest's layers, from 0
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType"`
	Size      int64         `json:"size"`
	// URLs are where the descriptor says the blob may be fetched from.
	URLs []string `json:"urls,omitempty"`
}

// String is one line saying what was not verified and why, e.g.
// "layer 1 of manifest sha256:…: non-distributable (MEDIA TYPE), blob
// sha256:… (153 bytes) absent, not verified; urls: https://…".
func (u Unverified) String() string {
	s := fmt.Sprintf("layer %d of manifest %s: non-distributable (%s), blob %s (%d bytes) absent, not verified",
		u.Layer+1, u.Manifest, u.MediaType, u.Digest, u.Size)
	if len(u.URLs) == 0 {
		return s + "; the descriptor lists no urls"
	}
	return fmt.Sprintf("%s; urls: %v", s, u.URLs)
}

// Media types of non-distributable layers: OCI's (image-spec layer.md,
// "Non-Distributable Layers", deprecated in v1.1 but still defined) and
// Docker's foreign layers (image manifest v2, schema 2).
var nonDistributable = map[string]bool{
	ocispec.MediaTypeImageLayerNonDistributable:                 true, //nolint:staticcheck // deprecated, still written
	ocispec.MediaTypeImageLayerNonDistributableGzip:             true, //nolint:staticcheck
	ocispec.MediaTypeImageLayerNonDistributableZstd:             true, //nolint:staticcheck
	"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": true,
}

// IsNonDistributable reports whether a layer of mediaType is
// non-distributable: its blob may be absent from a layout, to be fetched
// from its descriptor's urls. The OCI image layout lets any referenced blob
// be absent ("The blobs directory MAY be missing referenced blobs",
// image-spec image-layout.md); repro-matrix accepts that only for these
// layers, which registries and exporters leave out on purpose, and counts
// any other missing blob as damage.
func IsNonDistributable(mediaType string) bool { return nonDistributable[mediaType] }

// absentNonDistributable tells whether d is a non-distributable layer whose
// blob the layout lacks, the one kind of absence Analyze accepts.
func (l *Layout) absentNonDistributable(d ocispec.Descriptor) bool {
	if !IsNonDistributable(d.MediaType) || validDigest(d.Digest) != nil {
		return false
	}
	_, err := l.st.lookup(blobPath(d.Digest))
	return errors.Is(err, ErrBlobMissing) && !errors.Is(err, ErrNotRegular)
}

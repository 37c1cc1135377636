package oci

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Analysis is what Analyze finds in an image tarball or layout.
//
// ImageDigest follows repro-build's notion exactly: the digest of the first
// descriptor in index.json (manifests[0]), which is the image manifest for a
// single-platform build and the nested image index for a multi-platform one.
// It is the digest BuildKit prints for the build and the one a registry
// serves for the pushed tag.
type Analysis struct {
	Path           string        `json:"path"`
	Format         string        `json:"format"` // "docker", "oci" or "directory"
	LayoutVersion  string        `json:"layoutVersion,omitempty"`
	IndexDigest    digest.Digest `json:"indexDigest"`
	IndexMediaType string        `json:"indexMediaType,omitempty"`
	ImageDigest    digest.Digest `json:"imageDigest,omitempty"`
	// Manifests lists every manifest and nested index reachable from
	// index.json, depth first in document order (repro-build's order).
	Manifests []Manifest `json:"manifests"`
	// Blobs and BlobBytes count the files under blobs/, all of which were
	// checked against the digest their name claims.
	Blobs     int   `json:"blobs"`
	BlobBytes int64 `json:"blobBytes"`
	// Problems lists all damage found. The input is sound iff it is empty.
	Problems []Problem `json:"problems"`
	// Unverified lists the non-distributable layers whose blobs are absent,
	// which are accepted but could not be checked (see IsNonDistributable).
	Unverified []Unverified `json:"unverified,omitempty"`
	// IndexContents is index.json as stored.
	IndexContents json.RawMessage `json:"indexContents,omitempty"`
}

// Manifest describes one image manifest or nested index.
type Manifest struct {
	Path      string            `json:"path"` // blobs/ALG/ENCODED
	Digest    digest.Digest     `json:"digest"`
	MediaType string            `json:"mediaType"` // the document's own, else the descriptor's
	Size      int64             `json:"size"`
	Platform  *ocispec.Platform `json:"platform,omitempty"` // from the referencing descriptor
	IsIndex   bool              `json:"isIndex"`
	// Parent is the digest of the index that lists this one; "" for index.json.
	Parent          digest.Digest     `json:"parent,omitempty"`
	ConfigDigest    digest.Digest     `json:"configDigest,omitempty"`
	ConfigMediaType string            `json:"configMediaType,omitempty"`
	LayerCount      int               `json:"layerCount"`
	LayerBytes      int64             `json:"layerBytes"`
	Annotations     map[string]string `json:"annotations,omitempty"`
	// DescriptorAnnotations are those on the descriptor in the parent index.
	DescriptorAnnotations map[string]string `json:"descriptorAnnotations,omitempty"`
	// Contents and ConfigContents are the documents as stored; nil when
	// they could not be read.
	Contents       json.RawMessage `json:"contents,omitempty"`
	ConfigContents json.RawMessage `json:"configContents,omitempty"`
}

// PlatformString formats the platform as os/arch[/variant], "" if unknown.
func (m Manifest) PlatformString() string {
	p := m.Platform
	if p == nil || (p.OS == "" && p.Architecture == "") {
		return ""
	}
	return strings.Join(nonEmpty(p.OS, p.Architecture, p.Variant), "/")
}

func nonEmpty(parts ...string) []string {
	var out []string
	for _, s := range parts {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Problem is one piece of damage: a missing, tampered or malformed blob or
// file. It unwraps to the package's sentinel errors.
type Problem struct {
	Blob    string `json:"blob,omitempty"` // digest, or file name when no valid digest
	Kind    string `json:"kind"`           // the sentinel, e.g. "digest-mismatch"
	Message string `json:"message"`
	err     error
}

func newProblem(blob string, err error) Problem {
	return Problem{Blob: blob, Kind: kindOf(err), Message: err.Error(), err: err}
}

func (p Problem) Error() string { return p.Message }

// Unwrap gives the underlying error. A Problem decoded from JSON has none, so
// it falls back to the sentinel its Kind names.
func (p Problem) Unwrap() error {
	if p.err != nil {
		return p.err
	}
	for _, k := range kinds {
		if k.kind == p.Kind {
			return k.err
		}
	}
	return nil
}

// Err joins every problem into one error, nil if the input is sound.
func (a *Analysis) Err() error {
	errs := make([]error, len(a.Problems))
	for i, p := range a.Problems {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// StripContents drops the stored documents, for compact output.
func (a *Analysis) StripContents() {
	a.IndexContents = nil
	for i := range a.Manifests {
		a.Manifests[i].Contents = nil
		a.Manifests[i].ConfigContents = nil
	}
}

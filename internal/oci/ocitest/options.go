package ocitest

import (
	// go-digest only knows the algorithms whose hash is linked in.
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Options describe a layout in the shape BuildKit's docker and OCI
// exporters write, for BuildLayout.
type Options struct {
	// Images default to one linux/amd64 image with two small opaque layers
	// ("layer one", "layer two"). An image without a Platform is
	// linux/amd64; its config states its platform.
	Images []Image
	// Docker writes what BuildKit's docker exporter writes: docker media
	// types and a docker manifest.json beside the OCI layout.
	Docker bool
	// Nested puts an image index between index.json and the manifests, as
	// BuildKit does for multi-platform builds; implied by several Images.
	Nested bool
	// DotSlash names every tar entry "./NAME".
	DotSlash bool
	// Algorithm digests every blob; default sha256.
	Algorithm digest.Algorithm
}

// BuildLayout builds the layout o describes: documents indented as
// BuildKit writes them, index.json's descriptor annotated with the
// creation time, files sorted by name. It fails as Build does.
func BuildLayout(o Options) (*Layout, error) {
	st := style{alg: o.Algorithm, indent: true,
		topAnnotations: map[string]string{ocispec.AnnotationCreated: Epoch.Format(time.RFC3339)}}
	if st.alg == "" {
		st.alg = digest.SHA256
	}
	images := o.Images
	if len(images) == 0 {
		images = []Image{{Layers: Blobs(Bytes([]byte("layer one")), Bytes([]byte("layer two")))}}
	}
	ix := Index{Nested: o.Nested || len(images) > 1, Docker: o.Docker}
	for _, img := range images {
		img.Docker = o.Docker
		if img.Platform == nil {
			img.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
		}
		if img.Config == nil {
			img.Config = platformConfig(*img.Platform)
		}
		ix.Images = append(ix.Images, img)
	}
	s, err := build(ix, st)
	if err != nil {
		return nil, err
	}
	var extra []LayoutFile
	if o.Docker {
		dm, err := json.Marshal(dockerManifest(s))
		if err != nil {
			return nil, err
		}
		extra = append(extra, LayoutFile{Name: "manifest.json", Mode: 0o644, Content: Bytes(dm)})
	}
	l := s.layout(extra)
	l.DotSlash = o.DotSlash
	return l, nil
}

// MustBuildLayout is BuildLayout for tests that cannot go on without the
// layout.
func MustBuildLayout(tb testing.TB, o Options) *Layout {
	tb.Helper()
	l, err := BuildLayout(o)
	if err != nil {
		tb.Fatalf("ocitest: build layout: %v", err)
	}
	return l
}

// platformConfig makes the config state platform p.
func platformConfig(p ocispec.Platform) func(c map[string]any) {
	return func(c map[string]any) {
		c["os"], c["architecture"] = p.OS, p.Architecture
		if p.Variant != "" {
			c["variant"] = p.Variant
		}
	}
}

// dockerManifest is the docker exporter's manifest.json for s.
func dockerManifest(s *Store) tarball.Manifest {
	var dm tarball.Manifest
	for _, img := range s.images {
		var layers []string
		for _, l := range img.layers {
			layers = append(layers, BlobPath(l.Digest))
		}
		dm = append(dm, tarball.Descriptor{
			Config: BlobPath(img.config.Digest), RepoTags: []string{"repro-matrix/test:latest"}, Layers: layers,
		})
	}
	return dm
}

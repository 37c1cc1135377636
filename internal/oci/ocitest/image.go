package ocitest

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Image describes one image manifest with its config and layers.
type Image struct {
	// Docker selects docker schema 2 media types instead of OCI ones.
	Docker bool
	// Platform is set in the index descriptor (the config always says
	// linux/amd64 unless Config changes it). Nil leaves it out.
	Platform *ocispec.Platform
	Layers   []Layer
	// Config edits the default config (a JSON object) before it is encoded.
	Config func(c map[string]any)
	// ConfigRaw, if set, replaces the config document.
	ConfigRaw []byte
	// ManifestAnnotations go into the manifest; DescriptorAnnotations into
	// the index's descriptor of it.
	ManifestAnnotations   map[string]string
	DescriptorAnnotations map[string]string
	// ManifestMediaType overrides the manifest's mediaType field.
	ManifestMediaType *string
	// Subject is the manifest's subject (the image it refers to).
	Subject *ocispec.Descriptor
	// Attestation makes this an attestation manifest for the image at
	// index AttestationFor in the same index.
	Attestation    bool
	AttestationFor int
}

// Index describes the whole image: one or more manifests.
type Index struct {
	Images []Image
	// MediaType of the index document (default: OCI, or docker list when
	// Docker and Nested).
	MediaType   *string
	Annotations map[string]string
	// Nested puts the manifests in an image index that index.json points
	// to, as BuildKit and docker's containerd store export multi-platform
	// images.
	Nested bool
	// NestDepth nests that many indexes (Nested is NestDepth 1).
	NestDepth int
	// Docker uses docker media types for the nested index.
	Docker bool
}

// style is how documents and blobs are written: Build's defaults, or
// BuildKit's for BuildLayout.
type style struct {
	alg    digest.Algorithm // of every blob's digest
	indent bool             // indent JSON documents, as BuildKit does
	// topAnnotations go on every descriptor of index.json.
	topAnnotations map[string]string
}

// Build assembles the image ix describes, with sha256 digests and compact
// JSON documents. It fails on an entry archive/tar refuses, an unknown
// compression, or an attestation for an image not yet built.
func Build(ix Index) (*Store, error) { return build(ix, style{alg: digest.SHA256}) }

// MustBuild is Build for tests that cannot go on without the image; it
// panics on error.
func MustBuild(ix Index) *Store {
	s, err := Build(ix)
	if err != nil {
		panic(err)
	}
	return s
}

func build(ix Index, st style) (*Store, error) {
	s := &Store{style: st, blobs: map[digest.Digest]blob{}, Opened: map[digest.Digest]int{}}
	var descs []ocispec.Descriptor
	for i, img := range ix.Images {
		d, err := s.addImage(img, descs)
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", i, err)
		}
		descs = append(descs, d)
	}
	top := ocispec.Index{Versioned: specsV2(), MediaType: ocispec.MediaTypeImageIndex, Manifests: descs}
	depth := ix.NestDepth
	if ix.Nested && depth == 0 {
		depth = 1
	}
	for range depth {
		nested := ocispec.Index{Versioned: specsV2(), MediaType: ocispec.MediaTypeImageIndex, Manifests: top.Manifests}
		mt := ocispec.MediaTypeImageIndex
		if ix.Docker {
			mt = string(types.DockerManifestList)
			nested.MediaType = mt
		}
		d, err := s.addJSON(mt, nested)
		if err != nil {
			return nil, err
		}
		s.nested = &d
		top.Manifests = []ocispec.Descriptor{d}
	}
	if st.topAnnotations != nil {
		top.Manifests = append([]ocispec.Descriptor(nil), top.Manifests...)
		for i := range top.Manifests {
			top.Manifests[i].Annotations = maps.Clone(st.topAnnotations)
		}
	}
	if ix.MediaType != nil {
		top.MediaType = *ix.MediaType
	}
	top.Annotations = ix.Annotations
	b, err := json.Marshal(top)
	if err != nil {
		return nil, err
	}
	s.index, s.indexJSON, s.indexDigest = top, b, digest.FromBytes(b)
	return s, nil
}

func specsV2() specs.Versioned { return specs.Versioned{SchemaVersion: 2} }

// add stores a blob and returns its descriptor.
func (s *Store) add(mt string, c Content) (ocispec.Descriptor, error) {
	d, err := s.alg.FromReader(c.Open())
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	s.blobs[d] = blob{Content: c}
	return ocispec.Descriptor{MediaType: mt, Digest: d, Size: c.Size}, nil
}

func (s *Store) addJSON(mt string, v any) (ocispec.Descriptor, error) {
	var b []byte
	var err error
	if s.indent {
		b, err = json.MarshalIndent(v, "", "  ")
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return s.add(mt, Bytes(b))
}

// addImage adds one image's layers, config and manifest, and returns the
// manifest's descriptor for the index. earlier are the descriptors of the
// images added before, which an attestation may refer to.
func (s *Store) addImage(img Image, earlier []ocispec.Descriptor) (ocispec.Descriptor, error) {
	var built builtImage
	var diffIDs []digest.Digest
	for i, l := range img.Layers {
		d, diffID, err := s.addLayer(img.Docker, l)
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("layer %d: %w", i, err)
		}
		built.layers = append(built.layers, d)
		diffIDs = append(diffIDs, diffID)
	}
	cfgMT, manMT := ocispec.MediaTypeImageConfig, ocispec.MediaTypeImageManifest
	if img.Docker {
		cfgMT, manMT = string(types.DockerConfigJSON), string(types.DockerManifestSchema2)
	}
	var err error
	if img.ConfigRaw != nil {
		built.config, err = s.add(cfgMT, Bytes(img.ConfigRaw))
	} else {
		built.config, err = s.addJSON(cfgMT, defaultConfig(img, diffIDs))
	}
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	m := ocispec.Manifest{Versioned: specsV2(), MediaType: manMT, Config: built.config, Layers: built.layers,
		Annotations: img.ManifestAnnotations, Subject: img.Subject}
	if m.Layers == nil {
		m.Layers = []ocispec.Descriptor{}
	}
	if img.ManifestMediaType != nil {
		m.MediaType = *img.ManifestMediaType
	}
	d, err := s.addJSON(manMT, m)
	if err != nil {
		return d, err
	}
	d.Platform = img.Platform
	d.Annotations = maps.Clone(img.DescriptorAnnotations)
	if img.Attestation {
		if img.AttestationFor >= len(earlier) {
			return d, errors.New("attestation for an image not yet built")
		}
		if d.Annotations == nil {
			d.Annotations = map[string]string{}
		}
		d.Annotations["vnd.docker.reference.type"] = "attestation-manifest"
		d.Annotations["vnd.docker.reference.digest"] = string(earlier[img.AttestationFor].Digest)
		d.Platform = &ocispec.Platform{OS: "unknown", Architecture: "unknown"}
	}
	built.manifest = d
	s.images = append(s.images, built)
	return d, nil
}

// defaultConfig is the config BuildKit would write for img, edited by
// img.Config; layers have the given diff-ids.
func defaultConfig(img Image, diffIDs []digest.Digest) map[string]any {
	// nil, not empty, without layers: "diff_ids": null, as the tests'
	// recorded digests expect.
	var ids, history []any
	for i, id := range diffIDs {
		ids = append(ids, string(id))
		history = append(history, map[string]any{
			"created":    Epoch.Format(time.RFC3339),
			"created_by": fmt.Sprintf("RUN /bin/sh -c step-%d # buildkit", i),
			"comment":    "buildkit.dockerfile.v0",
		})
	}
	rootfs := map[string]any{"type": "layers", "diff_ids": ids}
	cfg := map[string]any{
		"created":      Epoch.Format(time.RFC3339),
		"architecture": "amd64",
		"os":           "linux",
		"config": map[string]any{
			"Env":        []any{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			"Cmd":        []any{"/bin/sh"},
			"WorkingDir": "/",
		},
		"rootfs":  rootfs,
		"history": history,
	}
	if img.Attestation {
		cfg = map[string]any{"architecture": "unknown", "os": "unknown", "config": map[string]any{}, "rootfs": rootfs}
	}
	if img.Config != nil {
		img.Config(cfg)
	}
	return cfg
}

// addLayer adds a layer blob and returns its descriptor and diff-id.
func (s *Store) addLayer(docker bool, l Layer) (ocispec.Descriptor, digest.Digest, error) {
	c := l.Compression
	if c == "" {
		c = Gzip
	}
	mt := l.MediaType
	if mt == "" {
		mt = layerMediaType(docker, c)
	}
	var d ocispec.Descriptor
	var diffID digest.Digest
	var err error
	switch {
	case l.Raw.Open != nil && l.RawDigest != "":
		s.blobs[l.RawDigest] = blob{Content: l.Raw, trusted: true}
		d, diffID = ocispec.Descriptor{MediaType: mt, Digest: l.RawDigest, Size: l.Raw.Size}, l.RawDigest
	case l.Raw.Open != nil:
		d, err = s.add(mt, l.Raw)
		diffID = d.Digest
	default:
		var raw, compressed []byte
		raw, err = TarBytes(l.Entries, l.Format)
		if err == nil {
			compressed, err = Compress(raw, c, l.GzipLevel)
		}
		if err == nil {
			d, err = s.add(mt, Bytes(compressed))
			diffID = digest.FromBytes(raw)
		}
	}
	if err != nil {
		return d, "", err
	}
	d.Annotations = maps.Clone(l.Annotations)
	return d, diffID, nil
}

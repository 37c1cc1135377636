package ocitest

import (
	// Make sha256 and sha512 available to go-digest.
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/json"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Image is one platform's image.
type Image struct {
	Layers   []Content
	Platform ocispec.Platform // zero value: linux/amd64
}

// Options describe the layout to build.
type Options struct {
	// Images default to one linux/amd64 image with two small layers.
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

// File is one file of the layout.
type File struct {
	Name    string // layout-relative, e.g. "blobs/sha256/ab…"
	Dir     bool
	Mode    int64
	Content Content
}

// Layout is a built image layout and what it contains.
type Layout struct {
	Files    []File // in tar order
	DotSlash bool
	// IndexDigest is the sha256 of index.json; ImageDigest its manifests[0].
	IndexDigest digest.Digest
	ImageDigest digest.Digest
	Nested      *ocispec.Descriptor  // the nested index, if any
	Manifests   []ocispec.Descriptor // image manifests, in Images order
	Configs     []ocispec.Descriptor
	Layers      []ocispec.Descriptor // all images' layers, in order
}

// Created is the timestamp of every built image (SOURCE_DATE_EPOCH=0).
var Created = time.Unix(0, 0).UTC()

// Build builds the layout o describes.
func Build(o Options) (*Layout, error) {
	b := &builder{o: o, alg: o.Algorithm, blobs: map[string]File{}}
	if b.alg == "" {
		b.alg = digest.SHA256
	}
	if len(o.Images) == 0 {
		b.o.Images = []Image{{Layers: []Content{Bytes([]byte("layer one")), Bytes([]byte("layer two"))}}}
	}
	return b.build()
}

type builder struct {
	o     Options
	alg   digest.Algorithm
	blobs map[string]File
	out   Layout
	dm    tarball.Manifest
}

func (b *builder) build() (*Layout, error) {
	var top ocispec.Descriptor
	for _, img := range b.o.Images {
		if err := b.image(img); err != nil {
			return nil, err
		}
	}
	if b.o.Nested || len(b.o.Images) > 1 {
		nested, err := b.nestedIndex()
		if err != nil {
			return nil, err
		}
		b.out.Nested, top = &nested, nested
	} else {
		top = b.out.Manifests[0]
	}
	top.Annotations = map[string]string{ocispec.AnnotationCreated: Created.Format(time.RFC3339)}
	if err := b.finish(top); err != nil {
		return nil, err
	}
	return &b.out, nil
}

// add stores a blob and returns its descriptor.
func (b *builder) add(mediaType string, c Content) (ocispec.Descriptor, error) {
	d, err := digestOf(b.alg, c)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	name := BlobPath(d)
	b.blobs[name] = File{Name: name, Mode: 0o444, Content: c}
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: c.Size}, nil
}

func (b *builder) addJSON(mediaType string, v any) (ocispec.Descriptor, error) {
	// BuildKit indents the manifests and configs it writes.
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return b.add(mediaType, Bytes(raw))
}

// image adds one image's layers, config and manifest.
func (b *builder) image(img Image) error {
	plat := img.Platform
	if plat.OS == "" {
		plat = ocispec.Platform{OS: "linux", Architecture: "amd64"}
	}
	var layers []ocispec.Descriptor
	for _, c := range img.Layers {
		d, err := b.add(b.mediaType(types.OCILayer, types.DockerLayer), c)
		if err != nil {
			return err
		}
		layers = append(layers, d)
	}
	cfg, err := b.addJSON(b.mediaType(types.OCIConfigJSON, types.DockerConfigJSON), config(plat, layers))
	if err != nil {
		return err
	}
	mt := b.mediaType(types.OCIManifestSchema1, types.DockerManifestSchema2)
	man, err := b.addJSON(mt, ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: mt, Config: cfg, Layers: layers,
	})
	if err != nil {
		return err
	}
	man.Platform = &plat
	b.out.Manifests = append(b.out.Manifests, man)
	b.out.Configs = append(b.out.Configs, cfg)
	b.out.Layers = append(b.out.Layers, layers...)
	b.dm = append(b.dm, tarball.Descriptor{
		Config: BlobPath(cfg.Digest), RepoTags: []string{"repro-matrix/test:latest"}, Layers: paths(layers),
	})
	return nil
}

func (b *builder) mediaType(oci, docker types.MediaType) string {
	if b.o.Docker {
		return string(docker)
	}
	return string(oci)
}

// config is a minimal image config; layers stand in for their diff IDs.
func config(plat ocispec.Platform, layers []ocispec.Descriptor) ocispec.Image {
	img := ocispec.Image{
		Created: &Created, Platform: plat,
		Config: ocispec.ImageConfig{Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{}},
	}
	for _, l := range layers {
		img.RootFS.DiffIDs = append(img.RootFS.DiffIDs, l.Digest)
		img.History = append(img.History, ocispec.History{Created: &Created, CreatedBy: "COPY . /"})
	}
	return img
}

func (b *builder) nestedIndex() (ocispec.Descriptor, error) {
	mt := b.mediaType(types.OCIImageIndex, types.DockerManifestList)
	return b.addJSON(mt, ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: mt, Manifests: b.out.Manifests,
	})
}

// finish writes index.json, manifest.json and oci-layout and orders the
// files as containerd's archive exporter does: sorted by name.
func (b *builder) finish(top ocispec.Descriptor) error {
	idx, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{top},
	})
	if err != nil {
		return err
	}
	b.out.IndexDigest = digest.SHA256.FromBytes(idx)
	b.out.ImageDigest = top.Digest
	layout, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	files := []File{
		{Name: "blobs/", Dir: true, Mode: 0o755},
		{Name: "blobs/" + b.alg.String() + "/", Dir: true, Mode: 0o755},
		{Name: ocispec.ImageIndexFile, Mode: 0o644, Content: Bytes(idx)},
		{Name: ocispec.ImageLayoutFile, Mode: 0o444, Content: Bytes(layout)},
	}
	if b.o.Docker {
		dm, err := json.Marshal(b.dm)
		if err != nil {
			return err
		}
		files = append(files, File{Name: "manifest.json", Mode: 0o644, Content: Bytes(dm)})
	}
	for _, f := range b.blobs {
		files = append(files, f)
	}
	slices.SortFunc(files, func(x, y File) int { return strings.Compare(x.Name, y.Name) })
	b.out.Files, b.out.DotSlash = files, b.o.DotSlash
	return nil
}

func paths(ds []ocispec.Descriptor) []string {
	var out []string
	for _, d := range ds {
		out = append(out, BlobPath(d.Digest))
	}
	return out
}

// BlobPath is where a layout stores the blob with digest d.
func BlobPath(d digest.Digest) string {
	return path.Join("blobs", d.Algorithm().String(), d.Encoded())
}

// MustBuild is Build for tests that cannot go on without the layout.
func MustBuild(tb testing.TB, o Options) *Layout {
	tb.Helper()
	l, err := Build(o)
	if err != nil {
		tb.Fatalf("ocitest: build layout: %v", err)
	}
	return l
}

// Package imagetest assembles small container images in memory for tests:
// layers from tar entries (gzip, zstd or uncompressed), a config, a
// manifest and an index, with docker or OCI media types. A Store serves
// them as an imagediff.Source and can write them out as an OCI layout
// directory or tarball.
package imagetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Epoch is the default timestamp of everything the package builds.
var Epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Entry is one tar entry: a header and, for regular files, a body. Size is
// filled in from Body; ModTime defaults to Epoch.
type Entry struct {
	Header tar.Header
	Body   []byte
}

// File is a regular file with mode 0644, owned by root.
func File(name, body string) Entry {
	return Entry{Header: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644}, Body: []byte(body)}
}

// Dir is a directory with mode 0755.
func Dir(name string) Entry {
	return Entry{Header: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}}
}

// Symlink is a symbolic link.
func Symlink(name, target string) Entry {
	return Entry{Header: tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}}
}

// Hardlink is a hard link to an earlier entry.
func Hardlink(name, target string) Entry {
	return Entry{Header: tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: target, Mode: 0o644}}
}

// With returns e changed by fn, for one-off header tweaks.
func (e Entry) With(fn func(h *tar.Header)) Entry {
	fn(&e.Header)
	return e
}

// Compression of a layer blob.
type Compression string

const (
	Uncompressed Compression = "none"
	Gzip         Compression = "gzip"
	Zstd         Compression = "zstd"
)

// Layer describes one layer.
type Layer struct {
	Entries     []Entry
	Compression Compression // default Gzip
	GzipLevel   int         // default gzip.DefaultCompression
	// Format, if set, is forced on every header (tar.FormatUSTAR, PAX, GNU).
	Format      tar.Format
	MediaType   string // default follows the image flavour and compression
	Annotations map[string]string
	// Raw, if set, is the blob as is (not a tar, corrupt, …); DiffID is
	// then its digest unless RawDiffID is set.
	Raw       []byte
	RawDiffID digest.Digest
	// Stream, if set, produces an uncompressed tar stream too large to
	// keep; it is called once to hash it and again for every read, unless
	// StreamDigest and StreamSize are given (then it is never hashed, and
	// reads of it are not verified).
	Stream       func() io.Reader
	StreamDigest digest.Digest
	StreamSize   int64
}

// Generated is an uncompressed layer of n regular files of size bytes each
// (data/00000.bin …), generated on every read and never stored, so that
// tests can diff layers larger than they would keep in memory. The files
// whose numbers are listed in vary get other content; salt distinguishes
// the blob digests of layers that otherwise look alike. The digest is
// made up from the parameters, not hashed.
func Generated(n int, size int64, salt string, vary ...int) Layer {
	varies := map[int]bool{}
	for _, v := range vary {
		varies[v] = true
	}
	stream := func() io.Reader {
		pr, pw := io.Pipe()
		go func() {
			tw := tar.NewWriter(pw)
			buf := make([]byte, 64<<10)
			for i := range n {
				hdr := &tar.Header{Name: fmt.Sprintf("data/%05d.bin", i), Typeflag: tar.TypeReg, Mode: 0o644,
					Size: size, ModTime: Epoch, Format: tar.FormatPAX}
				if err := tw.WriteHeader(hdr); err != nil {
					pw.CloseWithError(err)
					return
				}
				x := uint64(i)*0x9e3779b97f4a7c15 + 1
				if varies[i] {
					x ^= 0xdeadbeef
				}
				for left := size; left > 0; {
					m := min(int64(len(buf)), left)
					for j := int64(0); j+8 <= m; j += 8 {
						x ^= x << 13
						x ^= x >> 7
						x ^= x << 17
						buf[j], buf[j+1], buf[j+2], buf[j+3] = byte(x), byte(x>>8), byte(x>>16), byte(x>>24)
						buf[j+4], buf[j+5], buf[j+6], buf[j+7] = byte(x>>32), byte(x>>40), byte(x>>48), byte(x>>56)
					}
					if _, err := tw.Write(buf[:m]); err != nil {
						pw.CloseWithError(err)
						return
					}
					left -= m
				}
			}
			pw.CloseWithError(tw.Close())
		}()
		return pr
	}
	// The tar stream's exact size: headers, data padded to blocks, and
	// the two-block end marker.
	per := int64(512) + (size+511)/512*512
	desc := fmt.Sprintf("generated:%d:%d:%s:%v", n, size, salt, vary)
	return Layer{Stream: stream, StreamDigest: digest.FromString(desc), StreamSize: int64(n)*per + 1024}
}

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

// Store is a built image, in memory.
type Store struct {
	index       ocispec.Index
	indexJSON   []byte
	indexDigest digest.Digest
	blobs       map[digest.Digest][]byte
	streams     map[digest.Digest]func() io.Reader
	// Opened counts Blob calls per digest.
	Opened map[digest.Digest]int
}

// Build assembles an image.
func Build(ix Index) (*Store, error) {
	s := &Store{blobs: map[digest.Digest][]byte{}, streams: map[digest.Digest]func() io.Reader{},
		Opened: map[digest.Digest]int{}}
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
		top.Manifests = []ocispec.Descriptor{d}
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

// MustBuild is Build for tests that cannot fail.
func MustBuild(ix Index) *Store {
	s, err := Build(ix)
	if err != nil {
		panic(err)
	}
	return s
}

func specsV2() specs.Versioned { return specs.Versioned{SchemaVersion: 2} }

func (s *Store) addJSON(mt string, v any) (ocispec.Descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return s.addBlob(mt, b), nil
}

func (s *Store) addBlob(mt string, b []byte) ocispec.Descriptor {
	d := digest.FromBytes(b)
	s.blobs[d] = b
	return ocispec.Descriptor{MediaType: mt, Digest: d, Size: int64(len(b))}
}

func (s *Store) addImage(img Image, earlier []ocispec.Descriptor) (ocispec.Descriptor, error) {
	var layerDescs []ocispec.Descriptor
	var diffIDs []any
	var history []any
	for i, l := range img.Layers {
		d, diffID, err := s.addLayer(img.Docker, l)
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("layer %d: %w", i, err)
		}
		layerDescs = append(layerDescs, d)
		diffIDs = append(diffIDs, string(diffID))
		history = append(history, map[string]any{
			"created":    Epoch.Format(time.RFC3339),
			"created_by": fmt.Sprintf("RUN /bin/sh -c step-%d # buildkit", i),
			"comment":    "buildkit.dockerfile.v0",
		})
	}
	cfgMT, manMT := ocispec.MediaTypeImageConfig, ocispec.MediaTypeImageManifest
	if img.Docker {
		cfgMT, manMT = string(types.DockerConfigJSON), string(types.DockerManifestSchema2)
	}
	var cfgDesc ocispec.Descriptor
	if img.ConfigRaw != nil {
		cfgDesc = s.addBlob(cfgMT, img.ConfigRaw)
	} else {
		cfg := map[string]any{
			"created":      Epoch.Format(time.RFC3339),
			"architecture": "amd64",
			"os":           "linux",
			"config": map[string]any{
				"Env":        []any{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
				"Cmd":        []any{"/bin/sh"},
				"WorkingDir": "/",
			},
			"rootfs":  map[string]any{"type": "layers", "diff_ids": diffIDs},
			"history": history,
		}
		if img.Attestation {
			cfg = map[string]any{"architecture": "unknown", "os": "unknown", "config": map[string]any{},
				"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}}
		}
		if img.Config != nil {
			img.Config(cfg)
		}
		var err error
		if cfgDesc, err = s.addJSON(cfgMT, cfg); err != nil {
			return ocispec.Descriptor{}, err
		}
	}
	m := ocispec.Manifest{Versioned: specsV2(), MediaType: manMT, Config: cfgDesc, Layers: layerDescs,
		Annotations: img.ManifestAnnotations}
	if layerDescs == nil {
		m.Layers = []ocispec.Descriptor{}
	}
	if img.ManifestMediaType != nil {
		m.MediaType = *img.ManifestMediaType
	}
	m.Subject = img.Subject
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
	return d, nil
}

// TarBytes writes entries as an uncompressed tar stream.
func TarBytes(entries []Entry, format tar.Format) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.Header
		if h.Typeflag == tar.TypeReg || (h.Typeflag == 0 && len(e.Body) > 0) {
			h.Size = int64(len(e.Body))
		}
		if h.ModTime.IsZero() {
			h.ModTime = Epoch
		}
		if format != tar.FormatUnknown {
			h.Format = format
		}
		if err := tw.WriteHeader(&h); err != nil {
			return nil, fmt.Errorf("%s: %w", h.Name, err)
		}
		if _, err := tw.Write(e.Body); err != nil {
			return nil, fmt.Errorf("%s: %w", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Compress compresses b.
func Compress(b []byte, c Compression, gzipLevel int) ([]byte, error) {
	var buf bytes.Buffer
	switch c {
	case Uncompressed:
		return b, nil
	case Gzip, "":
		if gzipLevel == 0 {
			gzipLevel = gzip.DefaultCompression
		}
		zw, err := gzip.NewWriterLevel(&buf, gzipLevel)
		if err != nil {
			return nil, err
		}
		if _, err := zw.Write(b); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
	case Zstd:
		zw, err := zstd.NewWriter(&buf)
		if err != nil {
			return nil, err
		}
		if _, err := zw.Write(b); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown compression %q", c)
	}
	return buf.Bytes(), nil
}

func layerMediaType(docker bool, c Compression) string {
	switch {
	case docker && c == Uncompressed:
		return string(types.DockerUncompressedLayer)
	case docker:
		return string(types.DockerLayer) // docker has no zstd type of its own
	case c == Uncompressed:
		return ocispec.MediaTypeImageLayer
	case c == Zstd:
		return ocispec.MediaTypeImageLayerZstd
	}
	return ocispec.MediaTypeImageLayerGzip
}

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
	switch {
	case l.Stream != nil && l.StreamDigest != "":
		s.streams[l.StreamDigest] = l.Stream
		if l.MediaType == "" {
			mt = layerMediaType(docker, Uncompressed)
		}
		d, diffID = ocispec.Descriptor{MediaType: mt, Digest: l.StreamDigest, Size: l.StreamSize}, l.StreamDigest
	case l.Stream != nil:
		h := sha256.New()
		n, err := io.Copy(h, l.Stream())
		if err != nil {
			return d, "", err
		}
		dg := digest.NewDigest(digest.SHA256, h)
		s.streams[dg] = l.Stream
		if l.MediaType == "" {
			mt = layerMediaType(docker, Uncompressed)
		}
		d, diffID = ocispec.Descriptor{MediaType: mt, Digest: dg, Size: n}, dg
	case l.Raw != nil:
		d = s.addBlob(mt, l.Raw)
		diffID = d.Digest
		if l.RawDiffID != "" {
			diffID = l.RawDiffID
		}
	default:
		raw, err := TarBytes(l.Entries, l.Format)
		if err != nil {
			return d, "", err
		}
		blob, err := Compress(raw, c, l.GzipLevel)
		if err != nil {
			return d, "", err
		}
		d, diffID = s.addBlob(mt, blob), digest.FromBytes(raw)
	}
	d.Annotations = maps.Clone(l.Annotations)
	return d, diffID, nil
}

// Index returns the top-level index (index.json).
func (s *Store) Index() ocispec.Index { return s.index }

// IndexDigest is the digest of index.json.
func (s *Store) IndexDigest() digest.Digest { return s.indexDigest }

// ErrBlobMissing is returned by Blob for digests the store lacks.
var ErrBlobMissing = errors.New("blob missing")

// Blob streams a blob and, at its end, checks it against the descriptor
// (but for Layer.Stream blobs).
func (s *Store) Blob(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.Opened[desc.Digest]++
	var r io.Reader
	if b, ok := s.blobs[desc.Digest]; ok {
		r = bytes.NewReader(b)
	} else if st, ok := s.streams[desc.Digest]; ok {
		// Generated streams are hashed once, in Build; hashing them again
		// on every read would only slow the tests that use them.
		r := st()
		if rc, ok := r.(io.ReadCloser); ok {
			return rc, nil
		}
		return io.NopCloser(r), nil
	} else {
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, ErrBlobMissing)
	}
	return &verifier{r: r, want: desc.Digest, size: desc.Size, h: sha256.New()}, nil
}

// ErrDigestMismatch is returned at the end of a blob that does not match
// its descriptor.
var ErrDigestMismatch = errors.New("digest mismatch")

type verifier struct {
	r    io.Reader
	want digest.Digest
	size int64
	n    int64
	h    hash.Hash
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF {
		if got := digest.NewDigest(digest.SHA256, v.h); got != v.want || v.n != v.size {
			return n, fmt.Errorf("blob %s: %w: got %s, %d bytes", v.want, ErrDigestMismatch, got, v.n)
		}
	}
	return n, err
}

func (v *verifier) Close() error { return nil }

// Delete removes a blob, to test missing blobs.
func (s *Store) Delete(d digest.Digest) {
	delete(s.blobs, d)
	delete(s.streams, d)
}

// Replace swaps a blob's content without changing its digest, to test
// corrupt blobs.
func (s *Store) Replace(d digest.Digest, b []byte) { s.blobs[d] = b }

// Manifest returns the index descriptor of the i-th manifest (looking
// through a nested index).
func (s *Store) Manifest(i int) ocispec.Descriptor {
	ms := s.index.Manifests
	if len(ms) == 1 && types.MediaType(ms[0].MediaType).IsIndex() {
		var nested ocispec.Index
		_ = json.Unmarshal(s.blobs[ms[0].Digest], &nested)
		ms = nested.Manifests
	}
	return ms[i]
}

// ParsedManifest returns the i-th image manifest.
func (s *Store) ParsedManifest(i int) ocispec.Manifest {
	var m ocispec.Manifest
	_ = json.Unmarshal(s.blobs[s.Manifest(i).Digest], &m)
	return m
}

// WriteLayout writes the image as an OCI layout directory.
func (s *Store) WriteLayout(dir string) error {
	return s.walkFiles(func(name string, size int64, open func() io.Reader) error {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, open()); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
}

// WriteTar writes the image as an OCI layout in a tar archive, the format
// of docker buildx --output type=oci.
func (s *Store) WriteTar(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	dirs := map[string]bool{}
	err = s.walkFiles(func(name string, size int64, open func() io.Reader) error {
		for dir := filepath.ToSlash(filepath.Dir(name)); dir != "." && !dirs[dir]; dir = filepath.ToSlash(filepath.Dir(dir)) {
			dirs[dir] = true
		}
		return nil
	})
	if err != nil {
		f.Close()
		return err
	}
	var dl []string
	for d := range dirs {
		dl = append(dl, d)
	}
	sort.Strings(dl)
	for _, d := range dl {
		if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: Epoch}); err != nil {
			f.Close()
			return err
		}
	}
	err = s.walkFiles(func(name string, size int64, open func() io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size, ModTime: Epoch}); err != nil {
			return err
		}
		_, err := io.Copy(tw, open())
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// walkFiles lists the files of the OCI layout in a stable order.
func (s *Store) walkFiles(fn func(name string, size int64, open func() io.Reader) error) error {
	layout := []byte(`{"imageLayoutVersion":"1.0.0"}`)
	if err := fn("oci-layout", int64(len(layout)), func() io.Reader { return bytes.NewReader(layout) }); err != nil {
		return err
	}
	if err := fn("index.json", int64(len(s.indexJSON)), func() io.Reader { return bytes.NewReader(s.indexJSON) }); err != nil {
		return err
	}
	var ds []digest.Digest
	for d := range s.blobs {
		ds = append(ds, d)
	}
	for d := range s.streams {
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	for _, d := range ds {
		name := "blobs/" + d.Algorithm().String() + "/" + d.Encoded()
		if b, ok := s.blobs[d]; ok {
			if err := fn(name, int64(len(b)), func() io.Reader { return bytes.NewReader(b) }); err != nil {
				return err
			}
			continue
		}
		st := s.streams[d]
		n, err := io.Copy(io.Discard, st())
		if err != nil {
			return err
		}
		if err := fn(name, n, st); err != nil {
			return err
		}
	}
	return nil
}

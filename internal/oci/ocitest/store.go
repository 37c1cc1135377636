package ocitest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"os"
	"slices"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Store is a built image, in memory. It serves blobs as imagediff.Source
// requires; tests damage it with Delete and Replace.
type Store struct {
	style
	index       ocispec.Index
	indexJSON   []byte
	indexDigest digest.Digest
	blobs       map[digest.Digest]blob
	images      []builtImage // in Index.Images order
	nested      *ocispec.Descriptor
	// Opened counts Blob calls per digest.
	Opened map[digest.Digest]int
}

// blob is a stored blob's content; trusted ones were not hashed (their
// digest was given), so reads of them are not verified.
type blob struct {
	Content
	trusted bool
}

// builtImage is what addImage wrote for one image.
type builtImage struct {
	manifest, config ocispec.Descriptor
	layers           []ocispec.Descriptor
}

// Index returns the top-level index (index.json).
func (s *Store) Index() ocispec.Index { return s.index }

// IndexDigest is the digest of index.json.
func (s *Store) IndexDigest() digest.Digest { return s.indexDigest }

// ErrBlobMissing is returned by Blob for digests the store lacks.
var ErrBlobMissing = errors.New("blob missing")

// ErrDigestMismatch is returned at the end of a blob that does not match
// its descriptor.
var ErrDigestMismatch = errors.New("digest mismatch")

// Blob streams a blob and, at its end, checks it against the descriptor's
// digest and size (but for blobs of a Layer.RawDigest). It fails at once,
// wrapping ErrBlobMissing, for a digest the store lacks, and with ctx's
// error when ctx is done.
func (s *Store) Blob(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.Opened[desc.Digest]++
	b, ok := s.blobs[desc.Digest]
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, ErrBlobMissing)
	}
	r := b.Open()
	if b.trusted {
		// Hashing generated streams on every read would only slow the
		// tests that use them. A pipe is closed to stop its generator.
		if rc, ok := r.(io.ReadCloser); ok {
			return rc, nil
		}
		return io.NopCloser(r), nil
	}
	if !desc.Digest.Algorithm().Available() {
		return nil, fmt.Errorf("blob %s: %w: unknown algorithm", desc.Digest, ErrDigestMismatch)
	}
	return &verifier{r: r, want: desc.Digest, size: desc.Size, h: desc.Digest.Algorithm().Hash()}, nil
}

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
		if got := digest.NewDigest(v.want.Algorithm(), v.h); got != v.want || v.n != v.size {
			return n, fmt.Errorf("blob %s: %w: got %s, %d bytes", v.want, ErrDigestMismatch, got, v.n)
		}
	}
	return n, err
}

func (v *verifier) Close() error { return nil }

// Verify stands in for oci.Layout.Verify, the whole-image check that
// imagediff.Source requires: every blob that index.json and the built images
// reference is present (ErrBlobMissing), and every blob the store holds,
// but for those of a Layer.RawDigest, hashes to its digest
// (ErrDigestMismatch). Problems are joined in digest order; nil when sound.
func (s *Store) Verify(ctx context.Context) error {
	var errs []error
	for _, d := range s.referenced() {
		if _, ok := s.blobs[d]; !ok {
			errs = append(errs, fmt.Errorf("blob %s: %w", d, ErrBlobMissing))
		}
	}
	for _, d := range slices.Sorted(maps.Keys(s.blobs)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		b := s.blobs[d]
		if b.trusted {
			continue
		}
		if !d.Algorithm().Available() {
			errs = append(errs, fmt.Errorf("blob %s: %w: unknown algorithm", d, ErrDigestMismatch))
			continue
		}
		got, err := d.Algorithm().FromReader(b.Open())
		if err != nil || got != d {
			errs = append(errs, fmt.Errorf("blob %s: %w: content hashes to %s", d, ErrDigestMismatch, got))
		}
	}
	return errors.Join(errs...)
}

// referenced lists the digests index.json and the built images point to,
// sorted, without repeats.
func (s *Store) referenced() []digest.Digest {
	set := map[digest.Digest]bool{}
	for _, d := range s.index.Manifests {
		set[d.Digest] = true
	}
	for _, img := range s.images {
		set[img.manifest.Digest], set[img.config.Digest] = true, true
		for _, l := range img.layers {
			set[l.Digest] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// Delete removes a blob, to test missing blobs.
func (s *Store) Delete(d digest.Digest) { delete(s.blobs, d) }

// Replace swaps a blob's content without changing its digest, to test
// corrupt blobs.
func (s *Store) Replace(d digest.Digest, b []byte) { s.blobs[d] = blob{Content: Bytes(b)} }

// Manifest returns the index descriptor of the i-th manifest (looking
// through a nested index).
func (s *Store) Manifest(i int) ocispec.Descriptor {
	ms := s.index.Manifests
	if len(ms) == 1 && types.MediaType(ms[0].MediaType).IsIndex() {
		var nested ocispec.Index
		_ = json.Unmarshal(s.blobs[ms[0].Digest].ReadAll(), &nested)
		ms = nested.Manifests
	}
	return ms[i]
}

// ParsedManifest returns the i-th image manifest.
func (s *Store) ParsedManifest(i int) ocispec.Manifest {
	var m ocispec.Manifest
	_ = json.Unmarshal(s.blobs[s.Manifest(i).Digest].ReadAll(), &m)
	return m
}

// Layout renders the store as the files of an OCI image layout, sorted by
// name, with the blobs as they are now (Delete and Replace show).
func (s *Store) Layout() *Layout { return s.layout(nil) }

// layout is Layout with extra files (a docker manifest.json).
func (s *Store) layout(extra []LayoutFile) *Layout {
	marker, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	files := []LayoutFile{
		{Name: ocispec.ImageBlobsDir + "/", Dir: true, Mode: 0o755},
		{Name: ocispec.ImageIndexFile, Mode: 0o644, Content: Bytes(s.indexJSON)},
		{Name: ocispec.ImageLayoutFile, Mode: 0o444, Content: Bytes(marker)},
	}
	dirs := map[digest.Algorithm]bool{}
	for d, b := range s.blobs {
		if !dirs[d.Algorithm()] {
			dirs[d.Algorithm()] = true
			files = append(files, LayoutFile{Name: ocispec.ImageBlobsDir + "/" + d.Algorithm().String() + "/", Dir: true, Mode: 0o755})
		}
		files = append(files, LayoutFile{Name: BlobPath(d), Mode: 0o444, Content: b.Content})
	}
	files = append(files, extra...)
	sortFiles(files)
	l := &Layout{Files: files, IndexDigest: s.indexDigest, Nested: s.nested}
	if len(s.index.Manifests) > 0 {
		l.ImageDigest = s.index.Manifests[0].Digest
	}
	for _, img := range s.images {
		l.Manifests = append(l.Manifests, img.manifest)
		l.Configs = append(l.Configs, img.config)
		l.Layers = append(l.Layers, img.layers...)
	}
	return l
}

// WriteLayout writes the image as an OCI layout directory at dir.
func (s *Store) WriteLayout(dir string) error { return s.Layout().WriteDir(dir) }

// WriteTar writes the image as an OCI layout in a tar archive at path, the
// format of docker buildx --output type=oci.
func (s *Store) WriteTar(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	err = s.Layout().WriteTar(w)
	if err == nil {
		err = w.Flush()
	}
	return errors.Join(err, f.Close())
}

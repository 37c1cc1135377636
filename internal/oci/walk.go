package oci

import (
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// visit records the manifest or index d points to, then its children, depth
// first: the order repro-build lists them in.
func (w *walker) visit(d ocispec.Descriptor, parent digest.Digest, depth int) {
	if !w.admit(d, depth) {
		return
	}
	m := Manifest{
		Digest: d.Digest, MediaType: d.MediaType, Size: d.Size,
		Platform: d.Platform, Parent: parent, DescriptorAnnotations: d.Annotations,
	}
	if key := keyOf(d.Digest); key != "" {
		m.Path = key
	}
	raw, err := w.readDoc(d)
	if err != nil {
		w.problem(keyOf(d.Digest), string(d.Digest), err)
		w.a.Manifests = append(w.a.Manifests, m)
		return
	}
	m.Contents = raw
	children := w.describe(&m, d, raw)
	w.a.Manifests = append(w.a.Manifests, m)
	for _, c := range children {
		w.visit(c, d.Digest, depth+1)
	}
}

// admit bounds the walk: content addressing rules out cycles, but not a
// hostile graph of millions of references.
func (w *walker) admit(d ocispec.Descriptor, depth int) bool {
	if w.ctx.Err() != nil || w.capped {
		return false
	}
	w.nodes++
	if w.nodes <= maxNodes && depth <= maxDepth {
		return true
	}
	w.capped = true
	w.problem("", string(d.Digest), fmt.Errorf("blob %s: %w: more than %d manifests or nesting deeper than %d", d.Digest, ErrTooLarge, maxNodes, maxDepth))
	return false
}

// describe fills m from the document raw and returns the descriptors of
// nested manifests to visit.
func (w *walker) describe(m *Manifest, d ocispec.Descriptor, raw []byte) []ocispec.Descriptor {
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		w.problem(keyOf(d.Digest), string(d.Digest), fmt.Errorf("blob %s: %w: %v", d.Digest, ErrMalformed, err))
		return nil
	}
	w.checkHeader(d, idx.SchemaVersion, idx.MediaType)
	if idx.MediaType != "" {
		m.MediaType = idx.MediaType
	}
	if types.MediaType(m.MediaType).IsIndex() || (m.MediaType == "" && len(idx.Manifests) > 0) {
		m.IsIndex = true
		m.Annotations = idx.Annotations
		return idx.Manifests
	}
	var man ocispec.Manifest
	if err := json.Unmarshal(raw, &man); err != nil {
		w.problem(keyOf(d.Digest), string(d.Digest), fmt.Errorf("blob %s: %w: %v", d.Digest, ErrMalformed, err))
		return nil
	}
	m.Annotations = man.Annotations
	w.describeImage(m, man)
	return nil
}

// checkHeader flags a document whose schemaVersion or mediaType is not what
// its descriptor promised.
func (w *walker) checkHeader(d ocispec.Descriptor, version int, mediaType string) {
	var err error
	switch {
	case version != 2:
		err = fmt.Errorf("blob %s: %w: schemaVersion is %d, want 2", d.Digest, ErrMalformed, version)
	case d.MediaType != "" && mediaType != "" && d.MediaType != mediaType:
		err = fmt.Errorf("blob %s: %w: the descriptor says media type %s, the document %s", d.Digest, ErrMalformed, d.MediaType, mediaType)
	}
	if err != nil {
		w.problem("", string(d.Digest), err)
	}
}

// describeImage checks an image manifest's config and layers.
func (w *walker) describeImage(m *Manifest, man ocispec.Manifest) {
	owner := fmt.Sprintf("manifest %s", m.Digest)
	if man.Config.Digest == "" {
		w.problem("", string(m.Digest), fmt.Errorf("blob %s: %w: the manifest has no config", m.Digest, ErrMalformed))
	} else {
		m.ConfigDigest, m.ConfigMediaType = man.Config.Digest, man.Config.MediaType
		m.ConfigContents = w.config(man.Config, owner)
	}
	defer w.checkDiffIDs(m, man.Layers, m.ConfigContents)
	m.LayerCount = len(man.Layers)
	for i, l := range man.Layers {
		m.LayerBytes += l.Size
		if w.l.absentNonDistributable(l) {
			w.absent[blobPath(l.Digest)] = true
			w.a.Unverified = append(w.a.Unverified, Unverified{Manifest: m.Digest, Layer: i,
				Digest: l.Digest, MediaType: l.MediaType, Size: l.Size, URLs: l.URLs})
			continue
		}
		w.checkRef(l, fmt.Sprintf("layer %d of %s", i+1, owner))
	}
}

// config checks the config blob and returns its contents when it is JSON.
func (w *walker) config(d ocispec.Descriptor, owner string) json.RawMessage {
	// Only image configs must be JSON; artifacts may carry anything.
	if !types.MediaType(d.MediaType).IsConfig() {
		w.checkRef(d, "config of "+owner)
		return nil
	}
	raw, err := w.readDoc(d)
	if err != nil {
		w.problem(keyOf(d.Digest), string(d.Digest), fmt.Errorf("%w (config of %s)", err, owner))
		return nil
	}
	return raw
}

// checkRef checks a blob the walk does not read (a layer): present, of the
// right size, and hashing to its digest according to the sweep.
func (w *walker) checkRef(d ocispec.Descriptor, role string) {
	_, err := w.l.checkBlob(d)
	if err == nil {
		err = w.files[blobPath(d.Digest)]
	}
	if err != nil {
		w.problem(keyOf(d.Digest), string(d.Digest), fmt.Errorf("%w (%s)", err, role))
	}
}

// checkDockerManifest checks that the docker exporter's manifest.json names
// blobs that are present; their content is covered by the sweep.
func (w *walker) checkDockerManifest() {
	if !w.l.docker {
		return
	}
	fi, err := w.l.st.lookup(dockerManifest)
	if err == nil && fi.size > maxDocumentSize {
		err = fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, fi.size, maxDocumentSize)
	}
	var raw []byte
	if err == nil {
		raw, err = readAll(w.l.st, dockerManifest, fi.size)
	}
	var dm tarball.Manifest
	if err == nil {
		if jerr := json.Unmarshal(raw, &dm); jerr != nil {
			err = fmt.Errorf("%w: %v", ErrMalformed, jerr)
		}
	}
	if err != nil {
		w.problem(dockerManifest, dockerManifest, fmt.Errorf("%s: %w", dockerManifest, err))
		return
	}
	for _, img := range dm {
		for _, p := range append([]string{img.Config}, img.Layers...) {
			w.checkDockerPath(p)
		}
	}
}

func (w *walker) checkDockerPath(p string) {
	name := cleanName(p)
	if _, err := w.l.st.lookup(name); err != nil && !w.absent[name] {
		w.problem(name, name, fmt.Errorf("%s: %w", dockerManifest, err))
	}
}

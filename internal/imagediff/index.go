package imagediff

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// compareIndexDocs compares two index documents field by field, then the
// nested indexes they list, pairwise in order.
func (d *differ) compareIndexDocs(ctx context.Context, nb *nodeB, a, b *ocispec.Index, prefix string, depth int) error {
	if a.SchemaVersion != b.SchemaVersion {
		d.add(nb, Difference{Kind: KindField, Field: prefix + "schemaVersion", A: a.SchemaVersion, B: b.SchemaVersion})
	}
	d.compareMediaType(nb, prefix+"mediaType", a.MediaType, b.MediaType)
	if a.ArtifactType != b.ArtifactType {
		d.add(nb, Difference{Kind: KindField, Field: prefix + "artifactType",
			A: strOrNil(a.ArtifactType, a.ArtifactType != ""), B: strOrNil(b.ArtifactType, b.ArtifactType != ""), Semantic: true})
	}
	d.compareAnnotations(nb, prefix, a.Annotations, b.Annotations)
	if (a.Subject == nil) != (b.Subject == nil) || (a.Subject != nil && a.Subject.Digest != b.Subject.Digest) {
		d.compareSubject(nb, a.Subject, b.Subject)
	}
	if depth >= maxIndexDepth {
		return nil
	}
	var subs [2][]ocispec.Descriptor
	for side, ix := range []*ocispec.Index{a, b} {
		for _, m := range ix.Manifests {
			if isIndexType(m.MediaType) {
				subs[side] = append(subs[side], m)
			}
		}
	}
	for i := 0; i < len(subs[0]) && i < len(subs[1]); i++ {
		da, db := subs[0][i], subs[1][i]
		p := fmt.Sprintf("%sindexes[%d].", prefix, i)
		d.compareDescriptorMeta(nb, p+"descriptor.", da, db)
		d.comparePlatform(nb, p+"descriptor.platform", da.Platform, db.Platform)
		if da.Digest == db.Digest {
			continue
		}
		var na, nbx ocispec.Index
		if err := d.readJSON(ctx, 0, da, &na); err != nil {
			return err
		}
		if err := d.readJSON(ctx, 1, db, &nbx); err != nil {
			return err
		}
		if err := d.compareIndexDocs(ctx, nb, &na, &nbx, p, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// leaf is one image manifest (or other artifact) found by walking an index.
type leaf struct {
	side        int
	order       int
	desc        ocispec.Descriptor
	key         string // pairing key: the platform, or what an attestation is for
	platform    string
	attestation bool
	other       bool // neither an image manifest nor an index
}

func (l *leaf) name() string {
	if l.attestation {
		return "attestation for " + l.platform
	}
	return l.key
}

// collect walks an index, nested indexes included, and lists its leaves.
// shape receives a description of the nesting, compared across sides.
func (d *differ) collect(ctx context.Context, side int, ix *ocispec.Index, depth int, shape *strings.Builder, out *[]*leaf) error {
	if depth > maxIndexDepth {
		return fmt.Errorf("%w: image %s: indexes nested deeper than %d", ErrInput, sideName(side), maxIndexDepth)
	}
	nm, na, no := 0, 0, 0
	var nested []ocispec.Index
	for _, desc := range ix.Manifests {
		if len(*out) >= maxManifests {
			return fmt.Errorf("%w: image %s: more than %d manifests", ErrInput, sideName(side), maxManifests)
		}
		mt := desc.MediaType
		if mt == "" || parseMediaType(mt).class == classOther && !isJSONType(mt) {
			// Guess from the document itself.
			var probe struct {
				MediaType string            `json:"mediaType"`
				Manifests []json.RawMessage `json:"manifests"`
				Layers    []json.RawMessage `json:"layers"`
			}
			if err := d.readJSON(ctx, side, desc, &probe); err == nil {
				switch {
				case probe.MediaType != "":
					mt = probe.MediaType
				case probe.Manifests != nil:
					mt = ocispec.MediaTypeImageIndex
				case probe.Layers != nil:
					mt = ocispec.MediaTypeImageManifest
				}
			}
		}
		switch {
		case isIndexType(mt):
			var sub ocispec.Index
			if err := d.readJSON(ctx, side, desc, &sub); err != nil {
				return err
			}
			nested = append(nested, sub)
		case isManifestType(mt):
			l := &leaf{side: side, order: len(*out), desc: desc}
			if desc.Annotations[annotDockerRefType] == "attestation-manifest" {
				l.attestation = true
				na++
			} else {
				nm++
			}
			*out = append(*out, l)
		default:
			*out = append(*out, &leaf{side: side, order: len(*out), desc: desc, other: true})
			no++
		}
	}
	var parts []string
	if nm > 0 {
		parts = append(parts, plural(nm, "manifest"))
	}
	if na > 0 {
		parts = append(parts, plural(na, "attestation"))
	}
	if no > 0 {
		parts = append(parts, plural(no, "other"))
	}
	shape.WriteString("index(" + strings.Join(parts, ", "))
	for i := range nested {
		if len(parts) > 0 || i > 0 {
			shape.WriteString(", ")
		}
		if err := d.collect(ctx, side, &nested[i], depth+1, shape, out); err != nil {
			return err
		}
	}
	shape.WriteString(")")
	return nil
}

func plural(n int, what string) string {
	switch {
	case n == 1:
		return "1 " + what
	case strings.HasSuffix(what, "y"):
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(what, "y"))
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// resolveKeys gives every leaf its pairing key: its platform, from the
// descriptor or else from the image config; attestations take the key of
// the manifest they describe.
func (d *differ) resolveKeys(ctx context.Context, side int, leaves []*leaf) error {
	byDigest := map[digest.Digest]*leaf{}
	others := map[string]int{}
	for _, l := range leaves {
		switch {
		case l.other:
			others[l.desc.MediaType]++
			l.key = fmt.Sprintf("%s #%d", l.desc.MediaType, others[l.desc.MediaType])
			l.platform = l.key
		case l.attestation:
		default:
			p := l.desc.Platform
			if p == nil {
				cp, err := d.configPlatform(ctx, side, l.desc)
				if err != nil {
					return err
				}
				p = cp
			}
			l.key = platformKey(p)
			l.platform = l.key
			byDigest[l.desc.Digest] = l
		}
	}
	for _, l := range leaves {
		if !l.attestation {
			continue
		}
		ref := digest.Digest(l.desc.Annotations[annotDockerRefDigest])
		if t, ok := byDigest[ref]; ok {
			l.platform = t.platform
		} else {
			l.platform = "unknown image"
		}
		l.key = "attestation:" + l.platform
	}
	return nil
}

func (d *differ) configPlatform(ctx context.Context, side int, desc ocispec.Descriptor) (*ocispec.Platform, error) {
	var m ocispec.Manifest
	if err := d.readJSON(ctx, side, desc, &m); err != nil {
		return nil, err
	}
	var c struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Variant      string `json:"variant"`
		OSVersion    string `json:"os.version"`
	}
	if err := d.readJSON(ctx, side, m.Config, &c); err != nil {
		return nil, err
	}
	return &ocispec.Platform{OS: c.OS, Architecture: c.Architecture, Variant: c.Variant, OSVersion: c.OSVersion}, nil
}

// DescriptorSummary describes a manifest or layer present on one side only.
type DescriptorSummary struct {
	MediaType string        `json:"mediaType"`
	Digest    digest.Digest `json:"digest"`
	Size      int64         `json:"size"`
}

func (s DescriptorSummary) String() string {
	return fmt.Sprintf("%s %s (%s)", shortMediaType(s.MediaType), s.Digest, fmtSize(s.Size))
}

func descSummary(desc ocispec.Descriptor) DescriptorSummary {
	return DescriptorSummary{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}
}

type leafPair struct{ a, b *leaf }

// pairLeaves pairs manifests by platform (attestations by the platform
// they describe). When each side has a single image manifest they are
// paired whatever their platforms, so that a platform difference shows as
// such.
func pairLeaves(leaves [2][]*leaf) (pairs []leafPair, only []*leaf) {
	kinds := func(l *leaf) int {
		switch {
		case l.attestation:
			return 1
		case l.other:
			return 2
		}
		return 0
	}
	for kind := range 3 {
		var ls [2][]*leaf
		for side := range 2 {
			for _, l := range leaves[side] {
				if kinds(l) == kind {
					ls[side] = append(ls[side], l)
				}
			}
		}
		if kind != 2 && len(ls[0]) == 1 && len(ls[1]) == 1 {
			pairs = append(pairs, leafPair{ls[0][0], ls[1][0]})
			continue
		}
		used := map[*leaf]bool{}
		for _, la := range ls[0] {
			for _, lb := range ls[1] {
				if !used[lb] && lb.key == la.key {
					used[lb], used[la] = true, true
					pairs = append(pairs, leafPair{la, lb})
					break
				}
			}
		}
		for side := range 2 {
			for _, l := range ls[side] {
				if !used[l] {
					only = append(only, l)
				}
			}
		}
	}
	slices.SortStableFunc(pairs, func(x, y leafPair) int { return cmp.Compare(x.a.order, y.a.order) })
	return pairs, only
}

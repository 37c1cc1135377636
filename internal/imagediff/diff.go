package imagediff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Limits that keep hostile input from exhausting memory.
const (
	maxJSONSize       = 8 << 20 // an index, manifest or config
	maxIndexDepth     = 8
	maxManifests      = 4096
	defaultMaxDiffs   = 10000
	defaultMaxPending = 1 << 20
)

// ErrInput marks input that cannot be compared: a missing or corrupt blob,
// a document that is not what its descriptor says.
var ErrInput = errors.New("unusable input")

type differ struct {
	src  [2]Source
	opts Options
	res  *Result
	// hints aggregates matched hint rules by ID, in first-match order.
	hints     map[string]*Hint
	hintOrder []string
	// docs caches JSON documents read, per side.
	docs [2]map[digest.Digest][]byte
}

// nodeB is a node being built and the context its differences are judged in.
type nodeB struct {
	n     *Node
	where string
	hc    *hintCtx
}

func (d *differ) child(parent *nodeB, level Level, name, a, b string) *nodeB {
	hc := *parent.hc
	return &nodeB{
		n:     &Node{Level: level, Name: name, A: a, B: b},
		where: joinWhere(parent.where, name),
		hc:    &hc,
	}
}

func joinWhere(a, b string) string {
	if a == "" {
		return b
	}
	return a + " › " + b
}

// add records a difference in a node: matches it against the hint rules,
// counts it and keeps it unless the node is full.
func (d *differ) add(nb *nodeB, diff Difference) {
	if diff.Level == "" {
		diff.Level = nb.n.Level
	}
	if nb.hc.attestation {
		diff.Semantic = false
	}
	where := nb.where
	if diff.Path != "" {
		where = joinWhere(where, diff.Path)
	} else if diff.Field != "" {
		where = joinWhere(where, diff.Field)
	}
	for i := range hintRules {
		r := &hintRules[i]
		if !r.match(&diff, nb.hc) {
			continue
		}
		diff.Hints = append(diff.Hints, r.id)
		h := d.hints[r.id]
		if h == nil {
			h = &Hint{ID: r.id, Cause: r.cause, Fix: r.fix, Example: where}
			d.hints[r.id] = h
			d.hintOrder = append(d.hintOrder, r.id)
		}
		h.Count++
	}
	if diff.Level != LevelEntry {
		d.res.Strict.add(diff.Level, 1)
		if diff.Semantic {
			d.res.Semantic.add(diff.Level, 1)
		}
	}
	if len(nb.n.Differences) < d.opts.MaxDifferences {
		nb.n.Differences = append(nb.n.Differences, diff)
	} else {
		nb.n.Omitted++
	}
}

// keep attaches a child node to its parent if it holds any difference.
func keep(parent, child *nodeB) bool {
	if len(child.n.Differences) == 0 && child.n.Omitted == 0 && len(child.n.Children) == 0 {
		return false
	}
	parent.n.Children = append(parent.n.Children, child.n)
	return true
}

// Diff compares image a with image b. It returns an error, never a panic,
// for input that cannot be read; the error wraps ErrInput or ErrLayer.
func Diff(ctx context.Context, a, b Source, opts Options) (res *Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("internal error: %v\n%s", p, debug.Stack())
		}
	}()
	if a == nil || b == nil {
		return nil, fmt.Errorf("%w: nil source", ErrInput)
	}
	if opts.MaxDifferences <= 0 {
		opts.MaxDifferences = defaultMaxDiffs
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = defaultMaxPending
	}
	d := &differ{
		src:  [2]Source{a, b},
		opts: opts,
		res: &Result{
			A: Input{Name: opts.NameA, IndexDigest: a.IndexDigest()},
			B: Input{Name: opts.NameB, IndexDigest: b.IndexDigest()},
		},
		hints: map[string]*Hint{},
		docs:  [2]map[digest.Digest][]byte{{}, {}},
	}
	if err := d.run(ctx); err != nil {
		return nil, err
	}
	d.finish()
	return d.res, nil
}

func (d *differ) run(ctx context.Context) error {
	res := d.res
	if res.A.IndexDigest != "" && res.A.IndexDigest == res.B.IndexDigest {
		return nil
	}
	root := &nodeB{n: &Node{Level: LevelImage, Name: "image",
		A: string(res.A.IndexDigest), B: string(res.B.IndexDigest)}, hc: &hintCtx{}}
	idx := d.child(root, LevelIndex, "index", string(res.A.IndexDigest), string(res.B.IndexDigest))
	ia, ib := d.src[0].Index(), d.src[1].Index()
	if err := d.compareIndexDocs(ctx, idx, &ia, &ib, "", 0); err != nil {
		return err
	}

	var leaves [2][]*leaf
	var shapes [2]string
	for side, ix := range []*ocispec.Index{&ia, &ib} {
		var sb strings.Builder
		if err := d.collect(ctx, side, ix, 0, &sb, &leaves[side]); err != nil {
			return err
		}
		shapes[side] = sb.String()
		if err := d.resolveKeys(ctx, side, leaves[side]); err != nil {
			return err
		}
	}
	if shapes[0] != shapes[1] {
		d.add(idx, Difference{Kind: KindStructure, Field: "nesting", A: shapes[0], B: shapes[1],
			Note: "indexes nest differently"})
	}

	pairs, only := pairLeaves(leaves)
	for _, l := range only {
		diff := Difference{Kind: KindMissing, Field: "manifests[" + l.name() + "]", Semantic: !l.attestation,
			Note: "only in " + sideName(l.side)}
		v := descSummary(l.desc)
		if l.side == 0 {
			diff.A = v
		} else {
			diff.B = v
		}
		hc := idx.hc
		if l.attestation {
			c := *idx.hc
			c.attestation = true
			hc = &c
		}
		d.add(&nodeB{n: idx.n, where: idx.where, hc: hc}, diff)
	}
	if len(idx.n.Differences) > 0 || idx.n.Omitted > 0 {
		root.n.Children = append(root.n.Children, idx.n)
	}
	for _, p := range pairs {
		if err := d.compareManifests(ctx, root, p); err != nil {
			return err
		}
	}
	if len(root.n.Children) == 0 && res.A.IndexDigest != res.B.IndexDigest {
		d.add(idx, Difference{Kind: KindEncoding, Field: "index.json",
			A: string(res.A.IndexDigest), B: string(res.B.IndexDigest),
			Note: "the index documents differ only in encoding"})
		root.n.Children = append(root.n.Children, idx.n)
	}
	if len(root.n.Children) > 0 {
		res.Tree = root.n
	}
	return nil
}

func (d *differ) finish() {
	res := d.res
	res.Equal = res.Strict.Total() == 0
	res.SemanticEqual = res.Semantic.Total() == 0
	for _, id := range d.hintOrder {
		res.Matched = append(res.Matched, *d.hints[id])
	}
	sort.SliceStable(res.Matched, func(i, j int) bool { return res.Matched[i].Count > res.Matched[j].Count })
}

func sideName(side int) string {
	if side == 0 {
		return "A"
	}
	return "B"
}

// readDoc reads a JSON document blob whole, checking its size and digest.
func (d *differ) readDoc(ctx context.Context, side int, desc ocispec.Descriptor) ([]byte, error) {
	if b, ok := d.docs[side][desc.Digest]; ok {
		return b, nil
	}
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("%w: image %s: descriptor %q: %w", ErrInput, sideName(side), desc.Digest, err)
	}
	if desc.Size > maxJSONSize {
		return nil, fmt.Errorf("%w: image %s: %s %s: %d bytes is too large for a JSON document",
			ErrInput, sideName(side), desc.MediaType, desc.Digest, desc.Size)
	}
	rc, err := d.src[side].Blob(ctx, desc)
	if err != nil {
		return nil, fmt.Errorf("%w: image %s: %w", ErrInput, sideName(side), err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxJSONSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: image %s: read %s: %w", ErrInput, sideName(side), desc.Digest, err)
	}
	if len(b) > maxJSONSize {
		return nil, fmt.Errorf("%w: image %s: %s is too large for a JSON document", ErrInput, sideName(side), desc.Digest)
	}
	if got := desc.Digest.Algorithm().FromBytes(b); got != desc.Digest || int64(len(b)) != desc.Size {
		return nil, fmt.Errorf("%w: image %s: blob %s: content hashes to %s (%d bytes, descriptor says %d)",
			ErrInput, sideName(side), desc.Digest, got, len(b), desc.Size)
	}
	d.docs[side][desc.Digest] = b
	return b, nil
}

func (d *differ) readJSON(ctx context.Context, side int, desc ocispec.Descriptor, v any) error {
	b, err := d.readDoc(ctx, side, desc)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: image %s: %s %s: not valid JSON: %w", ErrInput, sideName(side), desc.MediaType, desc.Digest, err)
	}
	return nil
}

// annotationSemantic tells whether an annotation key is judged semantic.
// Timestamps, names given at export, BuildKit's bookkeeping and attestation
// references are not; anything else is, to err on the side of caution.
func annotationSemantic(key string) bool {
	switch key {
	case ocispecAnnotCreated, ocispecAnnotRefName, annotContainerdName, annotRewrittenTimestamp,
		annotDockerRefDigest, annotDockerRefType:
		return false
	}
	return !strings.HasPrefix(key, "moby.buildkit.")
}

func (d *differ) compareAnnotations(nb *nodeB, prefix string, a, b map[string]string) {
	for _, k := range unionKeys(a, b) {
		va, oka := a[k]
		vb, okb := b[k]
		if oka == okb && va == vb {
			continue
		}
		d.add(nb, Difference{Kind: KindAnnotation, Field: prefix + "annotations[" + k + "]",
			A: strOrNil(va, oka), B: strOrNil(vb, okb), Semantic: annotationSemantic(k)})
	}
}

// mediaTypeSemantic: media types only label bytes compared elsewhere, so a
// difference is semantic only when they name different kinds of object.
func mediaTypeSemantic(a, b string) bool {
	if a == "" || b == "" || relateMediaTypes(a, b) != mtUnrelated {
		return false
	}
	return parseMediaType(a).class != parseMediaType(b).class || parseMediaType(a).class == classOther
}

func (d *differ) compareMediaType(nb *nodeB, field, a, b string) {
	if a == b {
		return
	}
	diff := Difference{Kind: KindMediaType, Field: field, A: strOrNil(a, a != ""), B: strOrNil(b, b != ""),
		Semantic: mediaTypeSemantic(a, b)}
	switch relateMediaTypes(a, b) {
	case mtFlavour:
		diff.Note = "docker vs OCI flavour"
	case mtCompression:
		diff.Note = fmt.Sprintf("compression %s vs %s", parseMediaType(a).compression, parseMediaType(b).compression)
	}
	d.add(nb, diff)
}

// compareDescriptorMeta compares what a descriptor says beyond the digest
// and size of what it points to (those follow from the object itself,
// which is compared on its own).
func (d *differ) compareDescriptorMeta(nb *nodeB, prefix string, a, b ocispec.Descriptor) {
	d.compareMediaType(nb, prefix+"mediaType", a.MediaType, b.MediaType)
	d.compareAnnotations(nb, prefix, a.Annotations, b.Annotations)
	if a.ArtifactType != b.ArtifactType {
		d.add(nb, Difference{Kind: KindField, Field: prefix + "artifactType",
			A: strOrNil(a.ArtifactType, a.ArtifactType != ""), B: strOrNil(b.ArtifactType, b.ArtifactType != ""), Semantic: true})
	}
	if !reflect.DeepEqual(a.URLs, b.URLs) && (len(a.URLs) > 0 || len(b.URLs) > 0) {
		d.add(nb, Difference{Kind: KindField, Field: prefix + "urls", A: a.URLs, B: b.URLs, Semantic: true})
	}
}

func (d *differ) compareSubject(nb *nodeB, a, b *ocispec.Descriptor) {
	var da, db any
	if a != nil {
		da = a.Digest
	}
	if b != nil {
		db = b.Digest
	}
	if da != db {
		d.add(nb, Difference{Kind: KindField, Field: "subject", A: da, B: db,
			Note: "the image this one refers to (referrers API)"})
	}
}

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
		if !platformEqual(da.Platform, db.Platform) {
			d.add(nb, Difference{Kind: KindPlatform, Field: p + "descriptor.platform",
				A: platformOrNil(da.Platform), B: platformOrNil(db.Platform), Semantic: true})
		}
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

func platformKey(p *ocispec.Platform) string {
	if p == nil {
		return "unknown platform"
	}
	k := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		k += "/" + p.Variant
	}
	if p.OSVersion != "" {
		k += ":" + p.OSVersion
	}
	if k == "/" {
		return "unknown platform"
	}
	return k
}

func platformEqual(a, b *ocispec.Platform) bool {
	if a == nil || b == nil {
		return a == b
	}
	return reflect.DeepEqual(*a, *b)
}

func platformOrNil(p *ocispec.Platform) any {
	if p == nil {
		return nil
	}
	s := platformKey(p)
	if len(p.OSFeatures) > 0 {
		s += " [" + strings.Join(p.OSFeatures, ",") + "]"
	}
	return s
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
	sort.SliceStable(pairs, func(i, j int) bool { return pairs[i].a.order < pairs[j].a.order })
	return pairs, only
}

// compareManifests compares a manifest pair: the index descriptors that
// point to them, the manifests, their configs and their layers.
func (d *differ) compareManifests(ctx context.Context, root *nodeB, p leafPair) error {
	name := p.a.name()
	if p.b.name() != name {
		name += " ↔ " + p.b.name()
	}
	mb := d.child(root, LevelManifest, name, string(p.a.desc.Digest), string(p.b.desc.Digest))
	mb.hc.attestation = p.a.attestation || p.b.attestation
	da, db := p.a.desc, p.b.desc
	d.compareDescriptorMeta(mb, "descriptor.", da, db)
	if !platformEqual(da.Platform, db.Platform) {
		d.add(mb, Difference{Kind: KindPlatform, Field: "descriptor.platform",
			A: platformOrNil(da.Platform), B: platformOrNil(db.Platform), Semantic: true})
	}
	defer keep(root, mb)
	if da.Digest == db.Digest {
		return nil
	}
	if p.a.other || p.b.other {
		d.add(mb, Difference{Kind: KindField, Field: "blob", A: da.Digest, B: db.Digest,
			Note: "not an image manifest: compared by digest only", Semantic: false})
		return nil
	}
	var ma, mbm ocispec.Manifest
	if err := d.readJSON(ctx, 0, da, &ma); err != nil {
		return err
	}
	if err := d.readJSON(ctx, 1, db, &mbm); err != nil {
		return err
	}
	before := d.res.Strict.Total()
	if ma.SchemaVersion != mbm.SchemaVersion {
		d.add(mb, Difference{Kind: KindField, Field: "schemaVersion", A: ma.SchemaVersion, B: mbm.SchemaVersion})
	}
	d.compareMediaType(mb, "mediaType", ma.MediaType, mbm.MediaType)
	if ma.ArtifactType != mbm.ArtifactType {
		d.add(mb, Difference{Kind: KindField, Field: "artifactType",
			A: strOrNil(ma.ArtifactType, ma.ArtifactType != ""), B: strOrNil(mbm.ArtifactType, mbm.ArtifactType != ""), Semantic: true})
	}
	d.compareAnnotations(mb, "", ma.Annotations, mbm.Annotations)
	if (ma.Subject == nil) != (mbm.Subject == nil) || (ma.Subject != nil && ma.Subject.Digest != mbm.Subject.Digest) {
		d.compareSubject(mb, ma.Subject, mbm.Subject)
	}
	d.compareDescriptorMeta(mb, "config.", ma.Config, mbm.Config)

	// The config first: its created time stands in for SOURCE_DATE_EPOCH.
	cfgs, err := d.compareConfigs(ctx, mb, ma.Config, mbm.Config)
	if err != nil {
		return err
	}
	d.setEpoch(mb.hc, cfgs)
	if err := d.compareLayers(ctx, mb, ma.Layers, mbm.Layers, cfgs); err != nil {
		return err
	}
	if d.res.Strict.Total() == before {
		d.add(mb, Difference{Kind: KindEncoding, Field: "manifest", A: da.Digest, B: db.Digest,
			Note: "the manifests differ only in encoding"})
	}
	return nil
}

// setEpoch picks the SOURCE_DATE_EPOCH hints compare against.
func (d *differ) setEpoch(hc *hintCtx, cfgs [2]*configDoc) {
	var epoch *time.Time
	from := ""
	switch {
	case d.opts.SourceDateEpoch != nil:
		t := d.opts.SourceDateEpoch.UTC()
		epoch, from = &t, "option"
	default:
		var ts []time.Time
		for _, c := range cfgs {
			if c != nil && c.created != nil {
				ts = append(ts, *c.created)
			}
		}
		if len(ts) > 0 {
			t := ts[0]
			for _, x := range ts[1:] {
				if x.Before(t) {
					t = x
				}
			}
			t = t.UTC()
			epoch, from = &t, "config created"
			if len(ts) == 2 && !ts[0].Equal(ts[1]) {
				from = "config created (the earlier of the two)"
			}
		}
	}
	hc.epoch = epoch
	if d.res.SourceDateEpoch == nil && epoch != nil {
		d.res.SourceDateEpoch, d.res.EpochFrom = epoch, from
	}
}

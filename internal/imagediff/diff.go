package imagediff

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime/debug"
	"slices"
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
	// feed builds the applied filesystems of the manifest pair being
	// compared, nil when they are not compared (compareContent).
	feed *fsFeed
}

// nodeB is a node being built and the context its differences are judged in.
type nodeB struct {
	n     *Node
	where string
	hc    *hintCtx
}

func (d *differ) child(parent *nodeB, level Level, name string, a, b digest.Digest) *nodeB {
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
	if nb.hc.attestation || isEncoding(&diff, nb.hc) || explainedByFS(&diff, nb.hc) {
		diff.Semantic = false
	}
	if diff.Note == "" && dockerDropped(&diff, nb.hc) {
		diff.Note = "docker schema 2 manifests carry no annotations"
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
		if h != nil && nb.hc.fsView {
			continue // counted once, where the layers showed it
		}
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

// Diff compares image a with image b. Each side is first verified whole
// (Source.Verify): a damaged side fails the comparison with a *DamageError
// (wrapping ErrDamaged) before anything is compared, so that a damaged image
// is never called equal. It returns an error, never a panic, for input that
// cannot be read; the error wraps ErrInput (ErrDamaged, ErrLayer) or ctx's.
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
	if err := verifySides(ctx, [2]Source{a, b}, [2]string{opts.NameA, opts.NameB}); err != nil {
		return nil, err
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
		A: res.A.IndexDigest, B: res.B.IndexDigest}, hc: &hintCtx{}}
	idx := d.child(root, LevelIndex, "index", res.A.IndexDigest, res.B.IndexDigest)
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
			A: res.A.IndexDigest, B: res.B.IndexDigest,
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
	slices.SortStableFunc(res.Matched, func(x, y Hint) int { return cmp.Compare(y.Count, x.Count) })
}

func sideName(side int) string {
	if side == 0 {
		return "A"
	}
	return "B"
}

// readDoc reads a JSON document blob whole, within maxJSONSize. The Source's
// Blob checks its digest and size as it is read to its end.
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
// Timestamps, names given at export, BuildKit's bookkeeping, attestation
// references and base-image pointers (a different base shows in the layers)
// are not; anything else is, to err on the side of caution.
func annotationSemantic(key string) bool {
	switch key {
	case ocispec.AnnotationCreated, ocispec.AnnotationRefName, annotContainerdName, annotRewrittenTimestamp,
		annotDockerRefDigest, annotDockerRefType,
		ocispec.AnnotationBaseImageDigest, ocispec.AnnotationBaseImageName:
		return false
	}
	return !strings.HasPrefix(key, "moby.buildkit.")
}

func (d *differ) compareAnnotations(nb *nodeB, prefix string, a, b map[string]string) {
	diffStrings(a, b, func(k string, va, vb any) {
		d.add(nb, Difference{Kind: KindAnnotation, Field: prefix + "annotations[" + k + "]",
			A: va, B: vb, Semantic: annotationSemantic(k)})
	})
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

// compareManifests compares a manifest pair: the index descriptors that
// point to them, the manifests, their configs and their layers.
func (d *differ) compareManifests(ctx context.Context, root *nodeB, p leafPair) error {
	name := p.a.name()
	if p.b.name() != name {
		name += " ↔ " + p.b.name()
	}
	mb := d.child(root, LevelManifest, name, p.a.desc.Digest, p.b.desc.Digest)
	mb.hc.attestation = p.a.attestation || p.b.attestation
	da, db := p.a.desc, p.b.desc
	d.compareDescriptorMeta(mb, "descriptor.", da, db)
	d.comparePlatform(mb, "descriptor.platform", da.Platform, db.Platform)
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
	mb.hc.docker = [2]bool{parseMediaType(ma.MediaType).flavour == "docker", parseMediaType(mbm.MediaType).flavour == "docker"}
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
	if err := d.compareContent(ctx, mb, ma.Layers, mbm.Layers, cfgs); err != nil {
		return err
	}
	if d.res.Strict.Total() == before {
		d.add(mb, Difference{Kind: KindEncoding, Field: "manifest", A: da.Digest, B: db.Digest,
			Note: "the manifests differ only in encoding"})
	}
	return nil
}

// compareContent compares the layers of two manifests one by one (the
// strict view: every byte-level difference, layer structure included) and,
// when fsComparable, the filesystems they make (the semantic view), and says
// on the manifest node which explains which.
func (d *differ) compareContent(ctx context.Context, mb *nodeB, la, lb []ocispec.Descriptor, cfgs [2]*configDoc) error {
	fs := d.fsComparable(la, lb, cfgs)
	mb.hc.fsCompared = fs
	before := d.res.Strict.Layer + d.res.Strict.Entry
	if fs {
		d.feed = newFSFeed(d, la, lb)
		defer func() { d.feed = nil }()
	}
	if err := d.compareLayers(ctx, mb, la, lb, cfgs); err != nil {
		return err
	}
	if !fs {
		return nil
	}
	equal, err := d.compareFilesystems(ctx, mb, d.feed)
	if err != nil {
		return err
	}
	switch layersDiffer := d.res.Strict.Layer+d.res.Strict.Entry > before; {
	case layersDiffer && equal:
		mb.n.Note = "layers differ, the filesystems they make are equal"
	case layersDiffer:
		mb.n.Note = "layers differ, and so do the filesystems they make"
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

package imagediff

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// layerPair is a pair of layer positions; -1 when the layer is on one side
// only.
type layerPair struct{ a, b int }

// alignLayers pairs layers by position when both sides have as many;
// otherwise it keeps the longest common run of identical layers (by
// diff-id) in place and pairs what lies between by position, so that one
// layer inserted in the middle does not shift every comparison after it.
func alignLayers(a, b []digest.Digest) []layerPair {
	if len(a) == len(b) {
		out := make([]layerPair, len(a))
		for i := range a {
			out[i] = layerPair{i, i}
		}
		return out
	}
	// Longest common subsequence.
	n, m := len(a), len(b)
	l := make([][]int, n+1)
	for i := range l {
		l[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			switch {
			case a[i] != "" && a[i] == b[j]:
				l[i][j] = l[i+1][j+1] + 1
			case l[i+1][j] >= l[i][j+1]:
				l[i][j] = l[i+1][j]
			default:
				l[i][j] = l[i][j+1]
			}
		}
	}
	var out []layerPair
	gap := func(ga, gb []int) {
		k := 0
		for ; k < len(ga) && k < len(gb); k++ {
			out = append(out, layerPair{ga[k], gb[k]})
		}
		for ; k < len(ga); k++ {
			out = append(out, layerPair{ga[k], -1})
		}
		for ; k < len(gb); k++ {
			out = append(out, layerPair{-1, gb[k]})
		}
	}
	var ga, gb []int
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] != "" && a[i] == b[j]:
			gap(ga, gb)
			ga, gb = nil, nil
			out = append(out, layerPair{i, j})
			i++
			j++
		case l[i+1][j] >= l[i][j+1]:
			ga = append(ga, i)
			i++
		default:
			gb = append(gb, j)
			j++
		}
	}
	for ; i < n; i++ {
		ga = append(ga, i)
	}
	for ; j < m; j++ {
		gb = append(gb, j)
	}
	gap(ga, gb)
	return out
}

// layerIDs identifies each layer for alignment: by the diff-id its config
// gives, else (a config that does not list one per layer) by its blob.
func layerIDs(layers []ocispec.Descriptor, c *configDoc) []digest.Digest {
	ids := make([]digest.Digest, len(layers))
	for i, l := range layers {
		if c != nil && len(c.diffIDs) == len(layers) {
			ids[i] = c.diffIDs[i]
		} else {
			ids[i] = l.Digest
		}
	}
	return ids
}

func claimedDiffID(c *configDoc, layers []ocispec.Descriptor, i int) digest.Digest {
	if c == nil || len(c.diffIDs) != len(layers) {
		return ""
	}
	return c.diffIDs[i]
}

// compareLayers pairs the layers of two manifests and compares each pair.
func (d *differ) compareLayers(ctx context.Context, mb *nodeB, la, lb []ocispec.Descriptor, cfgs [2]*configDoc) error {
	if len(la) != len(lb) {
		d.add(mb, Difference{Level: LevelLayer, Kind: KindLayerCount, Field: "layers", A: len(la), B: len(lb), Semantic: true})
	}
	for _, p := range alignLayers(layerIDs(la, cfgs[0]), layerIDs(lb, cfgs[1])) {
		switch {
		case p.b < 0:
			d.add(mb, Difference{Level: LevelLayer, Kind: KindMissing, Field: fmt.Sprintf("layers[%d]", p.a),
				A: descSummary(la[p.a]), Semantic: true, Note: "only in A"})
		case p.a < 0:
			d.add(mb, Difference{Level: LevelLayer, Kind: KindMissing, Field: fmt.Sprintf("layers[%d]", p.b),
				B: descSummary(lb[p.b]), Semantic: true, Note: "only in B"})
		default:
			ids := [2]digest.Digest{claimedDiffID(cfgs[0], la, p.a), claimedDiffID(cfgs[1], lb, p.b)}
			if err := d.compareLayer(ctx, mb, p, [2]ocispec.Descriptor{la[p.a], lb[p.b]}, ids); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *differ) compareLayer(ctx context.Context, mb *nodeB, p layerPair, descs [2]ocispec.Descriptor, claimed [2]digest.Digest) error {
	name := fmt.Sprintf("layer %d", p.a)
	if p.a != p.b {
		name = fmt.Sprintf("layer %d ↔ %d", p.a, p.b)
	}
	da, db := descs[0], descs[1]
	lb := d.child(mb, LevelLayer, name, da.Digest, db.Digest)
	_, lb.hc.rewritten[0] = da.Annotations[annotRewrittenTimestamp]
	_, lb.hc.rewritten[1] = db.Annotations[annotRewrittenTimestamp]
	lb.hc.sameBlob = da.Digest == db.Digest
	defer keep(mb, lb)
	d.compareDescriptorMeta(lb, "", da, db)
	if da.Digest == db.Digest {
		lb.n.Note = "same blob " + shortDigest(da.Digest)
		return nil
	}
	if !isTarLayer(da.MediaType) || !isTarLayer(db.MediaType) {
		return d.compareOpaqueLayer(ctx, lb, descs)
	}
	if claimed[0] != "" && claimed[0] == claimed[1] && !d.opts.VerifyDiffIDs {
		d.add(lb, Difference{Kind: KindCompression, Field: "blob", A: da.Digest, B: db.Digest,
			Note: fmt.Sprintf("same diff-id %s (per the configs); %s vs %s",
				shortDigest(claimed[0]), parseMediaType(da.MediaType).compression, parseMediaType(db.MediaType).compression)})
		lb.n.Note = "not streamed: the configs give both the same diff-id"
		return nil
	}
	if sides := d.absentForeign(ctx, descs); sides != "" {
		d.addNotComparable(lb, descs, sides)
		return nil
	}
	before := d.res.Strict.Total()
	if err := d.feed.begin(ctx, p.a, p.b); err != nil {
		return err
	}
	stats, err := d.compareLayerStreams(ctx, lb, descs)
	if err != nil {
		d.feed.abandon()
		return err
	}
	d.feed.end()
	lb.n.Note = fmt.Sprintf("%d vs %d entries", stats[0].entries, stats[1].entries)
	if stats[0].compression != stats[1].compression {
		lb.n.Note += fmt.Sprintf("; %s vs %s", stats[0].compression, stats[1].compression)
	}
	ids := claimed
	for side := range 2 {
		if mt := parseMediaType(descs[side].MediaType); mt.compression != stats[side].compression {
			d.res.Warnings = append(d.res.Warnings, fmt.Sprintf("image %s, %s: media type %s says %s, content is %s",
				sideName(side), lb.where, descs[side].MediaType, mt.compression, stats[side].compression))
		}
		if stats[side].diffID == "" {
			continue
		}
		if claimed[side] != "" && claimed[side] != stats[side].diffID {
			d.res.Warnings = append(d.res.Warnings, fmt.Sprintf("image %s, %s: config gives diff-id %s, the layer hashes to %s",
				sideName(side), lb.where, claimed[side], stats[side].diffID))
		}
		ids[side] = stats[side].diffID
	}
	switch {
	case ids[0] != "" && ids[0] == ids[1]:
		d.add(lb, Difference{Kind: KindCompression, Field: "blob", A: da.Digest, B: db.Digest,
			Note: fmt.Sprintf("same diff-id %s; %s vs %s", shortDigest(ids[0]), stats[0].compression, stats[1].compression)})
	case d.res.Strict.Total() == before:
		d.add(lb, Difference{Kind: KindEncoding, Field: "tar stream", A: ids[0], B: ids[1],
			Note: "the tar streams differ though every entry compares equal (header encoding, padding, end-of-archive)"})
	}
	return nil
}

// compareOpaqueLayer compares layers that are not tar streams (the in-toto
// statements of attestations, artifacts): JSON field by field, anything
// else by digest.
func (d *differ) compareOpaqueLayer(ctx context.Context, lb *nodeB, descs [2]ocispec.Descriptor) error {
	if isJSONType(descs[0].MediaType) && isJSONType(descs[1].MediaType) &&
		descs[0].Size <= maxJSONSize && descs[1].Size <= maxJSONSize {
		var docs [2]any
		for side := range 2 {
			b, err := d.readDoc(ctx, side, descs[side])
			if err != nil {
				return err
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.UseNumber()
			if dec.Decode(&docs[side]) != nil {
				docs[0], docs[1] = nil, nil
				break
			}
		}
		if docs[0] != nil && docs[1] != nil {
			n := 0
			walkJSON("", docs[0], docs[1], func(field string, a, b any) {
				n++
				d.add(lb, Difference{Kind: KindField, Field: field, A: a, B: b, Semantic: true})
			})
			if n > 0 {
				return nil
			}
		}
	}
	d.add(lb, Difference{Kind: KindField, Field: "blob", A: descs[0].Digest, B: descs[1].Digest, Semantic: true,
		Note: "not a tar layer: compared by digest"})
	return nil
}

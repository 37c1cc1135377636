package imagediff

import (
	"archive/tar"
	"context"
	"fmt"
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxFSPaths caps the paths of one applied filesystem, to bound memory.
const maxFSPaths = 1 << 21

// structuralKinds are the layer-level differences that the applied
// filesystems explain once they are compared: how the same files are split
// into layers and written into tar streams.
var structuralKinds = map[Kind]bool{
	KindLayerCount: true, KindMissing: true, KindCompression: true, KindEncoding: true,
	KindOrder: true, KindTarFormat: true, KindNameSpelling: true, KindModeBits: true,
}

// explainedByFS tells whether a difference found layer by layer is left to
// the comparison of applied filesystems for the semantic verdict: every
// entry difference, and the layer-structure ones (not a layer descriptor's
// own annotations, media type or urls, which are judged as they are).
func explainedByFS(d *Difference, c *hintCtx) bool {
	if !c.fsCompared {
		return false
	}
	return d.Level == LevelEntry || (d.Level == LevelLayer && structuralKinds[d.Kind])
}

// fsComparable tells whether the filesystems of two manifests are compared
// as a whole, and so whether the semantic verdict is theirs rather than the
// layer-by-layer one: every layer of both is a tar layer whose blob is in
// the image (a non-distributable layer's may be absent), and they are not
// already known equal, blob by blob or (unless VerifyDiffIDs) by the
// configs' diff-ids.
func (d *differ) fsComparable(la, lb []ocispec.Descriptor, cfgs [2]*configDoc) bool {
	for _, l := range slices.Concat(la, lb) {
		if mt := parseMediaType(l.MediaType); mt.class != classLayer || mt.foreign {
			return false
		}
	}
	if len(la) != len(lb) {
		return true
	}
	for i := range la {
		if la[i].Digest == lb[i].Digest {
			continue
		}
		ia, ib := claimedDiffID(cfgs[0], la, i), claimedDiffID(cfgs[1], lb, i)
		if d.opts.VerifyDiffIDs || ia == "" || ia != ib {
			return true
		}
	}
	return false
}

// applyLayer applies one layer of one side to t, streaming it (contents
// hashed, never kept).
func (d *differ) applyLayer(ctx context.Context, side int, desc ocispec.Descriptor, t *fsTree) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan *entryInfo, entryQueue)
	errc := make(chan error, 1)
	go func() {
		defer close(ch)
		var st sideStats
		errc <- streamLayer(ctx, side, d.src[side], desc, false, ch, &st)
	}()
	tooMany := false
	for e := range ch {
		if tooMany {
			continue
		}
		t.apply(e)
		if t.paths > maxFSPaths {
			tooMany = true
			cancel()
		}
	}
	err := <-errc
	if tooMany {
		return fmt.Errorf("%w: image %s: more than %d paths in the filesystem of its layers", ErrInput, sideName(side), maxFSPaths)
	}
	if err != nil {
		return err
	}
	t.endLayer()
	return nil
}

// compareFilesystems completes the trees feed built while the layers were
// compared (each side's layers applied in order, fsTree) and compares the two trees a container would get: per path its type, mode,
// owner, size, content digest, link target, device, xattrs, hard-link group
// and mtime. Whiteouts are in neither tree, so their own mtimes never count.
// It adds a "filesystem" node under mb and reports whether the trees are
// equal. It fails with ErrInput (ErrLayer for a layer that cannot be read)
// or ctx's error, and when a tree passes maxFSPaths.
func (d *differ) compareFilesystems(ctx context.Context, mb *nodeB, feed *fsFeed) (bool, error) {
	trees, err := feed.finish(ctx)
	if err != nil {
		return false, err
	}
	la, lb := feed.layers[0], feed.layers[1]
	fb := d.child(mb, LevelLayer, "filesystem", "", "")
	fb.hc.fsCompared, fb.hc.fsView = false, true
	fb.n.Note = fmt.Sprintf("the layers applied in order: %s vs %s, %d vs %d paths",
		plural(len(la), "layer"), plural(len(lb), "layer"), trees[0].paths, trees[1].paths)
	fc := &fsCmp{d: d, nb: fb, links: [2]map[*fsInode][]string{linkGroups(trees[0]), linkGroups(trees[1])}}
	fc.walk("", trees[0].root, trees[1].root)
	keep(mb, fb)
	return fc.differing == 0, nil
}

// fsCmp compares two applied filesystems.
type fsCmp struct {
	d         *differ
	nb        *nodeB
	links     [2]map[*fsInode][]string // paths of each inode with several
	differing int
}

// linkGroups lists, for each inode with several paths (hard links), its
// paths in sorted order.
func linkGroups(t *fsTree) map[*fsInode][]string {
	out := map[*fsInode][]string{}
	var walk func(p string, n *fsNode)
	walk = func(p string, n *fsNode) {
		if n.ino.nlink > 1 {
			out[n.ino] = append(out[n.ino], displayPath(p))
		}
		for _, name := range unionKeys(n.children, nil) {
			walk(strings.TrimPrefix(p+"/"+name, "/"), n.children[name])
		}
	}
	walk("", t.root)
	return out
}

// walk compares the nodes at canonical path p (either may be nil) and what
// lies under them, in name order.
func (fc *fsCmp) walk(p string, a, b *fsNode) {
	switch {
	case a == nil && b == nil:
		return
	case a == nil || b == nil:
		fc.missing(p, a, b)
	default:
		fc.compare(p, a, b)
	}
	var ca, cb map[string]*fsNode
	if a != nil {
		ca = a.children
	}
	if b != nil {
		cb = b.children
	}
	for _, name := range unionKeys(ca, cb) {
		fc.walk(strings.TrimPrefix(p+"/"+name, "/"), ca[name], cb[name])
	}
}

func (fc *fsCmp) missing(p string, a, b *fsNode) {
	diff := Difference{Level: LevelEntry, Kind: KindMissing, Field: "entry", Path: displayPath(p), Semantic: true}
	if a != nil {
		diff.A, diff.Note = inodeSummary(a.ino), "only in A's filesystem"
	} else {
		diff.B, diff.Note = inodeSummary(b.ino), "only in B's filesystem"
	}
	fc.differing++
	fc.d.res.Semantic.Entry++
	fc.d.add(fc.nb, diff)
}

func inodeSummary(ino *fsInode) EntrySummary {
	s := EntrySummary{Type: typeName(ino.typ), Mode: fmtMode(ino.mode), Digest: ino.digest}
	if ino.typ == tar.TypeReg {
		s.Size = ino.size
	}
	s.Linkname = ino.link
	return s
}

// compare reports every field a container sees in which the two paths'
// inodes differ.
func (fc *fsCmp) compare(p string, na, nb *fsNode) {
	a, b := na.ino, nb.ino
	ed := &entryDiffs{path: displayPath(p)}
	if a.typ != b.typ {
		ed.add(KindType, "type", typeName(a.typ), typeName(b.typ), true)
	}
	if a.mode != b.mode {
		ed.add(KindMode, "mode", fmtMode(a.mode), fmtMode(b.mode), true)
	}
	if a.uid != b.uid {
		ed.add(KindUID, "uid", a.uid, b.uid, true)
	}
	if a.gid != b.gid {
		ed.add(KindGID, "gid", a.gid, b.gid, true)
	}
	// A folder no entry listed gets the time it is unpacked at, which is
	// in neither image: its mtime is not compared.
	if !a.mtime.Equal(b.mtime) && !a.implicit && !b.implicit {
		ed.add(KindMtime, "mtime", a.mtime.UTC(), b.mtime.UTC(), true)
	}
	if a.typ == b.typ {
		if a.typ == tar.TypeReg && a.size != b.size {
			ed.add(KindSize, "size", a.size, b.size, true)
		}
		if a.digest != b.digest {
			ed.add(KindContent, "content", digestOrNil(a.digest), digestOrNil(b.digest), true).Note = inodeContentNote(p, a, b)
		}
		if a.link != b.link {
			ed.add(KindLinkname, "linkname", a.link, b.link, true)
		}
		if a.devmajor != b.devmajor || a.devminor != b.devminor {
			ed.add(KindDevice, "device", fmt.Sprintf("%d:%d", a.devmajor, a.devminor),
				fmt.Sprintf("%d:%d", b.devmajor, b.devminor), true)
		}
	}
	diffStrings(a.xattrs, b.xattrs, func(k string, va, vb any) { ed.add(KindXattr, "xattr["+k+"]", va, vb, true) })
	ga, gb := strings.Join(fc.links[0][a], " "), strings.Join(fc.links[1][b], " ")
	if ga != gb {
		ed.add(KindHardLinks, "hard links", strOrNil(ga, ga != ""), strOrNil(gb, gb != ""), true).Note =
			"the paths that share this file's inode"
	}
	if len(ed.diffs) == 0 {
		return
	}
	fc.differing++
	fc.d.res.Semantic.Entry++
	for _, x := range ed.diffs {
		fc.d.add(fc.nb, x)
	}
}

// inodeContentNote explains a content difference as the strict view does
// (contentNote): same size, sparse, /etc/shadow's fields.
func inodeContentNote(p string, a, b *fsInode) string {
	ea := &entryInfo{name: p, typ: a.typ, size: a.size, sparse: a.sparse, captured: a.captured}
	eb := &entryInfo{name: p, typ: b.typ, size: b.size, sparse: b.sparse, captured: b.captured}
	return contentNote(ea, eb)
}

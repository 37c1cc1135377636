package imagediff

import (
	"archive/tar"
	"fmt"
	"strings"
)

// entryDiffs collects the differences of one entry pair, in the order they
// are reported.
type entryDiffs struct {
	path  string
	diffs []Difference
}

func (ed *entryDiffs) add(k Kind, field string, va, vb any, semantic bool) *Difference {
	ed.diffs = append(ed.diffs, Difference{Level: LevelEntry, Kind: k, Field: field, Path: ed.path, A: va, B: vb, Semantic: semantic})
	return &ed.diffs[len(ed.diffs)-1]
}

// compare reports every field in which two entries of the same name differ.
// Differences that only concern how the tar was written (name spelling,
// header format, S_IFMT bits) are tallied for the layer instead.
func (lc *layerCmp) compare(a, b *entryInfo) {
	ed := &entryDiffs{path: displayPath(a.name)}
	if a.raw != b.raw {
		lc.spelling.add(a.raw, b.raw, ed.path)
	}
	if a.format != b.format {
		lc.format.add(formatName(a.format), formatName(b.format), ed.path)
	}
	lc.compareHeader(ed, a, b)
	if a.typ == b.typ {
		lc.compareData(ed, a, b)
	}
	diffStrings(a.xattrs, b.xattrs, func(k string, va, vb any) { ed.add(KindXattr, "xattr["+k+"]", va, vb, true) })
	diffStrings(a.pax, b.pax, func(k string, va, vb any) { ed.add(KindPAX, "pax["+k+"]", va, vb, false) })
	if len(ed.diffs) == 0 {
		return
	}
	semantic := false
	for _, x := range ed.diffs {
		semantic = semantic || x.Semantic
	}
	lc.countEntry(semantic)
	for _, x := range ed.diffs {
		lc.d.add(lc.nb, x)
	}
}

// compareHeader compares what every entry has: type, mode, owner, times.
func (lc *layerCmp) compareHeader(ed *entryDiffs, a, b *entryInfo) {
	if a.typ != b.typ {
		ed.add(KindType, "type", typeName(a.typ), typeName(b.typ), true)
	}
	if pa, pb := a.mode&07777, b.mode&07777; pa != pb {
		ed.add(KindMode, "mode", fmtMode(pa), fmtMode(pb), true)
	} else if a.mode != b.mode {
		lc.modeBits.add(fmt.Sprintf("%07o", a.mode), fmt.Sprintf("%07o", b.mode), ed.path)
	}
	if a.uid != b.uid {
		ed.add(KindUID, "uid", a.uid, b.uid, true)
	}
	if a.gid != b.gid {
		ed.add(KindGID, "gid", a.gid, b.gid, true)
	}
	if a.uname != b.uname {
		ed.add(KindOwnerName, "uname", a.uname, b.uname, false)
	}
	if a.gname != b.gname {
		ed.add(KindOwnerName, "gname", a.gname, b.gname, false)
	}
	if !a.mtime.Equal(b.mtime) {
		note := rewrittenNote(lc.nb.hc.rewritten)
		if isWhiteout(a.name) {
			note = "a whiteout's own mtime: in no container's filesystem, and not rewritten by rewrite-timestamp"
		}
		ed.add(KindMtime, "mtime", a.mtime.UTC(), b.mtime.UTC(), true).Note = note
	}
	if !a.atime.Equal(b.atime) {
		ed.add(KindTime, "atime", timeOrNil(a.atime), timeOrNil(b.atime), false)
	}
	if !a.ctime.Equal(b.ctime) {
		ed.add(KindTime, "ctime", timeOrNil(a.ctime), timeOrNil(b.ctime), false)
	}
}

// rewrittenNote says which layers claim rewritten timestamps, which
// explains (or not) an mtime difference.
func rewrittenNote(rw [2]bool) string {
	switch {
	case rw[0] && rw[1]:
		return "both layers claim rewritten timestamps: different SOURCE_DATE_EPOCH?"
	case rw[0]:
		return "only A's layer has rewritten timestamps"
	case rw[1]:
		return "only B's layer has rewritten timestamps"
	}
	return ""
}

// compareData compares what entries of the same type carry: size and
// content, link target or device numbers.
func (lc *layerCmp) compareData(ed *entryDiffs, a, b *entryInfo) {
	if a.typ == tar.TypeReg && a.size != b.size {
		ed.add(KindSize, "size", a.size, b.size, true)
	}
	if a.digest != b.digest {
		ed.add(KindContent, "content", digestOrNil(a.digest), digestOrNil(b.digest), true).Note = contentNote(a, b)
	}
	switch a.typ {
	case tar.TypeLink, tar.TypeSymlink:
		if a.link != b.link {
			ed.add(KindLinkname, "linkname", a.rawLink, b.rawLink, true)
		} else if a.rawLink != b.rawLink {
			lc.spelling.add(a.rawLink, b.rawLink, ed.path)
		}
	case tar.TypeChar, tar.TypeBlock:
		if a.devmajor != b.devmajor || a.devminor != b.devminor {
			ed.add(KindDevice, "device", fmt.Sprintf("%d:%d", a.devmajor, a.devminor),
				fmt.Sprintf("%d:%d", b.devmajor, b.devminor), true)
		}
	}
}

func contentNote(a, b *entryInfo) string {
	var notes []string
	if a.typ == tar.TypeReg && a.size == b.size {
		notes = append(notes, fmt.Sprintf("same size %s", fmtSize(a.size)))
	}
	if a.sparse || b.sparse {
		notes = append(notes, "sparse: compared by data map and stored bytes, holes not expanded")
	}
	if a.captured != nil && b.captured != nil && (a.name == "etc/shadow" || a.name == "etc/shadow-") {
		notes = append(notes, shadowNote(a.captured, b.captured))
	}
	return strings.Join(notes, "; ")
}

// shadowNote explains a difference between two /etc/shadow files: whether
// only field 3 (the day of the last password change) differs.
func shadowNote(a, b []byte) string {
	la := strings.Split(strings.TrimRight(string(a), "\n"), "\n")
	lb := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(la) != len(lb) {
		return fmt.Sprintf("other fields differ too: %d vs %d accounts", len(la), len(lb))
	}
	var ex string
	changed := 0
	for i := range la {
		fa, fb := strings.Split(la[i], ":"), strings.Split(lb[i], ":")
		if len(fa) != len(fb) || len(fa) < 3 {
			if la[i] != lb[i] {
				return "other fields differ too (line " + fmt.Sprint(i+1) + ")"
			}
			continue
		}
		for j := range fa {
			if fa[j] == fb[j] {
				continue
			}
			if j != 2 {
				return fmt.Sprintf("other fields differ too (%s, field %d)", fa[0], j+1)
			}
			changed++
			if ex == "" {
				ex = fmt.Sprintf("%s: %s vs %s", fa[0], fa[2], fb[2])
			}
		}
	}
	if changed == 0 {
		return "same accounts and fields (line endings differ)"
	}
	return fmt.Sprintf("only the last-change day differs, on %s (%s)", plural(changed, "account"), ex)
}

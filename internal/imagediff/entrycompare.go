package imagediff

import (
	"archive/tar"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// idxPair is a matched entry pair found while the streams were out of step.
type idxPair struct {
	a, b int
	name string
}

// layerCmp compares the entries of two layer streams.
type layerCmp struct {
	d   *differ
	nb  *nodeB
	max int // Options.MaxPending

	pend    [2]map[string][]*entryInfo
	npend   [2]int
	episode []idxPair // pairs matched while out of step

	common     int
	outOfOrder int
	orderEx    [2]string // first pair found in opposite order (names, in A's order)

	formatDiff int
	formatEx   string
	spellDiff  int
	spellEx    [2]string
	modeBits   int
	modeBitsEx [2]string
	modeBitsAt string
	entryDiffs int // entries with at least one difference
}

// compareLayerStreams streams both layers at once and compares their
// entries. It returns what each stream learned.
func (d *differ) compareLayerStreams(ctx context.Context, nb *nodeB, descs [2]ocispec.Descriptor) ([2]sideStats, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		stats [2]sideStats
		errs  [2]error
		chans = [2]chan *entryInfo{make(chan *entryInfo, entryQueue), make(chan *entryInfo, entryQueue)}
		wg    sync.WaitGroup
	)
	for side := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(chans[side])
			errs[side] = streamLayer(ctx, side, d.src[side], descs[side], d.opts.VerifyDiffIDs, chans[side], &stats[side])
		}()
	}
	// Stop and wait for both readers whatever happens.
	defer func() {
		cancel()
		for side := range 2 {
			for range chans[side] {
			}
		}
		wg.Wait()
	}()

	lc := &layerCmp{d: d, nb: nb, max: d.opts.MaxPending}
	lc.pend[0], lc.pend[1] = map[string][]*entryInfo{}, map[string][]*entryInfo{}
	open := [2]bool{true, true}
	for open[0] || open[1] {
		var cur [2]*entryInfo
		for side := range 2 {
			if !open[side] {
				continue
			}
			e, ok := <-chans[side]
			if !ok {
				open[side] = false
				if errs[side] != nil {
					return [2]sideStats{}, errs[side]
				}
				continue
			}
			cur[side] = e
		}
		if err := lc.step(cur, open); err != nil {
			return [2]sideStats{}, err
		}
	}
	cancel()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return stats, err
		}
	}
	lc.finish(stats)
	return stats, nil
}

// step takes the next entry of each side (either may be nil at the end of
// its stream) and pairs them, directly while the streams are in step, else
// through the pending maps.
func (lc *layerCmp) step(cur [2]*entryInfo, open [2]bool) error {
	a, b := cur[0], cur[1]
	if a != nil && b != nil && a.name == b.name && lc.npend[0] == 0 && lc.npend[1] == 0 {
		lc.common++
		lc.compare(a, b)
		return nil
	}
	for side, e := range cur {
		if e == nil {
			continue
		}
		other := 1 - side
		if q := lc.pend[other][e.name]; len(q) > 0 {
			m := q[0]
			if len(q) == 1 {
				delete(lc.pend[other], e.name)
			} else {
				lc.pend[other][e.name] = q[1:]
			}
			lc.npend[other]--
			pa, pb := e, m
			if side == 1 {
				pa, pb = m, e
			}
			lc.common++
			lc.episode = append(lc.episode, idxPair{a: pa.idx, b: pb.idx, name: pa.name})
			lc.compare(pa, pb)
			continue
		}
		if !open[other] && cur[other] == nil {
			// The other stream has ended: nothing can match this entry.
			lc.missing(side, e)
			continue
		}
		lc.pend[side][e.name] = append(lc.pend[side][e.name], e)
		lc.npend[side]++
		if lc.max > 0 && lc.npend[side] > lc.max {
			return fmt.Errorf("more than %d tar entries out of step between the layers: giving up to bound memory", lc.max)
		}
	}
	if lc.npend[0] == 0 && lc.npend[1] == 0 {
		lc.closeEpisode()
	}
	return nil
}

// closeEpisode checks the pairs matched while out of step for entries that
// appear in opposite orders on the two sides.
func (lc *layerCmp) closeEpisode() {
	ep := lc.episode
	lc.episode = lc.episode[:0]
	if len(ep) < 2 {
		return
	}
	slices.SortFunc(ep, func(x, y idxPair) int { return cmp.Compare(x.a, y.a) })
	maxB, maxName := -1, ""
	for _, p := range ep {
		if p.b < maxB {
			lc.outOfOrder++
			if lc.orderEx[0] == "" {
				lc.orderEx = [2]string{displayPath(maxName), displayPath(p.name)}
			}
			continue
		}
		maxB, maxName = p.b, p.name
	}
}

// finish reports what is left: unmatched entries and the layer-wide
// aggregates.
func (lc *layerCmp) finish(stats [2]sideStats) {
	lc.closeEpisode()
	type leftover struct {
		side int
		e    *entryInfo
	}
	var left []leftover
	for side := range 2 {
		for _, q := range lc.pend[side] {
			for _, e := range q {
				left = append(left, leftover{side, e})
			}
		}
	}
	slices.SortFunc(left, func(x, y leftover) int {
		return cmp.Or(cmp.Compare(x.e.idx, y.e.idx), cmp.Compare(x.side, y.side))
	})
	for _, l := range left {
		lc.missing(l.side, l.e)
	}
	d, nb := lc.d, lc.nb
	if lc.outOfOrder > 0 {
		d.add(nb, Difference{Level: LevelLayer, Kind: KindOrder, Field: "entry order",
			A:    []string{lc.orderEx[0], lc.orderEx[1]},
			B:    []string{lc.orderEx[1], lc.orderEx[0]},
			Note: fmt.Sprintf("%d of %d common entries out of order", lc.outOfOrder, lc.common)})
	}
	if lc.formatDiff > 0 {
		d.add(nb, Difference{Level: LevelLayer, Kind: KindTarFormat, Field: "tar header format",
			A: formatMix(stats[0].formats), B: formatMix(stats[1].formats),
			Note: fmt.Sprintf("%s written in another format, e.g. %s", plural(lc.formatDiff, "entry"), lc.formatEx)})
	}
	if lc.spellDiff > 0 {
		d.add(nb, Difference{Level: LevelLayer, Kind: KindNameSpelling, Field: "entry names",
			A: lc.spellEx[0], B: lc.spellEx[1],
			Note: fmt.Sprintf("%s named differently", plural(lc.spellDiff, "entry"))})
	}
	if lc.modeBits > 0 {
		d.add(nb, Difference{Level: LevelLayer, Kind: KindModeBits, Field: "mode type bits",
			A: lc.modeBitsEx[0], B: lc.modeBitsEx[1],
			Note: fmt.Sprintf("%s differing only in S_IFMT bits, e.g. %s", plural(lc.modeBits, "entry"), lc.modeBitsAt)})
	}
}

// missing reports an entry found on one side only.
func (lc *layerCmp) missing(side int, e *entryInfo) {
	s := summarize(e)
	diff := Difference{Level: LevelEntry, Kind: KindMissing, Field: "entry", Path: displayPath(e.name), Semantic: true}
	if side == 0 {
		diff.A, diff.Note = s, "only in A"
	} else {
		diff.B, diff.Note = s, "only in B"
	}
	lc.countEntry(true)
	lc.d.add(lc.nb, diff)
}

func formatMix(m map[tar.Format]int) string {
	type fc struct {
		f tar.Format
		n int
	}
	var l []fc
	for f, n := range m {
		l = append(l, fc{f, n})
	}
	slices.SortFunc(l, func(x, y fc) int { return cmp.Or(cmp.Compare(y.n, x.n), cmp.Compare(x.f, y.f)) })
	var parts []string
	for _, x := range l {
		parts = append(parts, fmt.Sprintf("%s ×%d", formatName(x.f), x.n))
	}
	if len(parts) == 0 {
		return "no entries"
	}
	return strings.Join(parts, ", ")
}

func formatName(f tar.Format) string {
	switch f {
	case tar.FormatUSTAR:
		return "USTAR"
	case tar.FormatPAX:
		return "PAX"
	case tar.FormatGNU:
		return "GNU"
	case tar.FormatUnknown:
		return "V7"
	}
	return f.String()
}

func (lc *layerCmp) countEntry(semantic bool) {
	lc.entryDiffs++
	lc.d.res.Strict.Entry++
	if semantic && !lc.nb.hc.attestation {
		lc.d.res.Semantic.Entry++
	}
}

// compare reports every field in which two entries of the same name differ.
func (lc *layerCmp) compare(a, b *entryInfo) {
	p := displayPath(a.name)
	if a.raw != b.raw {
		if lc.spellDiff == 0 {
			lc.spellEx = [2]string{a.raw, b.raw}
		}
		lc.spellDiff++
	}
	if a.format != b.format {
		if lc.formatDiff == 0 {
			lc.formatEx = fmt.Sprintf("%s: %s vs %s", p, formatName(a.format), formatName(b.format))
		}
		lc.formatDiff++
	}
	var diffs []Difference
	add := func(k Kind, field string, va, vb any, semantic bool) {
		diffs = append(diffs, Difference{Level: LevelEntry, Kind: k, Field: field, Path: p, A: va, B: vb, Semantic: semantic})
	}
	sameType := a.typ == b.typ
	if !sameType {
		add(KindType, "type", typeName(a.typ), typeName(b.typ), true)
	}
	if pa, pb := a.mode&07777, b.mode&07777; pa != pb {
		add(KindMode, "mode", fmtMode(pa), fmtMode(pb), true)
	} else if a.mode != b.mode {
		if lc.modeBits == 0 {
			lc.modeBitsEx = [2]string{fmt.Sprintf("%07o", a.mode), fmt.Sprintf("%07o", b.mode)}
			lc.modeBitsAt = p
		}
		lc.modeBits++
	}
	if a.uid != b.uid {
		add(KindUID, "uid", a.uid, b.uid, true)
	}
	if a.gid != b.gid {
		add(KindGID, "gid", a.gid, b.gid, true)
	}
	if a.uname != b.uname {
		add(KindOwnerName, "uname", a.uname, b.uname, false)
	}
	if a.gname != b.gname {
		add(KindOwnerName, "gname", a.gname, b.gname, false)
	}
	if !a.mtime.Equal(b.mtime) {
		add(KindMtime, "mtime", a.mtime.UTC(), b.mtime.UTC(), true)
		switch rw := lc.nb.hc.rewritten; {
		case rw[0] && rw[1]:
			diffs[len(diffs)-1].Note = "both layers claim rewritten timestamps: different SOURCE_DATE_EPOCH?"
		case rw[0]:
			diffs[len(diffs)-1].Note = "only A's layer has rewritten timestamps"
		case rw[1]:
			diffs[len(diffs)-1].Note = "only B's layer has rewritten timestamps"
		}
	}
	if !a.atime.Equal(b.atime) {
		add(KindTime, "atime", timeOrNil(a.atime), timeOrNil(b.atime), false)
	}
	if !a.ctime.Equal(b.ctime) {
		add(KindTime, "ctime", timeOrNil(a.ctime), timeOrNil(b.ctime), false)
	}
	if sameType {
		if a.typ == tar.TypeReg && a.size != b.size {
			add(KindSize, "size", a.size, b.size, true)
		}
		if a.digest != b.digest {
			add(KindContent, "content", digestOrNil(a.digest), digestOrNil(b.digest), true)
			diffs[len(diffs)-1].Note = contentNote(a, b)
		}
		switch a.typ {
		case tar.TypeLink, tar.TypeSymlink:
			if a.link != b.link {
				add(KindLinkname, "linkname", a.rawLink, b.rawLink, true)
			} else if a.rawLink != b.rawLink {
				if lc.spellDiff == 0 {
					lc.spellEx = [2]string{a.rawLink, b.rawLink}
				}
				lc.spellDiff++
			}
		case tar.TypeChar, tar.TypeBlock:
			if a.devmajor != b.devmajor || a.devminor != b.devminor {
				add(KindDevice, "device", fmt.Sprintf("%d:%d", a.devmajor, a.devminor),
					fmt.Sprintf("%d:%d", b.devmajor, b.devminor), true)
			}
		}
	}
	diffStrings(a.xattrs, b.xattrs, func(k string, va, vb any) { add(KindXattr, "xattr["+k+"]", va, vb, true) })
	diffStrings(a.pax, b.pax, func(k string, va, vb any) { add(KindPAX, "pax["+k+"]", va, vb, false) })
	if len(diffs) == 0 {
		return
	}
	semantic := false
	for _, x := range diffs {
		semantic = semantic || x.Semantic
	}
	lc.countEntry(semantic)
	for _, x := range diffs {
		lc.d.add(lc.nb, x)
	}
}

func contentNote(a, b *entryInfo) string {
	var notes []string
	if a.typ == tar.TypeReg && a.size == b.size {
		notes = append(notes, fmt.Sprintf("same size %s", fmtSize(a.size)))
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

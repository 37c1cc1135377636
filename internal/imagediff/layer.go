package imagediff

import (
	"archive/tar"
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/repro-matrix/repro-matrix/internal/oci"
)

// Limits of the layer reader.
const (
	copyBufSize   = 256 << 10 // per side
	entryQueue    = 64        // entries a side may read ahead of the comparison
	captureLimit  = 64 << 10  // largest file kept in memory for a closer look
	zstdMaxWindow = 1 << 27   // 128 MiB, the largest window zstd --long uses
)

// capturedPaths are small files whose content is kept (up to captureLimit)
// so that a content difference can be explained field by field.
var capturedPaths = map[string]bool{"etc/shadow": true, "etc/shadow-": true}

// entryInfo is what is kept of one tar entry: its metadata and the digest
// of its content, never the content (but for capturedPaths).
type entryInfo struct {
	idx      int    // position in the stream
	name     string // canonical: no leading "./" or "/", no trailing "/"
	raw      string // as written
	typ      byte
	mode     int64
	uid, gid int
	uname    string
	gname    string
	mtime    time.Time
	atime    time.Time
	ctime    time.Time
	size     int64
	link     string // canonical for hard links, as written for symlinks
	rawLink  string
	devmajor int64
	devminor int64
	xattrs   map[string]string
	pax      map[string]string // PAX records not reflected in the fields above
	format   tar.Format
	digest   digest.Digest // of the content; "" for entries without data
	captured []byte
}

// paxParsed are PAX keys that archive/tar folds into Header fields, which
// are compared as such.
var paxParsed = map[string]bool{
	"path": true, "linkpath": true, "size": true, "uid": true, "gid": true,
	"uname": true, "gname": true, "mtime": true, "atime": true, "ctime": true,
}

func canonName(n string) string {
	for {
		switch {
		case strings.HasPrefix(n, "./"):
			n = n[2:]
		case strings.HasPrefix(n, "/"):
			n = n[1:]
		default:
			return path.Clean(n)
		}
	}
}

// displayPath renders a canonical entry name as an absolute path.
func displayPath(name string) string {
	if name == "." || name == "" {
		return "/"
	}
	return "/" + name
}

func newEntryInfo(idx int, h *tar.Header) *entryInfo {
	e := &entryInfo{
		idx: idx, name: canonName(h.Name), raw: h.Name, typ: h.Typeflag,
		mode: h.Mode, uid: h.Uid, gid: h.Gid, uname: h.Uname, gname: h.Gname,
		mtime: h.ModTime, atime: h.AccessTime, ctime: h.ChangeTime,
		size: h.Size, rawLink: h.Linkname, link: h.Linkname,
		devmajor: h.Devmajor, devminor: h.Devminor, format: h.Format,
	}
	if e.typ == tar.TypeRegA { //nolint:staticcheck // old writers still emit it
		e.typ = tar.TypeReg
	}
	if e.typ == tar.TypeLink {
		e.link = canonName(h.Linkname)
	}
	for k, v := range h.PAXRecords {
		switch {
		case strings.HasPrefix(k, "SCHILY.xattr."):
			if e.xattrs == nil {
				e.xattrs = map[string]string{}
			}
			e.xattrs[strings.TrimPrefix(k, "SCHILY.xattr.")] = v
		case paxParsed[k]:
		default:
			if e.pax == nil {
				e.pax = map[string]string{}
			}
			e.pax[k] = v
		}
	}
	return e
}

func typeName(t byte) string {
	switch t {
	case tar.TypeReg:
		return "file"
	case tar.TypeDir:
		return "dir"
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeLink:
		return "hardlink"
	case tar.TypeChar:
		return "char-device"
	case tar.TypeBlock:
		return "block-device"
	case tar.TypeFifo:
		return "fifo"
	}
	return fmt.Sprintf("type %q", t)
}

func fmtMode(m int64) string { return fmt.Sprintf("%04o", m) }

// EntrySummary describes an entry present on one side only.
type EntrySummary struct {
	Type     string        `json:"type"`
	Mode     string        `json:"mode"`
	Size     int64         `json:"size,omitempty"`
	Digest   digest.Digest `json:"digest,omitempty"`
	Linkname string        `json:"linkname,omitempty"`
}

func (s EntrySummary) String() string {
	out := s.Type + " " + s.Mode
	if s.Type == "file" {
		out += " " + fmtSize(s.Size)
	}
	if s.Linkname != "" {
		out += " -> " + s.Linkname
	}
	return out
}

func summarize(e *entryInfo) EntrySummary {
	s := EntrySummary{Type: typeName(e.typ), Mode: fmtMode(e.mode & 07777), Digest: e.digest}
	if e.typ == tar.TypeReg {
		s.Size = e.size
	}
	if e.typ == tar.TypeLink || e.typ == tar.TypeSymlink {
		s.Linkname = e.rawLink
	}
	return s
}

// sideStats is what streaming one layer learned beyond its entries.
type sideStats struct {
	entries     int
	formats     map[tar.Format]int
	compression string        // by magic: compNone, compGzip, compZstd
	diffID      digest.Digest // when asked for
}

// openDecompressed detects the compression by its magic number and returns
// the uncompressed stream, and the buffered compressed one to drain.
func openDecompressed(rc io.Reader) (r io.Reader, br *bufio.Reader, comp string, done func(), err error) {
	br = bufio.NewReaderSize(rc, 64<<10)
	magic, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, "", nil, err
	}
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, "", nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, br, compGzip, func() { _ = zr.Close() }, nil
	case len(magic) == 4 && bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, nil, "", nil, fmt.Errorf("zstd: %w", err)
		}
		return zr, br, compZstd, zr.Close, nil
	}
	return br, br, compNone, func() {}, nil
}

// streamLayer reads one layer blob and sends its entries to out, hashing
// each entry's content on the way. It closes nothing of out.
func streamLayer(ctx context.Context, side int, src Source, desc ocispec.Descriptor, wantDiffID bool, out chan<- *entryInfo, st *sideStats) (err error) {
	where := fmt.Sprintf("image %s: layer %s", sideName(side), desc.Digest)
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error: %s: %v", where, p)
		}
	}()
	rc, err := src.Blob(ctx, desc)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInput, where, err)
	}
	defer rc.Close()
	dec, br, comp, done, err := openDecompressed(rc)
	if err != nil {
		return fmt.Errorf("%s: %w", where, layerReadError(err))
	}
	defer done()
	st.compression = comp
	st.formats = map[tar.Format]int{}
	var diffID digest.Digester
	if wantDiffID {
		diffID = digest.Canonical.Digester()
		dec = io.TeeReader(dec, diffID.Hash())
	}
	tr := tar.NewReader(dec)
	buf := make([]byte, copyBufSize)
	for i := 0; ; i++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: entry #%d: %w", where, i, layerReadError(err))
		}
		e := newEntryInfo(i, hdr)
		st.entries++
		st.formats[e.format]++
		h := digest.Canonical.Digester()
		var w io.Writer = h.Hash()
		var capture *bytes.Buffer
		if capturedPaths[e.name] && hdr.Size <= captureLimit {
			capture = &bytes.Buffer{}
			w = io.MultiWriter(h.Hash(), capture)
		}
		n, err := io.CopyBuffer(w, oci.ContextReader(ctx, tr), buf)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", where, displayPath(e.name), layerReadError(err))
		}
		if n > 0 || e.typ == tar.TypeReg {
			e.digest = h.Digest()
		}
		if capture != nil {
			e.captured = capture.Bytes()
		}
		select {
		case out <- e:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// Whatever follows the end-of-archive marker still belongs to the
	// diff-id, and the compressed stream must be read to its end for the
	// decompressor and the Source to check it.
	if _, err := io.CopyBuffer(io.Discard, oci.ContextReader(ctx, dec), buf); err != nil {
		return fmt.Errorf("%s: after the tar stream: %w", where, layerReadError(err))
	}
	if _, err := io.CopyBuffer(io.Discard, oci.ContextReader(ctx, br), buf); err != nil {
		return fmt.Errorf("%s: %w", where, layerReadError(err))
	}
	if diffID != nil {
		st.diffID = diffID.Digest()
	}
	return nil
}

// ErrLayer marks an unreadable layer stream: corrupt compression, not a tar
// stream, truncated. It wraps ErrInput.
var ErrLayer = fmt.Errorf("%w: unreadable layer", ErrInput)

func layerReadError(err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, tar.ErrHeader):
		return fmt.Errorf("%w: not a tar stream: %w", ErrLayer, err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: truncated: %w", ErrLayer, err)
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader):
		return fmt.Errorf("%w: corrupt gzip stream: %w", ErrLayer, err)
	}
	return fmt.Errorf("%w: %w", ErrLayer, err)
}

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

// unionKeys lists the keys of a and b, each once, sorted.
func unionKeys[V any](a, b map[string]V) []string {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// diffStrings calls emit, in key order, for every key whose value differs
// between a and b, with nil for the side that lacks it.
func diffStrings(a, b map[string]string, emit func(key string, va, vb any)) {
	for _, k := range unionKeys(a, b) {
		va, oka := a[k]
		vb, okb := b[k]
		if oka != okb || va != vb {
			emit(k, strOrNil(va, oka), strOrNil(vb, okb))
		}
	}
}

func strOrNil(s string, ok bool) any {
	if !ok {
		return nil
	}
	return s
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

func digestOrNil(d digest.Digest) any {
	if d == "" {
		return nil
	}
	return d
}

func fmtSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

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

	// Entries that differ in ways reported once for the whole layer.
	format   tally // tar header format
	spelling tally // name or link name spelled differently
	modeBits tally // mode differing only in S_IFMT bits
}

// tally counts entry pairs that differ alike and keeps the first as an
// example: the values on each side and the entry's path.
type tally struct {
	n  int
	ex [2]string
	at string
}

func (t *tally) add(a, b, at string) {
	if t.n == 0 {
		t.ex, t.at = [2]string{a, b}, at
	}
	t.n++
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
			d.feed.take(side, e)
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
	if f := lc.format; f.n > 0 {
		d.add(nb, Difference{Level: LevelLayer, Kind: KindTarFormat, Field: "tar header format",
			A: formatMix(stats[0].formats), B: formatMix(stats[1].formats),
			Note: fmt.Sprintf("%s written in another format, e.g. %s: %s vs %s", plural(f.n, "entry"), f.at, f.ex[0], f.ex[1])})
	}
	if sp := lc.spelling; sp.n > 0 {
		d.add(nb, Difference{Level: LevelLayer, Kind: KindNameSpelling, Field: "entry names",
			A: sp.ex[0], B: sp.ex[1],
			Note: fmt.Sprintf("%s named differently", plural(sp.n, "entry"))})
	}
	if mb := lc.modeBits; mb.n > 0 {
		d.add(nb, Difference{Level: LevelLayer, Kind: KindModeBits, Field: "mode type bits",
			A: mb.ex[0], B: mb.ex[1],
			Note: fmt.Sprintf("%s differing only in S_IFMT bits, e.g. %s", plural(mb.n, "entry"), mb.at)})
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
	lc.d.res.Strict.Entry++
	if semantic && !lc.nb.hc.attestation && !lc.nb.hc.fsCompared {
		lc.d.res.Semantic.Entry++
	}
}

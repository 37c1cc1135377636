package imagediff

import (
	"context"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fsFeed builds both sides' applied filesystems while the layers are
// compared pair by pair, so that a layer streamed for the strict view is
// not streamed again for the semantic one. Layers the strict view does not
// stream (same blob, same diff-id, one side only) are streamed for the
// trees alone, in order. Pairs come in increasing order on both sides
// (alignLayers); should one not, the feed gives up and the trees are built
// afresh (broken).
type fsFeed struct {
	d      *differ
	layers [2][]ocispec.Descriptor
	trees  [2]*fsTree
	next   [2]int // the next layer to apply, per side
	live   bool   // entries of the pair being streamed go to the trees
	broken bool
	full   bool // a tree passed maxFSPaths
}

func newFSFeed(d *differ, la, lb []ocispec.Descriptor) *fsFeed {
	return &fsFeed{d: d, layers: [2][]ocispec.Descriptor{la, lb}, trees: [2]*fsTree{newFSTree(), newFSTree()}}
}

// begin is called before the layer pair (a, b) is streamed: it applies the
// layers before them, then lets the pair's entries through take.
func (f *fsFeed) begin(ctx context.Context, a, b int) error {
	if f == nil || f.broken {
		return nil
	}
	if a < f.next[0] || b < f.next[1] {
		f.broken = true
		return nil
	}
	for side, upto := range [2]int{a, b} {
		if err := f.catchUp(ctx, side, upto); err != nil {
			return err
		}
		f.trees[side].layer = upto
	}
	f.live = true
	return nil
}

// take applies one entry of the pair being streamed.
func (f *fsFeed) take(side int, e *entryInfo) {
	if f == nil || !f.live {
		return
	}
	f.trees[side].apply(e)
	if f.trees[side].paths > maxFSPaths {
		f.full = true
	}
}

// end closes the pair begun: both layers are applied.
func (f *fsFeed) end() {
	if f == nil || !f.live {
		return
	}
	f.live = false
	for side := range 2 {
		f.trees[side].endLayer()
		f.next[side] = f.trees[side].layer + 1
	}
}

// abandon closes a pair begun but not streamed after all: its layers are
// applied later, alone.
func (f *fsFeed) abandon() {
	if f != nil {
		f.live = false
	}
}

// catchUp applies side's layers from next up to (not including) upto.
func (f *fsFeed) catchUp(ctx context.Context, side, upto int) error {
	for ; f.next[side] < upto; f.next[side]++ {
		t := f.trees[side]
		t.layer = f.next[side]
		if err := f.d.applyLayer(ctx, side, f.layers[side][t.layer], t); err != nil {
			return err
		}
	}
	return nil
}

// finish applies what is left and returns both trees.
func (f *fsFeed) finish(ctx context.Context) ([2]*fsTree, error) {
	if f.full {
		return f.trees, fmt.Errorf("%w: more than %d paths in the filesystem of an image's layers", ErrInput, maxFSPaths)
	}
	if f.broken {
		f.trees, f.next = [2]*fsTree{newFSTree(), newFSTree()}, [2]int{}
	}
	for side := range 2 {
		if err := f.catchUp(ctx, side, len(f.layers[side])); err != nil {
			return f.trees, err
		}
	}
	return f.trees, nil
}

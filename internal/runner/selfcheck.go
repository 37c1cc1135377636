package runner

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/build"
	"github.com/repro-matrix/repro-matrix/internal/matrix"
	"github.com/repro-matrix/repro-matrix/internal/oci"
	"github.com/repro-matrix/repro-matrix/internal/report"
)

// SelfCheckCells picks, per group, the cell that is built a second time on
// a fresh builder, so that a fixture that is not deterministic is told from
// engines that differ (BuildKit's own reproducibility test rebuilds after
// pruning everything). It is a cell of the group's reference: the pinned
// BuildKit's first, under a host engine where there is one, by name. The
// rule is the same for every exporter of a fixture, so one rebuild serves
// the cells of one shared build. The answer holds cell names.
func SelfCheckCells(cells []matrix.Cell) map[string]bool {
	best := map[string]matrix.Cell{}
	for _, c := range cells {
		g := c.Group()
		if b, ok := best[g]; !ok || selfCheckOrder(c, b) < 0 {
			best[g] = c
		}
	}
	out := map[string]bool{}
	for _, c := range best {
		out[c.Name()] = true
	}
	return out
}

// selfCheckOrder prefers the pinned BuildKit, then a host engine, then the
// engine and BuildKit names: the exporter does not decide.
func selfCheckOrder(a, b matrix.Cell) int {
	rank := func(c matrix.Cell) int {
		r := 0
		if !c.BuildKit.Pinned {
			r += 2
		}
		if c.Engine.Where != matrix.Host {
			r++
		}
		return r
	}
	return cmp.Or(cmp.Compare(rank(a), rank(b)), strings.Compare(Pair(a), Pair(b)))
}

// selfCheck rebuilds the self-checked cells of c's batch once on a fresh
// builder and records the rebuild of c in res: its digest, tarball and
// time, or why it failed. It returns the wall time it spent here.
func (r *Cells) selfCheck(ctx context.Context, c matrix.Cell, b *builder, bt *batch, res *report.CellResult, log io.Writer) time.Duration {
	var wall time.Duration
	if !bt.selfChecked {
		t := time.Now()
		bt.selfErr = r.rebuild(ctx, b, bt, log)
		bt.selfTook, bt.selfChecked = time.Since(t), true
		wall = bt.selfTook
	}
	res.Timings["self-check"] = bt.selfTook / time.Duration(r.selfCells(bt))
	if bt.selfErr != nil {
		res.SelfCheckError = bt.selfErr.Error()
		return wall
	}
	res.SelfCheckTarball = selfCheckTarball(res.Tarball)
	a, err := oci.Analyze(ctx, res.SelfCheckTarball)
	switch {
	case err != nil:
		res.SelfCheckError = fmt.Sprintf("analyze %s: %v", filepath.Base(res.SelfCheckTarball), err)
	case a.ImageDigest == "":
		res.SelfCheckError = "analyze the rebuild: no image manifest in index.json"
	default:
		res.SelfCheck = a.ImageDigest.String()
	}
	return wall
}

// rebuild builds the batch's self-checked cells again on a builder of
// their own, started for it and removed after it: an empty content store.
func (r *Cells) rebuild(ctx context.Context, b *builder, bt *batch, log io.Writer) error {
	fresh := &builder{Builder: b.Builder, engine: b.engine}
	fresh.Name = b.Name + "-self"
	defer fresh.Remove(ctx, fresh.engine)
	if err := fresh.Start(ctx, fresh.engine); err != nil {
		return fmt.Errorf("self-check: %w", err)
	}
	opts, err := r.options(bt.cells[0], fresh)
	if err != nil {
		return err
	}
	for _, o := range bt.cells {
		if r.selfChecks[o.Name()] {
			opts.Outputs = append(opts.Outputs, build.Output{Path: selfCheckTarball(r.tarball(o)),
				Exporter: build.Exporter(o.Exporter.Type), OCIMediaTypes: o.Exporter.OCIMediatypes})
		}
	}
	if err := build.Run(ctx, fresh.engine, opts, log); err != nil {
		return fmt.Errorf("self-check build on a fresh builder: %w", err)
	}
	return nil
}

// selfCells counts the batch's cells that the rebuild serves.
func (r *Cells) selfCells(bt *batch) int {
	n := 0
	for _, c := range bt.cells {
		if r.selfChecks[c.Name()] {
			n++
		}
	}
	return max(n, 1)
}

func selfCheckTarball(tarball string) string {
	return filepath.Join(filepath.Dir(tarball), "self-check.tar")
}

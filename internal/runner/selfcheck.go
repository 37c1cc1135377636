package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/build"
	"github.com/repro-matrix/repro-matrix/internal/matrix"
	"github.com/repro-matrix/repro-matrix/internal/oci"
	"github.com/repro-matrix/repro-matrix/internal/report"
)

// SelfCheckCells picks, per group, the cell that is built a second time on
// a fresh builder and with each variation of its vary list, so that a
// fixture that is not deterministic, or depends on its build environment,
// is told from engines that differ (BuildKit's own reproducibility test
// rebuilds after pruning everything). It is a cell of the group's
// reference: the pinned BuildKit's, under a host engine where there is
// one. Fixtures take turns among such pairs (by name), so that this work
// is spread over the run's builders; every exporter of a fixture and
// platform gets the same pair, so one rebuild serves the cells of one
// shared build. The answer holds cell names.
func SelfCheckCells(cells []matrix.Cell) map[string]bool {
	byGroup := map[string][]matrix.Cell{}
	for _, c := range cells {
		byGroup[c.Group()] = append(byGroup[c.Group()], c)
	}
	turn := fixtureTurns(cells)
	out := map[string]bool{}
	for _, group := range byGroup {
		best := selfCheckRank(group[0])
		for _, c := range group {
			best = min(best, selfCheckRank(c))
		}
		var candidates []matrix.Cell
		for _, c := range group {
			if selfCheckRank(c) == best {
				candidates = append(candidates, c)
			}
		}
		slices.SortFunc(candidates, func(a, b matrix.Cell) int { return strings.Compare(Pair(a), Pair(b)) })
		out[candidates[turn[group[0].Fixture.Name]%len(candidates)].Name()] = true
	}
	return out
}

// selfCheckRank prefers the pinned BuildKit, then a host engine.
func selfCheckRank(c matrix.Cell) int {
	r := 0
	if !c.Pinned() {
		r += 2
	}
	if c.Engine.Where != matrix.Host {
		r++
	}
	return r
}

// fixtureTurns numbers the cells' fixtures in name order.
func fixtureTurns(cells []matrix.Cell) map[string]int {
	var names []string
	for _, c := range cells {
		if !slices.Contains(names, c.Fixture.Name) {
			names = append(names, c.Fixture.Name)
		}
	}
	slices.Sort(names)
	turn := map[string]int{}
	for i, n := range names {
		turn[n] = i
	}
	return turn
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
	res.SelfCheckTarball = selfCheckTarball(r.tarball(c))
	a, err := oci.Analyze(ctx, res.SelfCheckTarball)
	switch {
	case err != nil:
		res.SelfCheckError = fmt.Sprintf("analyze %s: %v", filepath.Base(res.SelfCheckTarball), err)
	case a.ImageDigest == "":
		res.SelfCheckError = "analyze the rebuild: no image manifest in index.json"
	default:
		res.SelfCheck = a.ImageDigest.String()
	}
	dropIfSame(&res.SelfCheckTarball, res.SelfCheck, res.Digest)
	return wall
}

// dropIfSame removes a rebuild's tarball that built the cell's digest: only
// a rebuild that differs is diffed, and a run of hundreds of cells would
// otherwise keep gigabytes of identical images until its reports are made.
func dropIfSame(tarball *string, rebuilt, digest string) {
	if rebuilt != "" && rebuilt == digest && os.Remove(*tarball) == nil {
		*tarball = ""
	}
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
			opts.Outputs = append(opts.Outputs, output(o, selfCheckTarball(r.tarball(o))))
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

package runner

import (
	"cmp"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/matrix"
	"github.com/repro-matrix/repro-matrix/internal/report"
)

// PairCells are the cells of one Pair, which build on one builder: a
// process runs them all, one after the other, so that no two processes
// share a BuildKit.
type PairCells struct {
	Pair  string
	Cells []matrix.Cell
	// Estimate is how long the cells are expected to take: their times in
	// the last run where it has them all, else a guess from their shape.
	Estimate time.Duration
}

// Schedule groups cells by Pair, longest first (ties by name), keeping
// the cells' order within a pair. last are an earlier run's results
// (results.json), nil when there is none.
func Schedule(cells []matrix.Cell, last []report.CellResult) []PairCells {
	took := map[string]time.Duration{}
	for _, r := range last {
		if r.Error == "" && r.Timings["total"] > 0 {
			took[r.Name] = r.Timings["total"] + r.Timings["self-check"] + r.Timings["variations"]
		}
	}
	checked := SelfCheckCells(cells)
	var pairs []PairCells
	index := map[string]int{}
	for _, c := range cells {
		p := Pair(c)
		i, ok := index[p]
		if !ok {
			i = len(pairs)
			index[p] = i
			pairs = append(pairs, PairCells{Pair: p})
		}
		pairs[i].Cells = append(pairs[i].Cells, c)
	}
	for i := range pairs {
		pairs[i].Estimate = estimate(pairs[i].Cells, took, checked)
	}
	slices.SortStableFunc(pairs, func(a, b PairCells) int {
		return cmp.Or(cmp.Compare(b.Estimate, a.Estimate), cmp.Compare(a.Pair, b.Pair))
	})
	return pairs
}

// estimate is the last run's time of the cells when it has every one, else
// a guess: a cell on a base image takes about ten times one FROM scratch
// (measured: 10-22 s against 0.5-1.1 s), under an engine in a container
// half as long again, on an emulated platform three times as long, a
// self-checked one once more per rebuild (its self-check, its variations),
// and cells of one build share its time. Times include self-checks and
// variations.
func estimate(cells []matrix.Cell, took map[string]time.Duration, checked map[string]bool) time.Duration {
	var sum time.Duration
	known := true
	for _, c := range cells {
		d, ok := took[c.Name()]
		known = known && ok
		sum += d
	}
	if known {
		return sum
	}
	builds := map[string]time.Duration{}
	for _, c := range cells {
		d := time.Second
		if c.Fixture.Base != nil {
			d = 10 * time.Second
		}
		if c.Engine.Where == matrix.Container {
			d += d / 2
		}
		if emulated(c.Platform) {
			d *= 3
		}
		if checked[c.Name()] {
			d *= time.Duration(2 + len(c.Vary)) // its self-check and variations
		}
		builds[batchKey(c)] = max(builds[batchKey(c)], d)
	}
	sum = 0
	for _, d := range builds {
		sum += d
	}
	return sum
}

// emulated reports whether a platform, or one of a platform set's, is not
// the host's: its RUN steps run under qemu-user-static.
func emulated(platform string) bool {
	for _, p := range strings.Split(platform, ",") {
		if !strings.HasPrefix(p, "linux/"+runtime.GOARCH) {
			return true
		}
	}
	return false
}

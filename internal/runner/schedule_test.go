package runner

import (
	"testing"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/matrix"
	"github.com/repro-matrix/repro-matrix/internal/report"
)

func scheduleCells() []matrix.Cell {
	scratch := &matrix.Fixture{Name: "scratch"}
	debian := &matrix.Fixture{Name: "debian", Base: &matrix.FixtureBase{Suite: "bookworm"}}
	host := &matrix.Engine{Name: "docker-20.10.24", Where: matrix.Host}
	inCtr := &matrix.Engine{Name: "docker-28.5.2", Where: matrix.Container}
	pinned, latest := &matrix.BuildKit{Name: "v0.19.0"}, &matrix.BuildKit{Name: "latest"}
	var cells []matrix.Cell
	for _, e := range []*matrix.Engine{host, inCtr} {
		for _, bk := range []*matrix.BuildKit{pinned, latest} {
			for _, f := range []*matrix.Fixture{scratch, debian} {
				if f == debian && bk == latest && e == host {
					continue // the host's latest pair only builds scratch
				}
				for _, x := range []string{"docker", "oci"} {
					cells = append(cells, matrix.Cell{Fixture: f, Platform: "linux/amd64", Engine: e, BuildKit: bk,
						Exporter: &matrix.Exporter{Name: x, Type: matrix.ExporterType(x)}})
				}
			}
		}
	}
	return cells
}

func TestScheduleKeepsPairsTogetherLongestFirst(t *testing.T) {
	cells := scheduleCells()
	pairs := Schedule(cells, nil)
	var order []string
	n := 0
	for _, p := range pairs {
		order = append(order, p.Pair)
		for _, c := range p.Cells {
			if Pair(c) != p.Pair {
				t.Errorf("cell %s in pair %s", c.Name(), p.Pair)
			}
		}
		n += len(p.Cells)
	}
	if n != len(cells) {
		t.Errorf("scheduled %d cells of %d", n, len(cells))
	}
	// The host's v0.19.0 pair self-checks both fixtures (22 s guessed),
	// then the engine in a container (16.5 s each), then the host's latest
	// pair, which builds one fixture.
	want := []string{"docker-20.10.24/v0.19.0", "docker-28.5.2/latest", "docker-28.5.2/v0.19.0", "docker-20.10.24/latest"}
	if len(order) != len(want) {
		t.Fatalf("pairs %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("pairs %v, want %v", order, want)
		}
	}
}

func TestScheduleUsesTheLastRunsTimes(t *testing.T) {
	cells := scheduleCells()
	var last []report.CellResult
	for _, c := range cells {
		d := time.Second
		if Pair(c) == "docker-20.10.24/latest" {
			d = time.Minute // slow last night: goes first
		}
		last = append(last, report.CellResult{Name: c.Name(), Timings: report.Durations{"total": d}})
	}
	if first := Schedule(cells, last)[0]; first.Pair != "docker-20.10.24/latest" || first.Estimate != 2*time.Minute {
		t.Errorf("first pair %s (%s), want docker-20.10.24/latest (2m0s)", first.Pair, first.Estimate)
	}
	if p := Schedule(cells, last[:1])[0]; p.Pair != "docker-20.10.24/v0.19.0" {
		t.Errorf("with times for a few cells only the guess decides: first %s", p.Pair)
	}
}

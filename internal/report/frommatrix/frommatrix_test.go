package frommatrix

import (
	"testing"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/matrix"
)

// The matchers judge every cell of the project's matrix as the matrix's
// own KnownDivergence.Matches does.
func TestKnownDivergencesMatchAsTheMatrix(t *testing.T) {
	m, err := matrix.Load("../../../matrix.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cells, err := m.Expand("nightly")
	if err != nil {
		t.Fatal(err)
	}
	known := KnownDivergences(m)
	if len(known) != len(m.KnownDivergences) || len(known) == 0 {
		t.Fatalf("%d known divergences from %d", len(known), len(m.KnownDivergences))
	}
	matched := 0
	for i, k := range known {
		src := m.KnownDivergences[i]
		if k.Cells != src.Cells || k.Link != src.Link || k.Reason != src.Reason {
			t.Errorf("divergence %d: %+v from %+v", i, k, src)
		}
		if day := k.Expires.Format(matrix.DateLayout); day != src.Expires || k.Expires.Hour() != 23 {
			t.Errorf("divergence %d expires %v, matrix says %s", i, k.Expires, src.Expires)
		}
		for _, c := range cells {
			got, want := k.Match(Axes(c)), src.Matches(c)
			if got != want {
				t.Errorf("%s on %s: %v, matrix says %v", k.Cells, c.Name(), got, want)
			}
			if got {
				matched++
			}
		}
	}
	if matched == 0 {
		t.Error("no cell matched any divergence: the test proves nothing")
	}
}

func TestAxesNameTheCell(t *testing.T) {
	m, err := matrix.Load("../../../matrix.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cells, err := m.Expand("smoke")
	if err != nil {
		t.Fatal(err)
	}
	a := Axes(cells[0])
	name := "fixture=" + a.Fixture + "/platform=" + a.Platform + "/engine=" + a.Engine + "/buildkit=" + a.BuildKit + "/exporter=" + a.Exporter
	if name != cells[0].Name() {
		t.Errorf("axes %+v do not spell %s", a, cells[0].Name())
	}
}

func TestNoExpiryDate(t *testing.T) {
	if got := endOfDay(""); !got.IsZero() {
		t.Errorf("endOfDay(\"\") = %v, want no expiry", got)
	}
	if got := endOfDay("2027-05-31"); !got.Equal(time.Date(2027, 5, 31, 23, 59, 59, 0, time.UTC)) {
		t.Errorf("endOfDay = %v", got)
	}
	if KnownDivergences(nil) != nil {
		t.Error("nil matrix")
	}
}

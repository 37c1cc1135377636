// Package frommatrix turns what matrix.yaml says into the report's plain
// types, for the matrix suite and for the CLI (report merge) alike: a cell's
// axes, and the known divergences with matchers that follow the matrix's
// own pattern rules.
package frommatrix

import (
	"time"

	"github.com/repro-matrix/repro-matrix/internal/matrix"
	"github.com/repro-matrix/repro-matrix/internal/report"
)

// Axes returns the coordinates of c as the report holds them (the platform
// as its slug, "linux-amd64").
func Axes(c matrix.Cell) report.Axes {
	return report.Axes{Fixture: c.Fixture.Name, Platform: matrix.PlatformSlug(c.Platform), Engine: c.Engine.Name,
		BuildKit: c.BuildKit.Name, Exporter: c.Exporter.Name}
}

// KnownDivergences returns the known divergences of m, in its order, each
// with a Match function that applies the matrix's pattern (path.Match globs
// per axis) to a cell's axes, so that a run read back from results.json is
// judged as the suite judged it. A divergence expires at the end of its
// expiry day (UTC); one without a valid date never expires. A divergence
// whose pattern does not parse (Load refuses such files) matches nothing.
// m nil gives nil.
func KnownDivergences(m *matrix.Matrix) []report.KnownDivergence {
	if m == nil {
		return nil
	}
	var out []report.KnownDivergence
	for _, k := range m.KnownDivergences {
		if k == nil {
			continue
		}
		out = append(out, report.KnownDivergence{Cells: k.Cells, Reason: k.Reason, Link: k.Link,
			Expires: endOfDay(k.Expires), Match: matcher(k)})
	}
	return out
}

func matcher(k *matrix.KnownDivergence) func(report.Axes) bool {
	p, err := k.Pattern()
	if err != nil {
		return func(report.Axes) bool { return false }
	}
	return func(a report.Axes) bool {
		return p.MatchValues(map[matrix.Axis]string{
			matrix.AxisFixture: a.Fixture, matrix.AxisPlatform: a.Platform, matrix.AxisEngine: a.Engine,
			matrix.AxisBuildKit: a.BuildKit, matrix.AxisExporter: a.Exporter,
		})
	}
}

// endOfDay is the last second of the day written in matrix.DateLayout, or
// the zero time (no expiry) when day does not parse.
func endOfDay(day string) time.Time {
	d, err := time.Parse(matrix.DateLayout, day)
	if err != nil {
		return time.Time{}
	}
	return d.Add(24*time.Hour - time.Second)
}

package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/imagediff"
	"github.com/repro-matrix/repro-matrix/internal/oci"
	"github.com/repro-matrix/repro-matrix/internal/report"
)

// diffTimeout bounds the diff of one pair: a report must come out even if
// a pair of huge images is slow to compare.
const diffTimeout = 10 * time.Minute

// AttachDiffs explains every pair of cells that should agree and does not:
// the structured diff of the cell's tarball against its reference's, with
// its one-line summary and hints, in the run's verdicts. A pair whose
// tarballs are gone or unreadable gets the reason instead.
func AttachDiffs(run *report.Run, log io.Writer) {
	for _, p := range run.Verdicts.Pairs() {
		if p.Tarball == "" || p.AgainstTarball == "" {
			p.DiffSummary = "no diff: a tarball of the pair was not kept"
			continue
		}
		res, err := diffPair(p.AgainstTarball, p.Tarball, p.Against, p.Cell)
		if err != nil {
			p.DiffSummary = "no diff: " + err.Error()
			fmt.Fprintf(log, "diff %s: %v\n", p.Cell, err)
			continue
		}
		p.DiffSummary = res.Summary()
		for _, h := range res.Hints() {
			p.Hints = append(p.Hints, fmt.Sprintf("%s: %s (fix: %s)", h.ID, h.Cause, h.Fix))
		}
		if b, err := json.Marshal(res); err == nil {
			p.Diff = b
		}
		var text strings.Builder
		if err := res.WriteText(&text, 20); err == nil {
			p.DiffText = text.String()
		}
	}
}

func diffPair(a, b, nameA, nameB string) (*imagediff.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), diffTimeout)
	defer cancel()
	la, err := oci.Open(a)
	if err != nil {
		return nil, err
	}
	defer la.Close()
	lb, err := oci.Open(b)
	if err != nil {
		return nil, err
	}
	defer lb.Close()
	return imagediff.Diff(ctx, la, lb, imagediff.Options{NameA: nameA, NameB: nameB})
}

package report

import (
	"fmt"
	"slices"
	"strings"

	"github.com/repro-matrix/repro-matrix/internal/cell"
)

// groupMessage explains a group's verdict: the headline, the reference and
// golden digests, every cell that differs, failed or was interrupted,
// expired divergences that would have covered a cell, and notes.
func groupMessage(g GroupVerdict, cells []CellResult, known []*knownEntry, notes []string) string {
	var b strings.Builder
	n := len(cells)
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	goldenText := g.Golden
	if goldenText == "" {
		goldenText = "none recorded"
	}
	if h := headline(g, n); h != "" {
		line("%s", h)
	}
	if g.Reference != "" && g.State != GroupAgree && g.State != GroupAgreeSingle {
		why := "most common digest"
		if g.ReferenceDigest == g.Golden {
			why = "golden digest"
		}
		line("reference: %s %s (%s)", g.Reference, g.ReferenceDigest, why)
		line("golden:    %s", goldenText)
	}
	for _, c := range g.Cells {
		switch {
		case c.State.Built() && !c.Agrees:
			line("differs:   %s %s%s", c.Name, c.Digest, knownSuffix(c))
		case c.State.Built() && c.Name == g.Reference && c.Known != nil:
			line("golden:    %s misses the golden digest%s", c.Name, knownSuffix(c))
		case c.State == CellFailed:
			line("failed:    %s: %s", c.Name, strings.TrimPrefix(c.Message, "failed: "))
		case c.State == CellInterrupted:
			line("interrupted: %s", c.Name)
		}
	}
	// Expired known divergences that would have covered a cell here.
	for _, e := range known {
		if !e.expired {
			continue
		}
		for _, c := range g.Cells {
			if slices.Contains(e.covers, c.Name) && c.Known == nil {
				line("expired known divergence (%s, expired %s) matches %s: it no longer covers it", linkOr(e.k), day(e.k.Expires), c.Name)
			}
		}
	}
	for _, n := range notes {
		line("%s", n)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func coveredCells(g GroupVerdict) []string {
	var out []string
	for _, c := range g.Cells {
		if c.Known != nil {
			out = append(out, c.Name)
		}
	}
	return out
}

func knownSuffix(c CellVerdict) string {
	if c.Known == nil {
		return ""
	}
	return " (known: " + linkOr(*c.Known) + ")"
}

func linkOr(k cell.KnownDivergence) string {
	if k.Link != "" {
		return k.Link
	}
	if k.Reason != "" {
		return k.Reason
	}
	return k.Cells
}

// headline is the first line of a group's message: its verdict in words.
func headline(g GroupVerdict, n int) string {
	switch g.State {
	case GroupAgree:
		if g.Golden != "" {
			return fmt.Sprintf("%d cells agree on %s, the golden digest", n, g.ReferenceDigest)
		}
		return fmt.Sprintf("%d cells agree on %s; no golden digest recorded: record it", n, g.ReferenceDigest)
	case GroupAgreeSingle:
		if g.Golden != "" {
			return fmt.Sprintf("only one cell: nothing to compare; its digest %s equals the golden digest", g.ReferenceDigest)
		}
		return fmt.Sprintf("only one cell: nothing to compare; its digest is %s and no golden digest is recorded", g.ReferenceDigest)
	case GroupKnown:
		return fmt.Sprintf("cells differ as known: %d of %d cells deviate, each covered by a known divergence", len(coveredCells(g)), n)
	case GroupDisagree:
		return fmt.Sprintf("cells disagree: %d of %d cells differ from the reference cell", len(g.Differing), n)
	case GroupGoldenMismatch:
		return fmt.Sprintf("cells agree with each other on %s but not with the golden digest %s", g.ReferenceDigest, g.Golden)
	case GroupFailed:
		return fmt.Sprintf("%d of %d cells failed; a failed cell never counts as agreeing", len(g.Failed), n)
	case GroupInterrupted:
		return fmt.Sprintf("%d of %d cells were interrupted before they finished", len(g.Interrupted), n)
	}
	return ""
}

package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/repro-matrix/repro-matrix/internal/cell"
)

// groupMessage explains a group's verdict: the headline, the reference and
// golden digests, every cell that differs (or, without reference, what each
// built), failed or was interrupted, a golden digest the pin changes,
// expired divergences that would have covered a cell, and notes.
func groupMessage(g GroupVerdict, cells []CellResult, dev deviations, known []*knownEntry, notes []string) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	switch {
	case g.State == GroupGoldenMismatch && dev.pinOff > 0:
		line("%s", pinChangeText(g, cells))
	case headline(g, dev, len(cells)) != "":
		line("%s", headline(g, dev, len(cells)))
	}
	if g.State != GroupAgree && g.State != GroupAgreeSingle {
		line("%s", referenceLine(g))
		line("golden:    %s", cmp.Or(g.Golden, "none recorded"))
	}
	for i, c := range g.Cells {
		switch {
		case c.State.Built() && !c.Agrees && !g.held():
			line("built:     %s %s%s", c.Name, c.Digest, pinSuffix(cells[i], known))
		case c.State.Built() && !c.Agrees:
			line("differs:   %s %s%s%s", c.Name, c.Digest, knownSuffix(c), pinSuffix(cells[i], known))
		case c.State == CellFailed:
			line("failed:    %s: %s", c.Name, strings.TrimPrefix(c.Message, "failed: "))
		case c.State == CellInterrupted:
			line("interrupted: %s", c.Name)
		}
	}
	for _, l := range selfCheckLines(g) {
		line("%s", l)
	}
	for _, l := range variationLines(g) {
		line("%s", l)
	}
	if g.pinChanged() && g.State != GroupGoldenMismatch {
		line("pinned:    %s", pinChangeText(g, cells))
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
		for _, v := range g.Variations {
			if slices.Contains(e.covers, VariedName(v.Cell, v.Name)) && v.Known == nil {
				line("expired known divergence (%s, expired %s) names the variation %s of %s: it no longer acknowledges it",
					linkOr(e.k), day(e.k.Expires), v.Name, v.Cell)
			}
		}
	}
	if dev.covered > 0 && g.PinnedBuildKit == "" && slices.ContainsFunc(cells, func(r CellResult) bool { return r.pin() == pinUnknown }) {
		line("note: these results do not say which cells are of the pinned BuildKit (recorded before the \"pinned\" field): " +
			"the group is held to its golden digest only, and a known divergence may have covered a pinned cell")
	}
	for _, n := range notes {
		line("%s", n)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// referenceLine says what the group is held to.
func referenceLine(g GroupVerdict) string {
	switch {
	case g.NoReference != "":
		return "reference: none: " + g.NoReference
	case g.Reference == "":
		return "reference: the golden digest " + g.ReferenceDigest + ", which no cell built"
	case g.ReferenceDigest == g.Golden:
		return fmt.Sprintf("reference: %s %s (golden digest)", g.Reference, g.ReferenceDigest)
	}
	return fmt.Sprintf("reference: %s %s (what the pinned BuildKit %s builds; no golden digest recorded)", g.Reference, g.ReferenceDigest, g.PinnedBuildKit)
}

// pinChangeText says that the pinned BuildKit builds another digest than
// the golden one, which BuildKits still build the golden one (the old pin,
// after a bump), and how to accept the change.
func pinChangeText(g GroupVerdict, cells []CellResult) string {
	head := fmt.Sprintf("the pinned BuildKit %s builds %s, not the golden digest %s", g.PinnedBuildKit, g.PinnedDigest, g.Golden)
	if old := goldenBuildKits(g.Golden, cells); len(old) > 0 {
		head += fmt.Sprintf(" that %s %s: moving the pin to %s changes this golden digest",
			strings.Join(old, ", "), plural(len(old), "builds", "build"), g.PinnedBuildKit)
	} else {
		head += ", which no cell built (a new base image, or another build of the pin): this golden digest changes"
	}
	return head + "; if that is intended, make goldens records it (the diff shows what changed)"
}

// pinSuffix marks a cell of the pinned BuildKit, with the known divergences
// that matched it without excusing it.
func pinSuffix(r CellResult, known []*knownEntry) string {
	if r.pin() != pinYes {
		return ""
	}
	if ks := refusedBy(known, r.Name); len(ks) > 0 {
		return " (pinned BuildKit; " + refusedText(ks) + ")"
	}
	return " (pinned BuildKit)"
}

// refusedText names known divergences that matched a pinned cell.
func refusedText(ks []cell.KnownDivergence) string {
	links := make([]string, len(ks))
	for i, k := range ks {
		links[i] = linkOr(k)
	}
	return "known divergence " + strings.Join(links, ", ") + " matches it, but none excuses the pinned BuildKit from the golden digest"
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
func headline(g GroupVerdict, dev deviations, n int) string {
	switch g.State {
	case GroupAgree:
		return fmt.Sprintf("%d cells agree on %s%s", n, g.ReferenceDigest, agreeTail(g))
	case GroupAgreeSingle:
		if g.Golden != "" {
			return fmt.Sprintf("only one cell: nothing to compare; its digest %s equals the golden digest", g.ReferenceDigest)
		}
		return fmt.Sprintf("only one cell: nothing to compare; its digest is %s%s", g.ReferenceDigest, agreeTail(g))
	case GroupKnown:
		if knownHeadlineStates(g) {
			return knownVariesHeadline(g, n)
		}
		return fmt.Sprintf("cells differ as known: %d of %d cells deviate, each covered by a known divergence", len(coveredCells(g)), n)
	case GroupDisagree:
		return disagreeHeadline(g, dev, n)
	case GroupGoldenMismatch:
		return fmt.Sprintf("cells agree with each other on %s but not with the golden digest %s", dev.off.order[0], g.Golden)
	case GroupNotReproducible:
		return notDeterministic(*g.unreproduced())
	case GroupVaries:
		return variesHeadline(g)
	case GroupFailed:
		switch {
		case len(g.Failed) > 0:
			return fmt.Sprintf("%d of %d cells failed; a failed cell never counts as agreeing", len(g.Failed), n)
		case len(g.failedSelfChecks()) > 0:
			return selfCheckFailedHeadline(g.failedSelfChecks()[0])
		}
		return variationFailedHeadline(g.failedVariations()[0])
	case GroupInterrupted:
		return fmt.Sprintf("%d of %d cells were interrupted before they finished", len(g.Interrupted), n)
	}
	return ""
}

// agreeTail ends the headline of a group whose cells agree: the golden
// digest, or what the group lacks.
func agreeTail(g GroupVerdict) string {
	switch {
	case g.Golden != "" && g.State == GroupAgree:
		return ", the golden digest"
	case g.NoReference != "":
		return "; " + g.NoReference
	}
	return "; no golden digest recorded: record it"
}

func disagreeHeadline(g GroupVerdict, dev deviations, n int) string {
	switch {
	case g.NoReference != "":
		return fmt.Sprintf("cells disagree: %d cells built %d different digests", n, len(dev.off.order))
	case dev.pinSplit:
		return fmt.Sprintf("cells disagree: the cells of the pinned BuildKit %s built different digests", g.PinnedBuildKit)
	case g.Reference == "":
		return fmt.Sprintf("cells disagree: %d of %d cells differ from the golden digest, which no cell built", len(g.Differing), n)
	}
	return fmt.Sprintf("cells disagree: %d of %d cells differ from the reference cell", len(g.Differing), n)
}

package report

import (
	"cmp"
	"fmt"
	"strings"
)

// pinMark marks the rows of the pinned BuildKit in a fixture's table.
const pinMark = "📌"

func groupLabel(s GroupState) string {
	switch s {
	case GroupAgreeSingle:
		return "one cell only"
	case GroupGoldenMismatch:
		return "golden mismatch"
	case GroupNotReproducible:
		return "not reproducible"
	case GroupVaries:
		return "varies with the build environment"
	}
	return string(s)
}

func groupMark(s GroupState) string {
	switch s {
	case GroupAgree:
		return "✅"
	case GroupAgreeSingle, GroupKnown:
		return "⚠️"
	case GroupFailed:
		return "💥"
	case GroupInterrupted:
		return "⏸"
	}
	return "❌"
}

func cellLabel(name string, results []CellResult) string {
	for _, r := range results {
		if r.Name == name {
			return r.Axes.Engine + " · " + r.Axes.BuildKit
		}
	}
	return name
}

func cellStateLabel(s CellState) string {
	switch s {
	case CellMatch:
		return "match golden"
	case CellMismatch:
		return "differ from golden"
	case CellNoGolden:
		return "no golden"
	}
	return string(s)
}

func knownMark(s KnownState) string {
	switch s {
	case KnownActive:
		return "⚠️"
	case KnownNoLongerHappens:
		return "🧹"
	case KnownNotExercised:
		return "❔"
	case KnownExpired:
		return "⌛"
	case KnownRefused:
		return "⛔"
	}
	return "❌"
}

// cellMark is the matrix-table entry of a cell.
func cellMark(c CellVerdict) string {
	switch {
	case c.State == CellFailed:
		return "💥 build failed"
	case c.State == CellInterrupted:
		return "⏸ interrupted"
	case c.Known != nil:
		return "⚠️ " + short(c.Digest) + " (known)"
	case c.Agrees && c.State != CellMismatch:
		return "✅ " + short(c.Digest)
	}
	return "❌ " + short(c.Digest)
}

// groupNotes are short Markdown notes on a group: what is odd, what its
// self-checks rebuilt, which cells differ, failed or were interrupted, and
// the known divergences' links.
func groupNotes(g GroupVerdict, results []CellResult) []string {
	var notes []string
	switch g.State {
	case GroupAgreeSingle:
		notes = append(notes, "only one cell: nothing to compare")
	case GroupEmpty:
		notes = append(notes, "no cells: nothing compared")
	case GroupGoldenMismatch:
		if g.pinChanged() {
			notes = append(notes, "the pinned "+code(g.PinnedBuildKit)+" builds "+short(g.PinnedDigest)+", golden is "+short(g.Golden)+": make goldens accepts it")
		} else {
			notes = append(notes, "cells agree on "+short(agreedDigest(g))+", golden is "+short(g.Golden))
		}
	}
	if n := selfCheckNote(g, results); n != "" {
		notes = append(notes, n)
	}
	notes = append(notes, variationNotes(g, results)...)
	switch {
	case g.NoReference != "" && g.State != GroupEmpty:
		why, _, _ := strings.Cut(g.NoReference, ": ")
		notes = append(notes, text(why))
	case g.Golden == "" && g.State != GroupEmpty:
		notes = append(notes, "no golden recorded")
	}
	for _, c := range g.Cells {
		lbl := code(cellLabel(c.Name, results))
		switch {
		case g.State == GroupGoldenMismatch && c.Digest == cmp.Or(g.PinnedDigest, agreedDigest(g)):
			// said once above
		case c.State == CellFailed:
			notes = append(notes, "💥 "+lbl)
		case c.State == CellInterrupted:
			notes = append(notes, "⏸ "+lbl)
		case c.State.Built() && !c.Agrees && c.Known != nil:
			notes = append(notes, "⚠️ "+lbl+" "+short(c.Digest))
		case c.State.Built() && !c.Agrees:
			notes = append(notes, "❌ "+lbl+" "+short(c.Digest))
		}
	}
	for _, k := range g.Known {
		if !k.ForVariations() { // a variation's note gives its link
			notes = append(notes, "known: "+link(k.Link))
		}
	}
	return notes
}

func countLine[S ~string](m map[S]int, order []S, label func(S) string) string {
	var parts []string
	for _, s := range order {
		if m[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", m[s], label(s)))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " · ")
}

func groupRef(g GroupVerdict) string {
	if g.Key == "" {
		return "run"
	}
	return code(g.Key)
}

// agreedDigest is the digest of the built cells of g that miss its
// reference digest, when they all built one ("" otherwise).
func agreedDigest(g GroupVerdict) string {
	d := ""
	for _, c := range g.Cells {
		if c.State.Built() && !c.Agrees {
			if d != "" && c.Digest != d {
				return ""
			}
			d = c.Digest
		}
	}
	return d
}

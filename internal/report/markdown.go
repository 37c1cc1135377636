package report

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// slowestCells is how many cells the "Slowest cells" table lists.
const slowestCells = 5

// errorTailLines and errorTailBytes bound the error text shown per failed
// cell; the JSON file keeps it whole.
const (
	errorTailLines = 40
	errorTailBytes = 4000
)

// WriteMarkdown writes the Markdown summary of run to w. It evaluates the
// run first when run.Verdicts was never computed.
func WriteMarkdown(w io.Writer, run Run) error {
	_, err := w.Write(renderMarkdown(run, false))
	return err
}

type md struct{ bytes.Buffer }

func (b *md) f(format string, args ...any) { fmt.Fprintf(&b.Buffer, format, args...) }
func (b *md) l(format string, args ...any) { fmt.Fprintf(&b.Buffer, format+"\n", args...) }

// header writes a table's heading row and its separator.
func (b *md) header(cells ...string) {
	b.f("|")
	for _, c := range cells {
		if c != "" {
			b.f(" %s", c)
		}
		b.f(" |")
	}
	b.l("")
	b.l("|%s", strings.Repeat(" --- |", len(cells)))
}

// renderMarkdown renders the summary; compact leaves out the collapsed
// details (error texts, diffs), for size-limited destinations.
func renderMarkdown(run Run, compact bool) []byte {
	run.Verdicts = run.verdicts()
	results := slices.Clone(run.Results)
	sortResults(results)
	var b md
	writeTitle(&b, run, results)
	writeAttention(&b, run.Verdicts, results)
	writePinChanges(&b, run.Verdicts, results)
	byFixture := map[string][]GroupVerdict{}
	cells := map[string]CellVerdict{}
	for _, g := range run.Verdicts.Groups {
		for _, cv := range g.Cells {
			cells[cv.Name] = cv
		}
		if g.Key != "" {
			byFixture[g.Fixture] = append(byFixture[g.Fixture], g)
		}
	}
	for _, fx := range slices.SortedFunc(maps.Keys(byFixture), natural) {
		writeFixture(&b, fx, byFixture[fx], results, cells, compact)
	}
	writeFirstBad(&b, run)
	writeKnown(&b, run.Verdicts.Known)
	writeEnvironment(&b, run, results)
	writeSlowest(&b, results)
	return b.Bytes()
}

// writeTitle writes the verdict of the run, what run it was, its set-up
// steps, where its images came from and the counts of verdicts.
func writeTitle(b *md, run Run, results []CellResult) {
	switch {
	case run.Interrupted:
		b.l("# repro-matrix: ⏸ INTERRUPTED (failed)")
	case run.Verdicts.Failed():
		b.l("# repro-matrix: ❌ FAILED")
	default:
		b.l("# repro-matrix: ✅ PASSED")
	}
	b.l("")
	var meta []string
	if run.ID != "" {
		meta = append(meta, "run "+code(run.ID))
	}
	if run.Profile != "" {
		meta = append(meta, "profile "+code(run.Profile))
	}
	if !run.Started.IsZero() {
		meta = append(meta, "started "+run.Started.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if w := run.wallTime(); w > 0 {
		meta = append(meta, "wall "+dur(w))
	}
	if len(meta) > 0 {
		b.l("%s", strings.Join(meta, " · "))
		b.l("")
	}
	if len(run.Setup) > 0 {
		var steps []string
		for _, k := range slices.SortedFunc(maps.Keys(run.Setup), natural) {
			steps = append(steps, k+" "+dur(run.Setup[k]))
		}
		b.l("set-up: %s", strings.Join(steps, " · "))
		b.l("")
	}
	writeOrigins(b, results)
	c := run.Verdicts.Counts
	b.l("**Groups (%d):** %s  ", c.Groups, countLine(c.Group, groupStates, groupLabel))
	writeSelfCheckLine(b, run.Verdicts)
	writeVariationLine(b, run.Verdicts)
	b.l("**Cells (%d):** %s", c.Cells, countLine(c.Cell, cellStates, cellStateLabel))
	b.l("")
	if run.Interrupted {
		b.l("> [!WARNING]")
		b.l("> The run was interrupted: cells that did not finish are marked ⏸ and their groups fail.")
		b.l("")
	}
}

// writeAttention lists, at the top, the groups that fail and the known
// divergences to look at again.
func writeAttention(b *md, v Verdicts, results []CellResult) {
	var attention []string
	for _, g := range v.Groups {
		if !g.Fails() {
			continue
		}
		line := fmt.Sprintf("%s %s: %s", groupMark(g.State), groupRef(g), groupLabel(g.State))
		if g.Key == "" {
			line += ": " + text(g.Message)
		} else if notes := groupNotes(g, results); len(notes) > 0 {
			line += ": " + strings.Join(notes, "; ")
		}
		attention = append(attention, line)
	}
	for _, k := range v.Known {
		if k.State == KnownNoLongerHappens || k.State == KnownExpired || k.State == KnownInvalid || k.State == KnownRefused {
			attention = append(attention, fmt.Sprintf("%s known divergence %s: %s", knownMark(k.State), code(k.Cells), text(k.Note)))
		}
	}
	if len(attention) == 0 {
		return
	}
	b.l("## Needs attention")
	b.l("")
	for _, a := range attention {
		b.l("- %s", a)
	}
	b.l("")
}

// writeFixture writes a fixture's section: its table of cells, its table
// of group verdicts, and what explains each group that does not simply
// agree.
func writeFixture(b *md, fixture string, groups []GroupVerdict, results []CellResult, cells map[string]CellVerdict, compact bool) {
	b.l("## Fixture %s", code(fixture))
	b.l("")
	var own []CellResult
	for _, r := range results {
		if r.Axes.Fixture == fixture {
			own = append(own, r)
		}
	}
	writeCellTable(b, own, cells)
	b.l("| platform · exporter | verdict | cells | reference | golden | notes |")
	b.l("| --- | --- | --- | --- | --- | --- |")
	for _, g := range groups {
		b.l("| %s · %s | %s | %d | %s | %s | %s |", text(g.Platform), text(g.Exporter),
			groupMark(g.State)+" "+groupLabel(g.State), len(g.Cells), short(g.ReferenceDigest), short(g.Golden),
			strings.Join(groupNotes(g, own), "<br>"))
	}
	b.l("")
	for _, g := range groups {
		if g.State != GroupAgree && g.State != GroupAgreeSingle {
			writeGroupDetails(b, g, own, compact)
		}
	}
}

// writeCellTable writes a fixture's cells as a table: engine x BuildKit
// rows, platform x exporter columns, each cell's mark.
func writeCellTable(b *md, results []CellResult, cells map[string]CellVerdict) {
	type col struct{ platform, exporter string }
	type row struct{ engine, buildkit string }
	at := map[row]map[col][]CellResult{}
	colSet := map[col]bool{}
	pinned := map[string]bool{} // BuildKits recorded as the pinned one
	for _, r := range results {
		cl, rw := col{r.Axes.Platform, r.Axes.Exporter}, row{r.Axes.Engine, r.Axes.BuildKit}
		colSet[cl] = true
		pinned[r.Axes.BuildKit] = pinned[r.Axes.BuildKit] || r.pin() == pinYes
		if at[rw] == nil {
			at[rw] = map[col][]CellResult{}
		}
		at[rw][cl] = append(at[rw][cl], r)
	}
	if len(at) == 0 {
		return
	}
	cols := slices.SortedFunc(maps.Keys(colSet), func(a, b col) int {
		return cmp.Or(natural(a.platform, b.platform), natural(a.exporter, b.exporter))
	})
	rows := slices.SortedFunc(maps.Keys(at), func(a, b row) int {
		return cmp.Or(natural(a.engine, b.engine), natural(a.buildkit, b.buildkit))
	})
	heads := []string{"engine · buildkit"}
	if slices.Contains(slices.Collect(maps.Values(pinned)), true) {
		heads[0] += " (" + pinMark + " pinned)"
	}
	for _, cl := range cols {
		heads = append(heads, text(cl.platform)+" · "+text(cl.exporter))
	}
	b.header(heads...)
	for _, rw := range rows {
		mark := ""
		if pinned[rw.buildkit] {
			mark = " " + pinMark
		}
		b.f("| %s · %s%s |", code(rw.engine), code(rw.buildkit), mark)
		for _, cl := range cols {
			var marks []string
			for _, r := range at[rw][cl] {
				marks = append(marks, cellMark(cells[r.Name]))
			}
			if len(marks) == 0 {
				marks = []string{"—"}
			}
			b.f(" %s |", strings.Join(marks, "<br>"))
		}
		b.l("")
	}
	b.l("")
}

// writeGroupDetails writes a group's message and, unless compact, the
// diffs of its pairs and the errors of its failed cells.
func writeGroupDetails(b *md, g GroupVerdict, results []CellResult, compact bool) {
	b.l("**%s %s · %s: %s**", groupMark(g.State), text(g.Platform), text(g.Exporter), groupLabel(g.State))
	b.l("")
	writeFence(b, "text", g.Message)
	if compact {
		return
	}
	for _, p := range g.Pairs {
		writePair(b, p, results)
	}
	for _, r := range results {
		if r.groupKey() == g.Key && slices.Contains(g.Failed, r.Name) {
			writeFailure(b, r)
		}
	}
	writeSelfCheckFailures(b, g)
	writeVariationFailures(b, g)
}

func writePair(b *md, p Pair, results []CellResult) {
	if len(p.Diff) == 0 && p.DiffSummary == "" && len(p.Hints) == 0 {
		return
	}
	against := AgainstGolden + " " + shortPlain(p.AgainstDigest)
	switch {
	case p.SelfCheck:
		against = cellLabel(p.Cell, results) + RebuiltSuffix + " " + shortPlain(p.AgainstDigest)
	case p.Variation != "":
		against = VariedName(cellLabel(p.Cell, results), p.Variation) + " " + shortPlain(p.AgainstDigest)
	case p.Against != AgainstGolden:
		against = cellLabel(p.Against, results) + " " + shortPlain(p.AgainstDigest)
	}
	summary := p.DiffSummary
	if summary == "" {
		summary = "image diff"
	}
	b.l("<details><summary><code>%s %s</code> vs <code>%s</code>: %s</summary>", html.EscapeString(cellLabel(p.Cell, results)),
		html.EscapeString(shortPlain(p.Digest)), html.EscapeString(against), html.EscapeString(oneLine(summary)))
	b.l("")
	for _, h := range p.Hints {
		b.l("- %s", text(oneLine(h)))
	}
	if len(p.Hints) > 0 {
		b.l("")
	}
	if p.DiffText != "" {
		writeFence(b, "text", p.DiffText)
	} else if len(p.Diff) > 0 {
		var ind bytes.Buffer
		if err := json.Indent(&ind, p.Diff, "", "  "); err != nil {
			writeFence(b, "text", string(p.Diff))
		} else {
			writeFence(b, "json", ind.String())
		}
	}
	b.l("</details>")
	b.l("")
}

func writeFailure(b *md, r CellResult) {
	msg := r.Error
	if msg == "" {
		msg = "no digest recorded"
	}
	b.l("<details><summary>💥 <code>%s</code>: %s</summary>", html.EscapeString(r.Name), html.EscapeString(firstLine(msg)))
	b.l("")
	writeFence(b, "text", tail(msg))
	b.l("</details>")
	b.l("")
}

func writeKnown(b *md, known []KnownStatus) {
	if len(known) == 0 {
		return
	}
	b.l("## Known divergences")
	b.l("")
	b.l("| cells | reason | link | expires | status |")
	b.l("| --- | --- | --- | --- | --- |")
	for _, k := range known {
		exp := "—"
		if !k.Expires.IsZero() {
			exp = day(k.Expires)
		}
		status := knownMark(k.State) + " " + text(k.Note)
		one, many := "cell", "cells"
		cells := code(k.Cells)
		if k.ForVariations() {
			one, many = "rebuild", "rebuilds"
			cells += " varied: " + code(strings.Join(k.Variations, ", "))
		}
		if len(k.Covers) > 0 {
			status += fmt.Sprintf(" (%d %s)", len(k.Covers), plural(len(k.Covers), one, many))
		}
		b.l("| %s | %s | %s | %s | %s |", cells, text(oneLine(k.Reason)), link(k.Link), exp, status)
	}
	b.l("")
}

func writeEnvironment(b *md, run Run, results []CellResult) {
	envs := run.Engines
	if len(envs) == 0 {
		envs = deriveEngines(results)
	}
	if len(envs) == 0 {
		return
	}
	engines := slices.SortedFunc(maps.Keys(envs), natural)
	keySet := map[string]bool{}
	for _, e := range engines {
		for k := range envs[e] {
			keySet[k] = true
		}
	}
	keys := slices.SortedFunc(maps.Keys(keySet), natural)
	// A row that only repeats the column header says nothing.
	keys = slices.DeleteFunc(keys, func(k string) bool {
		for _, e := range engines {
			if envs[e][k] != e {
				return false
			}
		}
		return true
	})
	b.l("## Environment")
	b.l("")
	heads := []string{""}
	for _, e := range engines {
		heads = append(heads, code(e))
	}
	b.header(heads...)
	for _, k := range keys {
		b.f("| %s |", code(k))
		for _, e := range engines {
			val, ok := envs[e][k]
			if !ok || val == "" {
				val = "—"
			} else {
				val = text(oneLine(val))
			}
			b.f(" %s |", val)
		}
		b.l("")
	}
	b.l("")
}

// varies stands for an engine's Env value that differs between its cells.
const varies = "(varies by cell)"

// deriveEngines keeps, per engine, the Env entries that all its cells with
// an Env share; per-cell values such as buildkit_version show as varies.
func deriveEngines(results []CellResult) map[string]map[string]string {
	type kv struct{ key, val string }
	cells := map[string]int{}
	seen := map[string]map[kv]int{}
	for _, r := range results {
		if r.Axes.Engine == "" || len(r.Env) == 0 {
			continue
		}
		e := r.Axes.Engine
		cells[e]++
		if seen[e] == nil {
			seen[e] = map[kv]int{}
		}
		for k, v := range r.Env {
			seen[e][kv{k, v}]++
		}
	}
	out := map[string]map[string]string{}
	for e, m := range seen {
		out[e] = map[string]string{}
		for p, n := range m {
			switch {
			case n == cells[e]:
				out[e][p.key] = p.val
			case out[e][p.key] == "":
				out[e][p.key] = varies
			}
		}
	}
	return out
}

func writeSlowest(b *md, results []CellResult) {
	type timed struct {
		r     CellResult
		total time.Duration
	}
	var ts []timed
	for _, r := range results {
		if len(r.Timings) == 0 {
			continue
		}
		t, ok := r.Timings["total"]
		if !ok {
			for _, d := range r.Timings {
				t += d
			}
		}
		ts = append(ts, timed{r, t})
	}
	if len(ts) == 0 {
		return
	}
	slices.SortStableFunc(ts, func(a, b timed) int {
		return cmp.Or(cmp.Compare(b.total, a.total), cmp.Compare(a.r.Name, b.r.Name))
	})
	ts = ts[:min(len(ts), slowestCells)]
	phaseSet := map[string]bool{}
	for _, t := range ts {
		for k := range t.r.Timings {
			if k != "total" {
				phaseSet[k] = true
			}
		}
	}
	phases := slices.SortedFunc(maps.Keys(phaseSet), natural)
	b.l("## Slowest cells")
	b.l("")
	if n := sharedBuilds(results); n > 0 {
		b.l("%d cells shared their build with cells of other exporters (one solve, several exports): the build time of each is the shared build's divided by its outputs.", n)
		b.l("")
	}
	heads := []string{"cell", "total"}
	for _, p := range phases {
		heads = append(heads, text(p))
	}
	b.header(heads...)
	for _, t := range ts {
		b.f("| %s | %s |", code(t.r.Name), dur(t.total))
		for _, p := range phases {
			if d, ok := t.r.Timings[p]; ok {
				b.f(" %s |", dur(d))
			} else {
				b.f(" — |")
			}
		}
		b.l("")
	}
	b.l("")
}

// sharedBuilds counts the results built by a solve shared with others.
func sharedBuilds(results []CellResult) int {
	n := 0
	for _, r := range results {
		if r.SharedBuild > 1 {
			n++
		}
	}
	return n
}

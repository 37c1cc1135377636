package report

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"
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
	v := run.Verdicts
	var b md

	// Title and counts.
	switch {
	case run.Interrupted:
		b.l("# repro-matrix: ⏸ INTERRUPTED (failed)")
	case v.Failed():
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
		for _, k := range sortedKeys(run.Setup) {
			steps = append(steps, k+" "+dur(run.Setup[k]))
		}
		b.l("set-up: %s", strings.Join(steps, " · "))
		b.l("")
	}
	writeOrigins(&b, results)
	c := v.Counts
	b.l("**Groups (%d):** %s  ", c.Groups, countLine(c.Group, groupStates, groupLabel))
	b.l("**Cells (%d):** %s", c.Cells, countLine(c.Cell, cellStates, cellStateLabel))
	b.l("")
	if run.Interrupted {
		b.l("> [!WARNING]")
		b.l("> The run was interrupted: cells that did not finish are marked ⏸ and their groups fail.")
		b.l("")
	}

	// What needs attention, at the top.
	var attention []string
	for _, g := range v.Groups {
		if g.Fails() {
			line := fmt.Sprintf("%s %s: %s", groupMark(g.State), groupRef(g), groupLabel(g.State))
			if g.Key == "" {
				line += ": " + text(g.Message)
			} else if notes := groupNotes(g, results); len(notes) > 0 {
				line += ": " + strings.Join(notes, "; ")
			}
			attention = append(attention, line)
		}
	}
	for _, k := range v.Known {
		if k.State == KnownNoLongerHappens || k.State == KnownExpired || k.State == KnownInvalid {
			attention = append(attention, fmt.Sprintf("%s known divergence %s: %s", knownMark(k.State), code(k.Cells), text(k.Note)))
		}
	}
	if len(attention) > 0 {
		b.l("## Needs attention")
		b.l("")
		for _, a := range attention {
			b.l("- %s", a)
		}
		b.l("")
	}

	// One section per fixture.
	byFixture := map[string][]GroupVerdict{}
	var fixtures []string
	for _, g := range v.Groups {
		if g.Key == "" {
			continue
		}
		if _, ok := byFixture[g.Fixture]; !ok {
			fixtures = append(fixtures, g.Fixture)
		}
		byFixture[g.Fixture] = append(byFixture[g.Fixture], g)
	}
	slices.SortFunc(fixtures, natural)
	cellByName := map[string]CellVerdict{}
	for _, g := range v.Groups {
		for _, cv := range g.Cells {
			cellByName[cv.Name] = cv
		}
	}
	for _, fx := range fixtures {
		writeFixture(&b, fx, byFixture[fx], results, cellByName, compact)
	}

	writeKnown(&b, v.Known)
	writeEnvironment(&b, run, results)
	writeSlowest(&b, results)
	return b.Bytes()
}

func writeFixture(b *md, fixture string, groups []GroupVerdict, results []CellResult, cells map[string]CellVerdict, compact bool) {
	b.l("## Fixture %s", code(fixture))
	b.l("")

	type col struct{ platform, exporter string }
	type row struct{ engine, buildkit string }
	var cols []col
	var rows []row
	at := map[row]map[col][]CellResult{}
	var fxResults []CellResult
	for _, r := range results {
		if r.Axes.Fixture != fixture {
			continue
		}
		fxResults = append(fxResults, r)
		cl, rw := col{r.Axes.Platform, r.Axes.Exporter}, row{r.Axes.Engine, r.Axes.BuildKit}
		if !slices.Contains(cols, cl) {
			cols = append(cols, cl)
		}
		if _, ok := at[rw]; !ok {
			rows = append(rows, rw)
			at[rw] = map[col][]CellResult{}
		}
		at[rw][cl] = append(at[rw][cl], r)
	}
	slices.SortFunc(cols, func(a, b col) int {
		return cmp.Or(natural(a.platform, b.platform), natural(a.exporter, b.exporter))
	})
	slices.SortFunc(rows, func(a, b row) int {
		return cmp.Or(natural(a.engine, b.engine), natural(a.buildkit, b.buildkit))
	})

	if len(rows) > 0 {
		heads := []string{"engine · buildkit"}
		for _, cl := range cols {
			heads = append(heads, text(cl.platform)+" · "+text(cl.exporter))
		}
		b.header(heads...)
		for _, rw := range rows {
			b.f("| %s · %s |", code(rw.engine), code(rw.buildkit))
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

	b.l("| platform · exporter | verdict | cells | reference | golden | notes |")
	b.l("| --- | --- | --- | --- | --- | --- |")
	for _, g := range groups {
		b.l("| %s · %s | %s | %d | %s | %s | %s |", text(g.Platform), text(g.Exporter),
			groupMark(g.State)+" "+groupLabel(g.State), len(g.Cells), short(g.ReferenceDigest), short(g.Golden),
			strings.Join(groupNotes(g, fxResults), "<br>"))
	}
	b.l("")

	for _, g := range groups {
		if g.State == GroupAgree || g.State == GroupAgreeSingle {
			continue
		}
		b.l("**%s %s · %s: %s**", groupMark(g.State), text(g.Platform), text(g.Exporter), groupLabel(g.State))
		b.l("")
		writeFence(b, "text", g.Message)
		if compact {
			continue
		}
		for _, p := range g.Pairs {
			writePair(b, p, fxResults)
		}
		for _, r := range fxResults {
			if r.groupKey() == g.Key && slices.Contains(g.Failed, r.Name) {
				writeFailure(b, r)
			}
		}
	}
}

func writePair(b *md, p Pair, results []CellResult) {
	if len(p.Diff) == 0 && p.DiffSummary == "" && len(p.Hints) == 0 {
		return
	}
	against := AgainstGolden + " " + shortPlain(p.AgainstDigest)
	if p.Against != AgainstGolden {
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
		if len(k.Covers) > 0 {
			status += fmt.Sprintf(" (%d %s)", len(k.Covers), plural(len(k.Covers), "cell", "cells"))
		}
		b.l("| %s | %s | %s | %s | %s |", code(k.Cells), text(oneLine(k.Reason)), link(k.Link), exp, status)
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
	engines := sortedKeys(envs)
	keySet := map[string]bool{}
	for _, e := range engines {
		for k := range envs[e] {
			keySet[k] = true
		}
	}
	keys := sortedKeys(keySet)
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
	phases := sortedKeys(phaseSet)
	b.l("## Slowest cells")
	b.l("")
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

// --- labels and marks ---

func groupLabel(s GroupState) string {
	switch s {
	case GroupAgreeSingle:
		return "one cell only"
	case GroupGoldenMismatch:
		return "golden mismatch"
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

// groupNotes are short Markdown notes on a group: what is odd, which cells
// differ, failed or were interrupted, and the known divergences' links.
func groupNotes(g GroupVerdict, results []CellResult) []string {
	var notes []string
	switch g.State {
	case GroupAgreeSingle:
		notes = append(notes, "only one cell: nothing to compare")
	case GroupEmpty:
		notes = append(notes, "no cells: nothing compared")
	case GroupGoldenMismatch:
		notes = append(notes, "cells agree on "+short(g.ReferenceDigest)+", golden is "+short(g.Golden))
	}
	if g.Golden == "" && g.State != GroupEmpty {
		notes = append(notes, "no golden recorded")
	}
	for _, c := range g.Cells {
		lbl := code(cellLabel(c.Name, results))
		switch {
		case c.State == CellFailed:
			notes = append(notes, "💥 "+lbl)
		case c.State == CellInterrupted:
			notes = append(notes, "⏸ "+lbl)
		case c.State.built() && !c.Agrees && c.Known != nil:
			notes = append(notes, "⚠️ "+lbl+" "+short(c.Digest))
		case c.State.built() && !c.Agrees:
			notes = append(notes, "❌ "+lbl+" "+short(c.Digest))
		}
	}
	for _, k := range g.Known {
		notes = append(notes, "known: "+link(k.Link))
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

// --- text helpers ---

// short is a code span of the short digest: "sha256:" + 12 hex characters.
func short(d string) string {
	if d == "" {
		return "—"
	}
	return code(shortPlain(d))
}

// ShortDigest is "sha256:" and the first 12 hex characters of a digest.
func ShortDigest(d string) string { return shortPlain(d) }

func shortPlain(d string) string {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok {
		return d
	}
	if len(hex) > 12 {
		hex = hex[:12]
	}
	return alg + ":" + hex
}

// code is an inline code span that is safe in a table cell.
func code(s string) string {
	s = oneLine(s)
	run, longest := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		pad = " "
	}
	return fence + pad + strings.ReplaceAll(s, "|", `\|`) + pad + fence
}

var mdEscaper = strings.NewReplacer(`\`, `\\`, "|", `\|`, "*", `\*`, "_", `\_`, "`", "\\`",
	"[", `\[`, "]", `\]`, "<", "&lt;", ">", "&gt;")

// text escapes s for inline Markdown (tables included).
func text(s string) string { return mdEscaper.Replace(oneLine(s)) }

func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }), " ")
}

func link(u string) string {
	if u == "" {
		return "—"
	}
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return code(u)
	}
	esc := strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29", "|", "%7C", "<", "%3C", ">", "%3E").Replace(u)
	return "[" + text(shortLink(u)) + "](" + esc + ")"
}

// shortLink shows "owner/repo#123" for GitHub issue and pull links.
func shortLink(u string) string {
	rest, ok := strings.CutPrefix(u, "https://github.com/")
	if !ok {
		return u
	}
	parts := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	if len(parts) == 4 && (parts[2] == "issues" || parts[2] == "pull") {
		return parts[0] + "/" + parts[1] + "#" + parts[3]
	}
	return u
}

// writeFence writes s in a fenced code block longer than any backtick run in s.
func writeFence(b *md, lang, s string) {
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", max(3, longest+1))
	b.l("%s%s", fence, lang)
	b.l("%s", strings.TrimRight(s, "\n"))
	b.l("%s", fence)
	b.l("")
}

// tail keeps the end of a long error text, where builds say what failed.
func tail(s string) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	cut := false
	if len(lines) > errorTailLines {
		lines, cut = lines[len(lines)-errorTailLines:], true
	}
	out := strings.Join(lines, "\n")
	if len(out) > errorTailBytes {
		out, cut = out[len(out)-errorTailBytes:], true
		if i := strings.IndexByte(out, '\n'); i >= 0 {
			out = out[i+1:]
		}
	}
	if cut {
		out = "[… earlier output cut; the whole text is in the JSON results]\n" + out
	}
	return out
}

func dur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(time.Millisecond).String()
	}
	return d.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, natural)
	return keys
}

// natural compares strings with digit runs compared as numbers, so that
// v0.9.0 sorts before v0.16.0; equal under that order, bytes decide.
func natural(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	i, j := 0, 0
	for i < len(ra) && j < len(rb) {
		if unicode.IsDigit(ra[i]) && unicode.IsDigit(rb[j]) {
			si, sj := i, j
			for i < len(ra) && unicode.IsDigit(ra[i]) {
				i++
			}
			for j < len(rb) && unicode.IsDigit(rb[j]) {
				j++
			}
			na := strings.TrimLeft(string(ra[si:i]), "0")
			nb := strings.TrimLeft(string(rb[sj:j]), "0")
			if c := cmp.Or(cmp.Compare(len(na), len(nb)), strings.Compare(na, nb)); c != 0 {
				return c
			}
			continue
		}
		if c := cmp.Compare(ra[i], rb[j]); c != 0 {
			return c
		}
		i++
		j++
	}
	return cmp.Or(cmp.Compare(len(ra)-i, len(rb)-j), strings.Compare(a, b))
}

package report

import (
	"fmt"
	"html"
	"strings"
)

// selfCheckNote is the Markdown note on g's self-checks in the tables: one
// for the first that differs, else the first that failed, else that every
// one rebuilt identically; "" without any.
func selfCheckNote(g GroupVerdict, results []CellResult) string {
	if len(g.SelfChecks) == 0 {
		return ""
	}
	if s := g.unreproduced(); s != nil {
		return "🔁 " + code(cellLabel(s.Cell, results)) + " rebuilt " + short(s.Rebuilt) + ", not " + short(s.Digest)
	}
	if f := g.failedSelfChecks(); len(f) > 0 {
		return "💥 self-check of " + code(cellLabel(f[0].Cell, results))
	}
	return "🔁 rebuilt identically"
}

// selfCheckCounts counts the groups that were self-checked: those whose
// every self-check rebuilt identically, those with one that differed, and
// those (not differing) with one that failed.
type selfCheckCounts struct{ groups, identical, differ, failed int }

// countSelfChecks counts the self-checked groups of v.
func countSelfChecks(v Verdicts) selfCheckCounts {
	var c selfCheckCounts
	for _, g := range v.Groups {
		if len(g.SelfChecks) == 0 {
			continue
		}
		c.groups++
		switch {
		case g.unreproduced() != nil:
			c.differ++
		case len(g.failedSelfChecks()) > 0:
			c.failed++
		default:
			c.identical++
		}
	}
	return c
}

// writeSelfCheckLine writes, under the counts of the summary, one line on
// the self-checked groups; nothing when none was.
func writeSelfCheckLine(b *md, v Verdicts) {
	c := countSelfChecks(v)
	if c.groups == 0 {
		return
	}
	var parts []string
	if c.identical > 0 {
		parts = append(parts, fmt.Sprintf("%d rebuilt identically", c.identical))
	}
	if c.differ > 0 {
		parts = append(parts, fmt.Sprintf("%d not reproducible", c.differ))
	}
	if c.failed > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", c.failed, plural(c.failed, "rebuild failed", "rebuilds failed")))
	}
	b.l("**Self-checks (%d %s, a cell of each rebuilt on a fresh builder):** %s  ",
		c.groups, plural(c.groups, "group", "groups"), strings.Join(parts, " · "))
}

// writeSelfCheckFailures writes the errors of g's failed self-checks.
func writeSelfCheckFailures(b *md, g GroupVerdict) {
	for _, s := range g.failedSelfChecks() {
		b.l("<details><summary>💥 self-check of <code>%s</code>: %s</summary>", html.EscapeString(s.Cell), html.EscapeString(firstLine(s.Error)))
		b.l("")
		writeFence(b, "text", tail(s.Error))
		b.l("</details>")
		b.l("")
	}
}

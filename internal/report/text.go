package report

import (
	"cmp"
	"strings"
	"time"
	"unicode"
)

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

// longestBackticks is the length of the longest run of backticks in s: a
// code span or fence around s must be longer.
func longestBackticks(s string) int {
	run, longest := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

// code is an inline code span that is safe in a table cell.
func code(s string) string {
	s = oneLine(s)
	fence := strings.Repeat("`", longestBackticks(s)+1)
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
	fence := strings.Repeat("`", max(3, longestBackticks(s)+1))
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

// firstLine is the first line of s, with " …" when more follow.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i]) + " …"
	}
	return s
}

// day is t's date, UTC.
func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

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

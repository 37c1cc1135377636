package matrix

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrInvalid is wrapped by every ValidationErrors.
	ErrInvalid = errors.New("invalid matrix")
	// ErrUnknownProfile: Expand was asked for a profile the matrix lacks.
	ErrUnknownProfile = errors.New("unknown profile")
	// ErrEmptyExpansion: a profile selects no cells.
	ErrEmptyExpansion = errors.New("expands to no cells")
	// ErrMalformedDigest: not sha256:<64 lowercase hex>.
	ErrMalformedDigest = errors.New("malformed digest")
	// ErrUnknownCell: a cell name that the matrix cannot build.
	ErrUnknownCell = errors.New("unknown cell")
)

// FieldError is one problem in the matrix, at a field path such as
// "engines[2].version" or "profiles.local.engines[1]".
type FieldError struct {
	Field string // the field path; "" for the file as a whole
	Line  int    // the line in the file, when known
	Msg   string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	return b.String()
}

// ValidationErrors is every problem found while loading a matrix, in the
// order of the file. Its Error is one "field.path: message" per line.
type ValidationErrors []*FieldError

func (v ValidationErrors) Error() string { return oneALine(v) }

// oneALine joins the messages of errs, one a line.
func oneALine[E error](errs []E) string {
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Is makes errors.Is(err, ErrInvalid) true for any ValidationErrors.
func (v ValidationErrors) Is(target error) bool { return target == ErrInvalid }

// Fields returns the field paths of the problems, for tests and tools.
func (v ValidationErrors) Fields() []string {
	out := make([]string, len(v))
	for i, e := range v {
		out[i] = e.Field
	}
	return out
}

// problems collects FieldErrors. Problems under a path already reported as
// broken (a value of the wrong shape, dropped during decoding) are not
// reported again: "engines[0]: want a mapping" says enough.
type problems struct {
	errs   ValidationErrors
	broken []string
	lines  map[string]int // field path -> line, filled by the decoder
}

func (p *problems) add(field string, format string, args ...any) {
	p.addLine(field, p.line(field), format, args...)
}

// addLine adds a problem at an explicit line; a negative line means none
// (for problems in other files, whose message names file and line).
//
// Long values are cut in the message and in the field path (see cutLong).
func (p *problems) addLine(field string, line int, format string, args ...any) {
	if p.silenced(field) {
		return
	}
	if line < 0 {
		line = 0
	}
	p.errs = append(p.errs, &FieldError{Field: cutPath(field), Line: line, Msg: cutLong(fmt.Sprintf(format, args...))})
}

// silenced reports whether field is under a path already reported broken.
func (p *problems) silenced(field string) bool {
	for _, b := range p.broken {
		if under(field, b) {
			return true
		}
	}
	return false
}

// markBroken reports a problem at field and silences later ones under it.
func (p *problems) markBroken(field string, line int, format string, args ...any) {
	p.addLine(field, line, format, args...)
	p.broken = append(p.broken, field)
}

// dropped reports whether a value was dropped while decoding (marked
// broken) at list (a top-level list such as "engines"), at one of its
// entries, or at one of the given keys of an entry.
func (p *problems) dropped(list string, keys ...string) bool {
	return slices.ContainsFunc(p.broken, func(field string) bool {
		rest, ok := strings.CutPrefix(field, list)
		if !ok || (rest != "" && rest[0] != '[') {
			return false
		}
		if rest == "" {
			return true
		}
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return false
		}
		rest = rest[end+1:]
		if rest == "" {
			return true
		}
		key := strings.TrimPrefix(rest, ".")
		if i := strings.IndexAny(key, ".["); i >= 0 {
			key = key[:i]
		}
		return slices.Contains(keys, key)
	})
}

// line is the line of field, or of its nearest ancestor that has one.
func (p *problems) line(field string) int {
	for f := field; f != ""; f = parent(f) {
		if l, ok := p.lines[f]; ok {
			return l
		}
	}
	return 0
}

// sorted orders the problems as the file is: by section (engines,
// buildkits, fixtures, exporters, profiles, knownDivergences), then by entry,
// keeping the order of discovery within an entry.
func (p *problems) sorted() ValidationErrors {
	sections := []string{"", "engines", "buildkits", "fixtures", "exporters", "profiles", "knownDivergences"}
	key := func(field string) (int, int) {
		top := field
		if i := strings.IndexAny(top, ".["); i >= 0 {
			top = top[:i]
		}
		rank := slices.Index(sections, top)
		if rank < 0 {
			rank = len(sections)
		}
		index := -1
		if rest, ok := strings.CutPrefix(field, top+"["); ok {
			if end := strings.IndexByte(rest, ']'); end >= 0 {
				if n, err := strconv.Atoi(rest[:end]); err == nil {
					index = n
				}
			}
		}
		return rank, index
	}
	slices.SortStableFunc(p.errs, func(a, b *FieldError) int {
		ra, ia := key(a.Field)
		rb, ib := key(b.Field)
		if ra != rb {
			return cmp.Compare(ra, rb)
		}
		return cmp.Compare(ia, ib)
	})
	return p.errs
}

// under reports whether field is path or inside it.
func under(field, path string) bool {
	if !strings.HasPrefix(field, path) {
		return false
	}
	rest := field[len(path):]
	return rest == "" || rest[0] == '.' || rest[0] == '['
}

// parent is the path one level up: "a.b[2]" -> "a.b" -> "a" -> "".
func parent(field string) string {
	if strings.HasSuffix(field, "]") {
		if i := strings.LastIndex(field, "["); i >= 0 {
			return field[:i]
		}
	}
	if i := strings.LastIndex(field, "."); i >= 0 {
		return field[:i]
	}
	return ""
}

// How much of a value a message shows: a quoted value ("...") longer than
// maxQuoted runes, any other run of non-space characters longer than
// maxToken runes, a field path segment longer than maxSegment runes and a
// message longer than maxMessage bytes are cut, with the size they had.
const (
	maxQuoted  = 128
	maxToken   = 256
	maxSegment = 64
	maxMessage = 1024
)

// cut shortens s to maxQuoted runes, marking the cut with "… (N bytes)".
func cut(s string) string {
	if utf8.RuneCountInString(s) <= maxQuoted {
		return s
	}
	return fmt.Sprintf("%s… (%d bytes)", firstRunes(s, maxQuoted), len(s))
}

// firstRunes is the first n runes of s.
func firstRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// cutLong shortens the long values in msg: each Go-quoted string longer
// than maxQuoted runes becomes its beginning, still quoted, followed by
// "… (N bytes)"; each other run of non-space characters longer than
// maxToken runes likewise; and the whole is cut at maxMessage bytes.
func cutLong(msg string) string {
	var b strings.Builder
	for i := 0; i < len(msg); {
		if msg[i] == ' ' || msg[i] == '\n' {
			b.WriteByte(msg[i])
			i++
			continue
		}
		if msg[i] == '"' {
			if q, err := strconv.QuotedPrefix(msg[i:]); err == nil {
				u, _ := strconv.Unquote(q)
				if utf8.RuneCountInString(u) > maxQuoted {
					fmt.Fprintf(&b, "%q… (%d bytes)", firstRunes(u, maxQuoted), len(u))
				} else {
					b.WriteString(q)
				}
				i += len(q)
				continue
			}
		}
		end := strings.IndexAny(msg[i:], " \n")
		if end < 0 {
			end = len(msg) - i
		}
		tok := msg[i : i+end]
		if utf8.RuneCountInString(tok) > maxToken {
			fmt.Fprintf(&b, "%s… (%d bytes)", firstRunes(tok, maxToken), len(tok))
		} else {
			b.WriteString(tok)
		}
		i += end
	}
	out := b.String()
	if len(out) > maxMessage {
		out = strings.ToValidUTF8(out[:maxMessage], "") + fmt.Sprintf("… (%d bytes in all)", len(out))
	}
	return out
}

// cutPath shortens each segment of a field path ("a.b[c]": a, b and c)
// longer than maxSegment runes.
func cutPath(field string) string {
	if utf8.RuneCountInString(field) <= maxSegment {
		return field
	}
	var b strings.Builder
	start := 0
	flush := func(end int) {
		seg := field[start:end]
		if utf8.RuneCountInString(seg) > maxSegment {
			seg = firstRunes(seg, maxSegment) + "…"
		}
		b.WriteString(seg)
	}
	for i := 0; i < len(field); i++ {
		switch field[i] {
		case '.', '[', ']':
			flush(i)
			b.WriteByte(field[i])
			start = i + 1
		}
	}
	flush(len(field))
	return b.String()
}

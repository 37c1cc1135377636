package matrix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// SyntaxError is a file that is not YAML, or not UTF-8: the file, the line
// (1-based) and, for encoding problems, the column (1-based, in bytes; 0
// when unknown). It is not a ValidationErrors: nothing after it is checked,
// so that no problem is reported that the syntax error made up.
type SyntaxError struct {
	File   string
	Line   int
	Column int
	Msg    string
}

func (e *SyntaxError) Error() string {
	where := e.File
	switch {
	case e.Line > 0 && e.Column > 0:
		where += fmt.Sprintf(": line %d, column %d", e.Line, e.Column)
	case e.Line > 0:
		where += fmt.Sprintf(": line %d", e.Line)
	}
	return where + ": " + e.Msg
}

// readLimited reads file, refusing one larger than max bytes with a
// LimitError. It reads at most max+1 bytes, so /dev/zero or a file that
// grows is refused too.
func readLimited(file string, max int64) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, &LimitError{File: file, Key: "bytes", Limit: max, What: fmt.Sprintf("the file is larger than %d bytes", max)}
	}
	return data, nil
}

// checkEncoding refuses what is not UTF-8 or holds characters YAML 1.2
// forbids (https://yaml.org/spec/1.2.2/#51-character-set: C0 and C1
// controls other than tab, line feed, carriage return and next line,
// surrogates, U+FFFE and U+FFFF), naming the line and column of the first
// one: yaml.v3 names neither. A UTF-16 or UTF-32 file, which YAML allows,
// is refused too: the matrix is UTF-8.
func checkEncoding(file string, data []byte) error {
	for _, bom := range []struct {
		mark []byte
		name string
	}{{[]byte{0, 0, 0xFE, 0xFF}, "UTF-32"}, {[]byte{0xFF, 0xFE, 0, 0}, "UTF-32"}, {[]byte{0xFE, 0xFF}, "UTF-16"}, {[]byte{0xFF, 0xFE}, "UTF-16"}} {
		if bytes.HasPrefix(data, bom.mark) {
			return &SyntaxError{File: file, Line: 1, Column: 1, Msg: fmt.Sprintf("the file is %s (it starts with a byte order mark): save it as UTF-8", bom.name)}
		}
	}
	for off := 0; off < len(data); {
		r, size := utf8.DecodeRune(data[off:])
		var msg string
		switch {
		case r == utf8.RuneError && size <= 1:
			msg = fmt.Sprintf("byte 0x%02X is not UTF-8: save the file as UTF-8%s", data[off], latin1Hint(data[off:]))
		case !yamlPrintable(r):
			msg = fmt.Sprintf("character U+%04X is not allowed in YAML (a control or non-character; write it escaped in a double-quoted string, \"\\u%04X\", if it is meant)", r, r)
		}
		if msg != "" {
			line, col := lineColumn(data, off)
			return &SyntaxError{File: file, Line: line, Column: col, Msg: msg}
		}
		off += size
	}
	return nil
}

// latin1Hint names the character that the first byte of rest stands for
// in Latin-1, the most common source of bytes that are not UTF-8, when it
// looks like one: a letter or sign on its own, not the start of a broken
// UTF-8 sequence.
func latin1Hint(rest []byte) string {
	if rest[0] < 0xA0 || (len(rest) > 1 && rest[1] >= 0x80 && rest[1] <= 0xBF) {
		return ""
	}
	return fmt.Sprintf(" (in Latin-1 it is %q)", rune(rest[0]))
}

// yamlPrintable is YAML 1.2's c-printable, which yaml.v3's reader enforces.
func yamlPrintable(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || (r >= 0x20 && r <= 0x7E) || r == 0x85 ||
		(r >= 0xA0 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}

// lineColumn gives the 1-based line and byte column of offset off in data.
// Line breaks are LF, CR LF and a lone CR, as YAML counts them.
func lineColumn(data []byte, off int) (int, int) {
	line, start := 1, 0
	for i := 0; i < off; i++ {
		switch data[i] {
		case '\n':
			line, start = line+1, i+1
		case '\r':
			if i+1 < len(data) && data[i+1] == '\n' {
				continue
			}
			line, start = line+1, i+1
		}
	}
	return line, off - start + 1
}

// parseDocument parses data, which must hold at most one YAML document, into
// its node tree (nil for an empty file). A file that is not YAML gives a
// SyntaxError with its line.
func parseDocument(ctx context.Context, file string, data []byte) (*yaml.Node, error) {
	if err := checkEncoding(file, data); err != nil {
		return nil, err
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlSyntaxError(ctx, file, data, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, &SyntaxError{File: file, Line: extra.Line, Msg: "a second YAML document: the matrix is one document (remove the --- or ... that starts it)"}
	case !errors.Is(err, io.EOF):
		return nil, yamlSyntaxError(ctx, file, data, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// yamlLineRE is how yaml.v3 puts a line in its messages, when it does.
var yamlLineRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?`)

// yamlSyntaxError turns an error of yaml.v3's parser into a SyntaxError
// with the line of the problem. yaml.v3 leaves the line out of some
// messages (a problem on line 1, an unknown anchor) and gives some others
// 0-based, so the line is found again: it is the first line such that the
// file cut after it fails with the same message.
func yamlSyntaxError(ctx context.Context, file string, data []byte, err error) error {
	msg := yamlLineRE.ReplaceAllString(err.Error(), "")
	var ends []int // the offset after each line
	for i, c := range data {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	failsAt := func(k int) bool { // the first k lines fail with msg
		if ctx.Err() != nil {
			return true // stop searching
		}
		err := parseAll(data[:ends[k-1]])
		return err != nil && yamlLineRE.ReplaceAllString(err.Error(), "") == msg
	}
	lo, hi := 1, len(ends) // failsAt(hi) holds: it is the whole file
	for lo < hi {
		mid := (lo + hi) / 2
		if failsAt(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", file, context.Cause(ctx))
	}
	return &SyntaxError{File: file, Line: lo, Msg: "not YAML: " + cutLong(msg)}
}

// parseAll parses every document of data, for its first error.
func parseAll(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

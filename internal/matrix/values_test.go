package matrix

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Generated members of the kinds of fault that the samples in
// testdata/cases stand for (see cases_test.go): every integer field, every
// kind of YAML syntax error, other invalid encodings, other bad merge keys,
// and the problems a first one must not bring along.

// blockBase is a valid matrix in block style, so that any scalar can be put
// in place of its integers.
const blockBase = `engines:
  - kind: docker
    version: 20.10.24
buildkits:
  - version: v0.19.0
    pinned: true
    image: "moby/buildkit:v0.19.0@sha256:14aa1b4dd92ea0a4cd03a54d0c6079046ea98cd0c0ae6176bdd7036ba370cbbe"
fixtures:
  - name: f
    sourceDateEpoch: 0
exporters:
  - name: docker
    type: docker
profiles:
  all:
    procs: 0
`

// writeMatrix writes text as matrix.yaml beside a fixture folder
// fixtures/f holding a Dockerfile, and returns the file's path.
func writeMatrix(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "fixtures", "f"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "fixtures", "f", "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "matrix.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func replaceOnce(t *testing.T, text, old, new string) string {
	t.Helper()
	if !strings.Contains(text, old) {
		t.Fatalf("the text lacks %q", old)
	}
	return strings.Replace(text, old, new, 1)
}

// intFields lists the yaml paths of the integer fields under type t, with
// "[]" for a list's entries and ".*" for a map's values.
func intFields(t reflect.Type, path string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return []string{path}
	case reflect.Slice:
		return intFields(t.Elem(), path+"[]")
	case reflect.Map:
		return intFields(t.Elem(), path+".*")
	case reflect.Struct:
		var out []string
		for name, ft := range yamlFields(t) {
			out = append(out, intFields(ft, joinPath(path, name))...)
		}
		slices.Sort(out)
		return out
	}
	return nil
}

// intField is how the test puts a value in one integer field of blockBase.
type intField struct {
	old, field string // the text replaced (then "<old> <value>"), the field path
	line       int
	get        func(*Matrix) int64
}

// The integer fields of the schema, each with a way to set it. A new
// integer field fails TestIntegerFieldsAreIntegers until it is added here.
var intFieldsUnderTest = map[string]intField{
	"fixtures[].sourceDateEpoch": {"sourceDateEpoch:", "fixtures[0].sourceDateEpoch", 10,
		func(m *Matrix) int64 { return *m.Fixtures[0].SourceDateEpoch }},
	"profiles.*.procs": {"procs:", "profiles.all.procs", 16,
		func(m *Matrix) int64 { return int64(m.Profiles["all"].Procs) }},
}

func TestIntegerFieldsAreIntegers(t *testing.T) {
	found := intFields(reflect.TypeFor[Matrix](), "")
	if want := slices.Sorted(func(yield func(string) bool) {
		for k := range intFieldsUnderTest {
			if !yield(k) {
				return
			}
		}
	}); !slices.Equal(found, want) {
		t.Fatalf("integer fields of the schema: %q; under test: %q", found, want)
	}
	bad := map[string]string{ // value -> a part of the message
		"1735689600.9": "want an integer, got the number 1735689600.9", "1.5": "got the number 1.5",
		"1735689600.0": "got the number 1735689600.0", "1e9": "got the number 1e9", "1E3": "got the number",
		"-2.5": "got the number", ".inf": "got the number .inf", "-.inf": "got the number", ".nan": "got the number",
		"0.": "got the number", `"12"`: "quoted, so a string", "'12'": "quoted, so a string",
		"1_000": "no _, 0b or :", "0b101": "no _, 0b or :", "1:30": "want an integer", "-0x10": "want an integer",
		"012": "a leading zero", "-07": "a leading zero", "00": "a leading zero", "0x": "want an integer",
		"0o8": "want an integer", "!!float 12": "got the number 12", "!!str 12": "want an integer",
		"true": "got the boolean", "ten": `got the string "ten"`, "[]": "got a list", "{}": "got a mapping",
		"99999999999999999999": "out of range", "0x10000000000000000": "out of range", "2025-01-01": "want an integer",
		"|\n      12": "want an integer",
	}
	bad["0X10"] = "want an integer" // YAML 1.2 writes 0x, 0o only
	good := map[string]int64{"0": 0, "7": 7, "+7": 7, "0x10": 16, "0o17": 15, "0xff": 255,
		"!!int 12": 12, `!!int "12"`: 12, "1735689600": 1735689600}
	for tmpl, f := range intFieldsUnderTest {
		for value, msg := range bad {
			t.Run(tmpl+"="+value, func(t *testing.T) {
				_, err := Load(writeMatrix(t, replaceOnce(t, blockBase, f.old+" 0", f.old+" "+value)), WithNow(testNow))
				verrs := validationErrors(t, err)
				if len(verrs) != 1 || verrs[0].Field != f.field || verrs[0].Line != f.line || !strings.Contains(verrs[0].Msg, msg) {
					t.Errorf("want one problem at %s (line %d) saying %q; got:\n%v", f.field, f.line, msg, err)
				}
			})
		}
		for value, want := range good {
			t.Run(tmpl+"="+value, func(t *testing.T) {
				m, err := Load(writeMatrix(t, replaceOnce(t, blockBase, f.old+" 0", f.old+" "+value)), WithNow(testNow))
				if err != nil {
					t.Fatal(err)
				}
				if got := f.get(m); got != want {
					t.Errorf("%s: %s reads as %d, want %d", f.field, value, got, want)
				}
			})
		}
	}
}

func TestNegativeIntegersStillChecked(t *testing.T) {
	_, err := Load(writeMatrix(t, replaceOnce(t, blockBase, "procs: 0", "procs: -0x0")), WithNow(testNow))
	onlyProblem(t, err, "profiles.all.procs", 16, "want an integer")
	_, err = Load(writeMatrix(t, replaceOnce(t, blockBase, "procs: 0", "procs: -3")), WithNow(testNow))
	onlyProblem(t, err, "profiles.all.procs", 16, "-3: must be 0 or more")
}

func TestDatetimeWithFractionRefused(t *testing.T) {
	_, err := Load(writeMatrix(t, replaceOnce(t, blockBase, "sourceDateEpoch: 0", `datetime: "2025-01-01T00:00:00.5Z"`)), WithNow(testNow))
	onlyProblem(t, err, "fixtures[0].datetime", 10, `"2025-01-01T00:00:00.5Z" has a fraction of a second`)
}

// Every kind of syntax error is one SyntaxError naming the file and the
// line of the problem; nothing is decoded after it.
func TestSyntaxErrorsNameFileAndLine(t *testing.T) {
	tests := []struct {
		name, text string
		line, col  int // col 0: not checked
		msg        string
	}{
		{"unclosed list", "engines: [\n", 1, 0, "did not find expected node content"},
		{"unclosed flow mapping", "engines:\n  - {kind: docker\nbuildkits: []\n", 2, 0, "did not find expected ',' or '}'"},
		{"mapping value on line 1", "a: b: c\n", 1, 0, "mapping values are not allowed"},
		{"mapping value later", "engines:\n  - a\nbuildkits: b: c\n", 3, 0, "mapping values are not allowed"},
		{"unknown anchor", "x: 1\nengines:\n  - *nope\n", 3, 0, "unknown anchor 'nope'"},
		{"YAML 2.0", "%YAML 2.0\n---\na: 1\n", 1, 0, "incompatible YAML document"},
		{"second document", "a: 1\n---\nb: 2\n", 2, 0, "a second YAML document"},
		{"bad indentation", "a: |\n  x\n y\nz: 1\n", 3, 0, "did not find expected key"},
		{"tab indentation", "engines:\n\t- b\n", 2, 0, "cannot start any token"},
		{"unterminated quote", "a: 1\nb: 'open\nc: 2\n", 2, 0, "unexpected end of stream"},
		{"reserved indicator", "a: 1\nb: @x\n", 2, 0, "cannot start any token"},
		{"list then mapping", "- a\nb: c\n", 2, 0, "did not find expected '-' indicator"},
		{"dedented key", "a:\n  b: 1\n c: 2\n", 3, 0, "did not find expected key"},
		{"Latin-1 in a value", "a: 1\nb: caf\xe9\n", 2, 7, "byte 0xE9 is not UTF-8"},
		{"Latin-1 in a key", "a: 1\n\xfcber: 2\n", 2, 1, "byte 0xFC is not UTF-8"},
		{"Latin-1 in a comment", "# d\xe9j\xe0\na: 1\n", 1, 4, "byte 0xE9"},
		{"lone continuation byte", "a: \x80\n", 1, 4, "byte 0x80 is not UTF-8"},
		{"overlong encoding", "a: 1\nb: \xc0\xaf\n", 2, 4, "byte 0xC0"},
		{"encoded surrogate", "a: \xed\xa0\x80\n", 1, 4, "byte 0xED"},
		{"truncated at the end", "a: 1\nb: \xe2\x82", 2, 4, "byte 0xE2"},
		{"five-byte form", "a: \xf8\x88\x80\x80\x80\n", 1, 4, "byte 0xF8"},
		{"byte 0xFF", "a: 1\r\nb: \xff\r\n", 2, 4, "byte 0xFF"},
		{"lone CR line breaks", "a: 1\rb: 2\rc: \xe9\r", 3, 4, "byte 0xE9"},
		{"UTF-16 LE", "\xff\xfea\x00:\x00 \x001\x00\n\x00", 1, 1, "UTF-16"},
		{"UTF-16 BE", "\xfe\xff\x00a\x00:\x00 \x001\x00\n", 1, 1, "UTF-16"},
		{"UTF-32 LE", "\xff\xfe\x00\x00a\x00\x00\x00", 1, 1, "UTF-32"},
		{"bell", "a: 1\nb: [\x07]\n", 2, 5, "U+0007 is not allowed"},
		{"NUL", "a: 1\n\x00\n", 2, 1, "U+0000"},
		{"DEL", "a: x\x7f\n", 1, 5, "U+007F"},
		{"C1 control", "a: \xc2\x80\n", 1, 4, "U+0080"},
		{"non-character", "a: \xef\xbf\xbe\n", 1, 4, "U+FFFE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeMatrix(t, tt.text)
			_, err := Load(file)
			var serr *SyntaxError
			if !errors.As(err, &serr) {
				t.Fatalf("want a *SyntaxError, got %T: %v", err, err)
			}
			if serr.Line != tt.line || (tt.col != 0 && serr.Column != tt.col) || !strings.Contains(serr.Msg, tt.msg) {
				t.Errorf("got line %d column %d %q; want line %d column %d %q", serr.Line, serr.Column, serr.Msg, tt.line, tt.col, tt.msg)
			}
			if want := fmt.Sprintf("%s: line %d", file, tt.line); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("%q does not start with %q", err, want)
			}
		})
	}
	// A byte order mark of UTF-8, and the characters YAML allows, are fine.
	for _, ok := range []string{"\xef\xbb\xbfa: 1\n", "a: \"\\u0007 tab\tok\"\n", "a: \xc2\x85 \xe2\x80\xa8 \xf0\x9f\x90\xb3\n"} {
		if err := checkEncoding("f", []byte(ok)); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

// Merge keys that cannot merge are one problem at "<path>.<<" each, and
// the rest of the entry is checked as usual; those that can are merged.
func TestMergeKeys(t *testing.T) {
	anchors := "x-scalar: &s docker\nx-list: &l [{kind: docker}]\nx-map: &m {kind: docker, version: 20.10.24}\n"
	text := func(merge string) string {
		return anchors + replaceOnce(t, blockBase, "  - kind: docker\n    version: 20.10.24\n", "  - <<: "+merge+"\n")
	}
	for merge, want := range map[string]string{
		"*s":           `got *s, which stands for the string "docker"`,
		"*l":           "got *l, which stands for a list",
		"docker":       `got the string "docker"`,
		"[*m, docker]": "got a list",
		"[[*m], *m]":   "got a list",
		"[*m, *s]":     "got a list",
		"~":            "got nothing",
		"{kind: podman, version: 1.2.3, where: [x]}": "",
	} {
		t.Run(merge, func(t *testing.T) {
			_, err := Load(writeMatrix(t, text(merge)), WithNow(testNow))
			// The top-level keys x-* are unknown fields.
			var got []string
			for _, e := range validationErrors(t, err) {
				if !strings.HasPrefix(e.Field, "x-") {
					got = append(got, e.Field)
				}
			}
			field := "engines[0].<<"
			if want == "" { // a mapping that merges, whose own value is wrong
				field = "engines[0].where"
			}
			if !slices.Equal(got, []string{field}) || !strings.Contains(err.Error(), want) {
				t.Errorf("want one problem at %s saying %q; got:\n%v", field, want, err)
			}
		})
	}
	for _, merge := range []string{"*m", "[*m]", "[*m, {rootless: false}]", "{kind: docker, version: 20.10.24}"} {
		t.Run("valid "+merge, func(t *testing.T) {
			_, err := Load(writeMatrix(t, strings.ReplaceAll(text(merge), "x-", "")), WithNow(testNow))
			if err == nil || !slices.Equal(slices.Sorted(slices.Values(validationErrors(t, err).Fields())), []string{"list", "map", "scalar"}) {
				t.Fatalf("want only the three unknown top-level fields; got %v", err)
			}
		})
	}
}

// refBase is blockBase with a profile and a known divergence that name an
// entry of every list.
const refBase = blockBase + `  ref:
    engines: [docker-20.10.24]
    buildkits: [v0.19.0]
    fixtures: [f]
    exporters: [docker]
    platforms: [linux/amd64]
knownDivergences:
  - cells: engine=docker-20.10.24/buildkit=v0.19.0/fixture=f/exporter=docker/platform=linux-amd64
    reason: a test
    link: https://example.com/1
    expires: "2999-01-01"
`

// A problem is reported once: nothing under a value dropped for its shape
// or type, and no reference to an entry whose name that made unknown.
func TestNoFollowOnProblems(t *testing.T) {
	if _, err := Load(writeMatrix(t, refBase), WithNow(testNow)); err != nil {
		t.Fatalf("the base: %v", err)
	}
	engine := "  - kind: docker\n    version: 20.10.24\n"
	tests := []struct {
		name, old, new string
		fields         []string
	}{
		{"root is a list", refBase, "- engines\n", []string{""}},
		{"root is a string", refBase, "matrix\n", []string{""}},
		{"engines not a list", "engines:\n" + engine, "engines: docker\n", []string{"engines"}},
		{"engine not a mapping", engine, "  - docker\n", []string{"engines[0]"}},
		{"engine empty", engine, "  -\n", []string{"engines[0]"}},
		{"engine kind dropped", "kind: docker", "kind: [docker]", []string{"engines[0].kind"}},
		{"engine version dropped", "version: 20.10.24", "version: {v: 1}", []string{"engines[0].version"}},
		{"engine rootless dropped", "version: 20.10.24\n", "version: 20.10.24\n    rootless: maybe\n", []string{"engines[0].rootless"}},
		{"engine merge that cannot merge", engine, "  - <<: docker\n    kind: docker\n    version: 20.10.24\n", []string{"engines[0].<<"}},
		{"BuildKit version dropped", "version: v0.19.0", "version: [v0.19.0]", []string{"buildkits[0].version"}},
		{"fixture name dropped", "name: f", "name: [f]", []string{"fixtures[0].name"}},
		{"fixture platforms not a list", "sourceDateEpoch: 0\n", "sourceDateEpoch: 0\n    platforms: linux/amd64\n", []string{"fixtures[0].platforms"}},
		{"exporter name dropped", "name: docker", "name: {docker: 1}", []string{"exporters[0].name"}},
		{"exporters empty", "exporters:\n  - name: docker\n    type: docker\n", "exporters: []\n", []string{"exporters"}},
		{"merge at the top", "engines:", "<<: [x]\nengines:", []string{"<<"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeMatrix(t, replaceOnce(t, refBase, tt.old, tt.new)), WithNow(testNow))
			if got := validationErrors(t, err).Fields(); !slices.Equal(got, tt.fields) {
				t.Errorf("fields %q, want %q:\n%v", got, tt.fields, err)
			}
		})
	}
}

// Long values are cut in messages and field paths, saying how long they
// were; the rest of the message stays.
func TestLongValuesCut(t *testing.T) {
	long := strings.Repeat("x", 20000)
	for name, tt := range map[string]struct{ old, new, field string }{
		"quoted version": {"version: 20.10.24", `version: "` + long + `"`, "engines[0].version"},
		"kind":           {"kind: docker", "kind: " + long, "engines[0].kind"},
		"unknown key":    {"kind: docker", "kind: docker\n    " + long[:1000] + ": 1", "engines[0]." + long[:maxSegment] + "…"},
		"dir":            {"name: f\n", "name: f\n    dir: /" + long + "\n", "fixtures[0].dir"},
		"image":          {`image: "moby/`, `image: "moby/` + long, "buildkits[0].image"},
		"number":         {"procs: 0", "procs: " + strings.Repeat("9", 20000), "profiles.all.procs"},
		"profile glob":   {"procs: 0", "engines: [" + long + "]", "profiles.all.engines[0]"},
		"datetime":       {"sourceDateEpoch: 0", "datetime: " + long, "fixtures[0].datetime"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(writeMatrix(t, replaceOnce(t, blockBase, tt.old, tt.new)), WithNow(testNow))
			verrs := validationErrors(t, err)
			if len(verrs) != 1 || verrs[0].Field != tt.field {
				t.Fatalf("want one problem at %s, got %d: %.2000s", tt.field, len(verrs), err)
			}
			if msg := verrs[0].Error(); len(msg) > maxMessage+200 || !strings.Contains(msg, "bytes)") {
				t.Errorf("not cut (%d bytes): %.400s", len(msg), msg)
			}
		})
	}
	for in, want := range map[string]string{
		`short "x y" stays`:                       `short "x y" stays`,
		`a "` + strings.Repeat(`\"`, 200) + `" b`: `a "` + strings.Repeat(`\"`, maxQuoted) + `"… (200 bytes) b`,
		"path /" + long + " end":                  "path /" + long[:maxToken-1] + "… (20001 bytes) end",
	} {
		if got := cutLong(in); got != want {
			t.Errorf("cutLong(%.60q) = %.300q, want %.300q", in, got, want)
		}
	}
	if got := cutLong(strings.Repeat("word ", 1000)); len(got) > maxMessage+40 || !strings.HasSuffix(got, "(5000 bytes in all)") {
		t.Errorf("a long message: %d bytes, ends %q", len(got), got[len(got)-30:])
	}
	if got := cutPath("profiles." + long + ".engines[0]"); got != "profiles."+long[:maxSegment]+"….engines[0]" {
		t.Errorf("cutPath: %q", got)
	}
}

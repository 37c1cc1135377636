package matrix

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The samples of ../shared/cases/matrix/, copied to testdata/cases with the
// fixtures that make the rest of each file valid (see its README). Each is
// one kind of fault; hostile_test.go generates other members of each kind.

func loadCase(t *testing.T, name string) error {
	t.Helper()
	m, err := Load(filepath.Join("testdata", "cases", name), WithNow(testNow))
	if err == nil {
		t.Fatalf("Load succeeded: %d engines", len(m.Engines))
	}
	if m != nil {
		t.Error("Load returned a matrix with its error")
	}
	return err
}

// onlyProblem checks that err is a ValidationErrors of exactly one problem,
// at field and line, whose message starts with msg.
func onlyProblem(t *testing.T, err error, field string, line int, msg string) {
	t.Helper()
	verrs := validationErrors(t, err)
	if len(verrs) != 1 {
		t.Fatalf("want one problem, got %d:\n%v", len(verrs), err)
	}
	e := verrs[0]
	if e.Field != field || e.Line != line || !strings.HasPrefix(e.Msg, msg) {
		t.Errorf("got %s (field %q, line %d); want field %q, line %d, message %q...", e, e.Field, e.Line, field, line, msg)
	}
}

// A decimal in an integer field is refused, never truncated.
func TestCaseFloatInIntegerField(t *testing.T) {
	err := loadCase(t, "050-type-fixtures.0.sourceDateEpoch_float.yaml")
	onlyProblem(t, err, "fixtures[0].sourceDateEpoch", 47, "want an integer, got the number 1.5")
}

// A merge key pointing at a scalar is one problem with its path and line,
// and no "empty entry" or "at least one profile is required" follows.
func TestCaseMergeScalarAnchor(t *testing.T) {
	err := loadCase(t, "299-merge-scalar-anchor.yaml")
	onlyProblem(t, err, "exporters[1].<<", 84, "a merge key (<<) takes a mapping")
	if !strings.Contains(err.Error(), `*dn, which stands for the string "docker"`) {
		t.Errorf("the message does not say what the alias stands for: %v", err)
	}
}

// A Latin-1 byte: the error names the file, the line and the column.
func TestCaseLatin1Byte(t *testing.T) {
	err := loadCase(t, "251-latin1-byte.yaml")
	var serr *SyntaxError
	if !errors.As(err, &serr) {
		t.Fatalf("want a *SyntaxError, got %T: %v", err, err)
	}
	if serr.Line != 58 || serr.Column != 45 || !strings.HasSuffix(serr.File, "251-latin1-byte.yaml") {
		t.Errorf("got file %s line %d column %d; want line 58, column 45", serr.File, serr.Line, serr.Column)
	}
	for _, want := range []string{"251-latin1-byte.yaml: line 58, column 45: ", "byte 0xE9 is not UTF-8", "'é'"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if errors.Is(err, ErrInvalid) {
		t.Error("a file that is not UTF-8 is not a ValidationErrors")
	}
}

// The merge-key bomb is refused, naming the limit, after a number of node
// visits proportional to its text: the work is bounded by a counter, not
// by a clock.
func TestCaseMergeKeyBomb(t *testing.T) {
	err := loadCase(t, "merge-key-bomb.yaml")
	var lerr *LimitError
	if !errors.As(err, &lerr) || !errors.Is(err, ErrLimit) {
		t.Fatalf("want a *LimitError, got %T: %v", err, err)
	}
	if lerr.Key != "nodes" || lerr.Line == 0 || !strings.Contains(err.Error(), LimitsEnv+"=nodes=N") {
		t.Errorf("got %v", err)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "cases", "merge-key-bomb.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	assertBoundedWork(t, data, "nodes")
}

// assertBoundedWork measures data and checks that it exceeds the limit
// key, and that measuring it made at most two visits per node of its text
// (an alias, and what it stands for, measured once).
func assertBoundedWork(t *testing.T, data []byte, key string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	m, err := checkBounds(context.Background(), "bomb.yaml", doc.Content[0], DefaultLimits)
	var lerr *LimitError
	if !errors.As(err, &lerr) || lerr.Key != key {
		t.Fatalf("want a LimitError on %s, got %v", key, err)
	}
	if text := countNodes(&doc); m.visits > 2*text {
		t.Errorf("%d visits for %d nodes of text: the work follows the expansion", m.visits, text)
	}
}

// countNodes counts the nodes of a tree as written (aliases not followed).
func countNodes(n *yaml.Node) int {
	c := 1
	for _, k := range n.Content {
		c += countNodes(k)
	}
	return c
}

// The error of each sample names the file; the first line of every
// problem list, as validate prints it, is "field: message (line N)".
func TestCasesNameFileAndLine(t *testing.T) {
	for _, name := range []string{"251-latin1-byte.yaml", "merge-key-bomb.yaml"} {
		if err := loadCase(t, name); !strings.Contains(err.Error(), filepath.Join("testdata", "cases", name)+": line ") {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, name := range []string{"050-type-fixtures.0.sourceDateEpoch_float.yaml", "299-merge-scalar-anchor.yaml"} {
		verrs := validationErrors(t, loadCase(t, name))
		if !slices.ContainsFunc(verrs, func(e *FieldError) bool { return e.Line > 0 && e.Field != "" }) {
			t.Errorf("%s: no field path and line: %v", name, verrs)
		}
	}
}

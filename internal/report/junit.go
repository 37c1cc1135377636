package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"time"
)

// JUnit test-case names, as the matrix suite's junit.xml names them: the
// Ginkgo container ("matrix" for cells, "verdicts" for groups) and the spec.
const (
	junitCellPrefix  = "matrix "
	junitGroupPrefix = "verdicts "
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Time     float64      `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       float64         `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Status    string        `xml:"status,attr"`
	Time      float64       `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes run as a JUnit XML document to w: one test suite
// "repro-matrix" (properties: run id, profile) with a test case per cell,
// named "matrix " + the cell's name, and one per group verdict, named
// "verdicts " + GroupVerdict.Name(), as the matrix suite names them. A cell
// case fails when the cell failed, was interrupted, or differs from its
// golden digest with no known divergence covering it; a group case fails
// when the group fails the run (its message is the failure text). An
// interrupted run adds a failing case "run interrupted". Only w's errors
// are returned.
func WriteJUnit(w io.Writer, run Run) error {
	run = prepared(run)
	s := junitSuite{Name: "repro-matrix", Time: seconds(run.wallTime()),
		Properties: []junitProperty{{"run_id", run.ID}, {"profile", run.Profile}}}
	if !run.Started.IsZero() {
		s.Timestamp = run.Started.UTC().Format(time.RFC3339)
	}
	for _, r := range run.Results {
		v, _ := run.Verdicts.Cell(r.Name)
		s.add(cellCase(r, v))
	}
	for _, g := range run.Verdicts.Groups {
		s.add(groupCase(g))
	}
	if run.Interrupted {
		s.add(junitCase{Name: "run interrupted", Status: "failed",
			Failure: &junitFailure{Message: "the run stopped early", Type: "interrupted"}})
	}
	doc := junitSuites{Name: s.Name, Tests: s.Tests, Failures: s.Failures, Time: s.Time, Suites: []junitSuite{s}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	return nil
}

// WriteJUnitFile writes WriteJUnit's document to path atomically.
func WriteJUnitFile(path string, run Run) error {
	var b bytes.Buffer
	if err := WriteJUnit(&b, run); err != nil {
		return err
	}
	return atomicWrite(path, b.Bytes())
}

func (s *junitSuite) add(c junitCase) {
	c.Classname = s.Name
	s.Tests++
	switch c.Status {
	case "failed":
		s.Failures++
	case "skipped":
		s.Skipped++
	}
	s.Cases = append(s.Cases, c)
}

func cellCase(r CellResult, v CellVerdict) junitCase {
	c := junitCase{Name: junitCellPrefix + r.Name, Status: "passed", Time: seconds(r.Timings["total"]), SystemOut: v.Message}
	var kind string
	switch {
	case v.State == CellInterrupted:
		kind = "interrupted"
	case v.State == CellFailed:
		kind = "failed"
	case v.State == CellMismatch && v.Known == nil:
		kind = "golden-mismatch"
	default:
		return c
	}
	c.Status, c.SystemOut = "failed", ""
	msg := v.Message
	if r.Error != "" {
		msg = r.Error
	}
	c.Failure = &junitFailure{Message: firstLine(msg), Type: kind, Text: msg}
	return c
}

func groupCase(g GroupVerdict) junitCase {
	c := junitCase{Name: junitGroupPrefix + g.Name(), Status: "passed", SystemOut: g.Message}
	if g.Fails() {
		c.Status, c.SystemOut = "failed", ""
		c.Failure = &junitFailure{Message: firstLine(g.Message), Type: string(g.State), Text: g.Message}
	}
	return c
}

package report

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type junitDoc struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Suites   []struct {
		Properties []junitProperty `xml:"properties>property"`
		Cases      []struct {
			Name    string `xml:"name,attr"`
			Status  string `xml:"status,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestJUnit(t *testing.T) {
	run := fullRun()
	p := filepath.Join(t.TempDir(), "junit.xml")
	if err := WriteJUnitFile(p, run); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var doc junitDoc
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("junit.xml does not parse: %v", err)
	}
	cases := map[string]string{} // name -> failure type ("" passed)
	for _, c := range doc.Suites[0].Cases {
		cases[c.Name] = ""
		if c.Failure != nil {
			cases[c.Name] = c.Failure.Type
			if c.Status != "failed" || c.Failure.Message == "" || strings.Contains(c.Failure.Message, "\n") {
				t.Errorf("%s: status %s, message %q", c.Name, c.Status, c.Failure.Message)
			}
		}
	}
	// 14 cells, 5 groups, and the interruption.
	if doc.Tests != 20 || len(cases) != 20 {
		t.Errorf("%d tests, %d cases: want 20", doc.Tests, len(cases))
	}
	for name, want := range map[string]string{
		"verdicts group: fixture=timestamps/platform=linux-amd64/exporter=docker":                          "disagree",
		"verdicts group: fixture=timestamps/platform=linux-amd64/exporter=oci":                             "",
		"verdicts group: fixture=umask/platform=linux-amd64/exporter=oci":                                  "golden-mismatch",
		"matrix fixture=timestamps/platform=linux-amd64/engine=podman-4/buildkit=v0.19.0/exporter=oci":     "", // known
		"matrix fixture=timestamps/platform=linux-arm64/engine=podman-5/buildkit=v0.34.2/exporter=docker":  "failed",
		"matrix fixture=timestamps/platform=linux-arm64/engine=docker-20/buildkit=v0.19.0/exporter=docker": "interrupted",
		"matrix fixture=umask/platform=linux-amd64/engine=docker-28/buildkit=v0.34.2/exporter=docker":      "", // no golden
		"run interrupted": "interrupted",
	} {
		got, ok := cases[name]
		if !ok || got != want {
			t.Errorf("case %q: present %v, failure %q, want %q", name, ok, got, want)
		}
	}
	failures := 0
	for _, f := range cases {
		if f != "" {
			failures++
		}
	}
	if doc.Failures != failures {
		t.Errorf("failures attribute %d, %d failing cases", doc.Failures, failures)
	}
	if props := doc.Suites[0].Properties; len(props) != 2 || props[0].Value != run.ID || props[1].Value != "nightly" {
		t.Errorf("properties %+v", props)
	}
}

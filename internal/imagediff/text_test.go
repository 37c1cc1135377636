package imagediff_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/repro-matrix/repro-matrix/internal/imagediff"
	it "github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// exampleResult is a typical pair of builds: docker vs OCI media types, a
// later build time that leaked into the config and into file mtimes, the
// /etc/shadow day, a log file, and one real change in the environment.
func exampleResult(t *testing.T) *imagediff.Result {
	t.Helper()
	es := baseEntries()
	var more []it.Entry
	for i := range 6 {
		more = append(more, it.File("usr/lib/app/mod"+string(rune('a'+i))+".py", "pass\n"))
	}
	a := withEntries(append(append(append([]it.Entry{}, es...), more...), it.File("var/log/dpkg.log", "one\n")))
	bes := edit("etc/shadow", func(e *it.Entry) {
		e.Body = []byte("root:*:19800:0:99999:7:::\ndaemon:*:19800:0:99999:7:::\n")
	})
	for _, m := range more {
		m.Header.ModTime = later
		bes = append(bes, m)
	}
	b := withEntries(append(bes, it.File("var/log/dpkg.log", "two\n")))
	b.Docker = true
	b.Config = func(c map[string]any) {
		c["created"] = later.Format(time.RFC3339)
		cfg(c)["Env"] = append(cfg(c)["Env"].([]any), "DEBUG=1")
	}
	return diff(t, single(a), single(b), func(o *imagediff.Options) { o.NameA, o.NameB = "build-a.tar", "build-b.tar" })
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file (run with -update if intended):\n%s", p, got)
	}
}

func TestWriteTextGolden(t *testing.T) {
	res := exampleResult(t)
	var buf bytes.Buffer
	if err := res.WriteText(&buf, 20); err != nil {
		t.Fatal(err)
	}
	golden(t, "example.txt", buf.Bytes())

	buf.Reset()
	if err := res.WriteTextOptions(&buf, imagediff.TextOptions{Max: 20, SemanticOnly: true}); err != nil {
		t.Fatal(err)
	}
	golden(t, "example-semantic.txt", buf.Bytes())
}

func TestWriteTextMax(t *testing.T) {
	res := exampleResult(t)
	var buf bytes.Buffer
	if err := res.WriteText(&buf, 3); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	// Semantic differences come first.
	for _, want := range []string{"! config.Env[DEBUG]", "! /etc/shadow", "! /var/log/dpkg.log", "… and ", "more differences"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "created:") {
		t.Errorf("non-semantic lines shown past --max:\n%s", out)
	}
}

func TestWriteTextGroupsAlikeEntries(t *testing.T) {
	res := exampleResult(t)
	var buf bytes.Buffer
	res.WriteText(&buf, 50)
	if !strings.Contains(buf.String(), "mtime differs on 6 entries, e.g. /usr/lib/app/moda.py") {
		t.Fatalf("no group line:\n%s", buf.String())
	}
}

func TestWriteTextEqual(t *testing.T) {
	res := diff(t, single(baseImage()), single(baseImage()))
	var buf bytes.Buffer
	res.WriteText(&buf, 20)
	if !strings.HasPrefix(buf.String(), "identical\n") || strings.Count(buf.String(), "\n") != 3 {
		t.Fatalf("%q", buf.String())
	}
}

func TestSummary(t *testing.T) {
	res := exampleResult(t)
	s := res.Summary()
	if !strings.HasPrefix(s, "differs in ") || !strings.Contains(s, "(strict); semantically differs in 1 config field, 8 layer entries") {
		t.Fatalf("%q", s)
	}
	b := baseImage()
	b.Config = func(c map[string]any) { c["created"] = later.Format(time.RFC3339) }
	res = diff(t, single(baseImage()), single(b))
	if s := res.Summary(); s != "differs in 1 config field (strict); semantically equal" {
		t.Fatalf("%q", s)
	}
}

func TestJSON(t *testing.T) {
	res := exampleResult(t)
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "equal", "semanticEqual", "strict", "semantic", "tree", "hints", "sourceDateEpoch"} {
		if _, ok := back[k]; !ok {
			t.Errorf("no %q in JSON", k)
		}
	}
	// Round trip into the typed tree.
	var typed imagediff.Result
	if err := json.Unmarshal(b, &typed); err != nil {
		t.Fatal(err)
	}
	if typed.Strict != res.Strict || typed.Summary() != res.Summary() || len(typed.Hints()) != len(res.Hints()) {
		t.Fatalf("round trip: %+v vs %+v", typed.Strict, res.Strict)
	}
	if !strings.Contains(string(b), `"kind":"content","field":"content","path":"/etc/shadow"`) {
		t.Fatalf("entry difference not in JSON:\n%s", b)
	}
}

func TestWriteTextMissingObjects(t *testing.T) {
	a, b := baseImage(), baseImage()
	b.Layers = append(b.Layers, it.Layer{Entries: []it.Entry{it.File("extra", "x")}})
	b.Subject = &ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("base"), Size: 4}
	other := baseImage()
	other.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm64"}
	b.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	a.Platform = b.Platform
	res := diff(t, it.Index{Images: []it.Image{a}}, it.Index{Images: []it.Image{b, other}})
	var buf bytes.Buffer
	if err := res.WriteText(&buf, 20); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"! manifests[linux/arm64]: only in B: oci.image.manifest.v1+json sha256:",
		"layers[2]: only in B: oci.image.layer.v1.tar+gzip sha256:",
		"! /extra: only in B: file 0644 1 B",
		"layers: 2 ≠ 3",
		"subject: (none) ≠ sha256:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if res.EqualUnder(true) || res.EqualUnder(false) {
		t.Fatal("verdicts")
	}
	mustFind(t, res, imagediff.KindField, "subject")
}

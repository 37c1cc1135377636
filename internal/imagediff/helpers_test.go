package imagediff_test

import (
	"archive/tar"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/imagediff"
	it "github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

// baseEntries is the file tree of the test images.
func baseEntries() []it.Entry {
	return []it.Entry{
		it.Dir("etc/"),
		it.File("etc/hostname", "box\n"),
		it.File("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
		it.File("etc/shadow", "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n").With(func(h *tar.Header) { h.Mode = 0o640; h.Gid = 42 }),
		it.Dir("usr/"),
		it.Dir("usr/bin/"),
		it.File("usr/bin/app", "#!/bin/sh\necho hello\n").With(func(h *tar.Header) { h.Mode = 0o755 }),
		it.Symlink("usr/bin/app-link", "app"),
		it.Hardlink("usr/bin/app-hard", "usr/bin/app"),
	}
}

// edit returns baseEntries with the entry called name changed by fn.
func edit(name string, fn func(e *it.Entry)) []it.Entry {
	es := baseEntries()
	for i := range es {
		if es[i].Header.Name == name {
			fn(&es[i])
		}
	}
	return es
}

func baseImage() it.Image {
	return it.Image{Layers: []it.Layer{
		{Entries: []it.Entry{it.Dir("var/"), it.File("var/base", "base layer\n")}},
		{Entries: baseEntries()},
	}}
}

// withEntries is baseImage with its second layer's entries replaced.
func withEntries(es []it.Entry) it.Image {
	img := baseImage()
	img.Layers[1].Entries = es
	return img
}

func single(img it.Image) it.Index { return it.Index{Images: []it.Image{img}} }

func diff(t *testing.T, a, b it.Index, opts ...func(*imagediff.Options)) *imagediff.Result {
	t.Helper()
	var o imagediff.Options
	for _, fn := range opts {
		fn(&o)
	}
	res, err := imagediff.Diff(context.Background(), it.MustBuild(a), it.MustBuild(b), o)
	if err != nil {
		t.Fatalf("Diff: %v", err)
	}
	return res
}

type located struct {
	where string
	d     *imagediff.Difference
}

func all(res *imagediff.Result) []located {
	var out []located
	res.Walk(func(path []string, d *imagediff.Difference) {
		out = append(out, located{strings.Join(path, " › "), d})
	})
	return out
}

// find returns the differences of kind k whose field (or entry path) is f.
func find(res *imagediff.Result, k imagediff.Kind, f string) []*imagediff.Difference {
	var out []*imagediff.Difference
	for _, l := range all(res) {
		if l.d.Kind == k && (f == "" || l.d.Field == f || l.d.Path == f) {
			out = append(out, l.d)
		}
	}
	return out
}

// mustFind returns the first difference of kind k in f, the semantic one
// first when both views name it (a layer's entry, strict, and the applied
// filesystem's path, semantic).
func mustFind(t *testing.T, res *imagediff.Result, k imagediff.Kind, f string) *imagediff.Difference {
	t.Helper()
	ds := find(res, k, f)
	if len(ds) == 0 {
		t.Fatalf("no %s difference in %q; have:\n%s", k, f, dump(res))
	}
	for _, d := range ds {
		if d.Semantic {
			return d
		}
	}
	return ds[0]
}

func dump(res *imagediff.Result) string {
	var b strings.Builder
	for _, l := range all(res) {
		b.WriteString("  " + l.where + ": " + string(l.d.Kind) + " " + l.d.Field + " " + l.d.Path)
		if l.d.Semantic {
			b.WriteString(" (semantic)")
		}
		if len(l.d.Hints) > 0 {
			b.WriteString(" " + strings.Join(l.d.Hints, ","))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func hasHint(d *imagediff.Difference, id string) bool {
	for _, h := range d.Hints {
		if h == id {
			return true
		}
	}
	return false
}

// verdicts checks both verdicts.
func verdicts(t *testing.T, res *imagediff.Result, equal, semanticEqual bool) {
	t.Helper()
	if res.Equal != equal || res.SemanticEqual != semanticEqual {
		t.Fatalf("verdicts: equal=%v semanticEqual=%v, want %v %v; summary %q\n%s",
			res.Equal, res.SemanticEqual, equal, semanticEqual, res.Summary(), dump(res))
	}
}

var later = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

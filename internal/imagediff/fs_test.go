package imagediff_test

import (
	"archive/tar"
	"context"
	"io"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/repro-matrix/repro-matrix/internal/imagediff"
	it "github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

func layered(layers ...[]it.Entry) it.Index {
	var img it.Image
	for _, es := range layers {
		img.Layers = append(img.Layers, it.Layer{Entries: es})
	}
	return single(img)
}

// The applied filesystem (issue 10, point 1): what a container gets, not
// how the layers spell it.
func TestAppliedFilesystem(t *testing.T) {
	k := []it.Entry{it.Dir("k/"), it.File("k/t", "target")}
	cases := []struct {
		name          string
		a, b          it.Index
		semanticEqual bool
		kind          imagediff.Kind
		path          string
	}{
		{name: "hard links as a chain or a star",
			a: layered(append(k[:2:2], it.Hardlink("k/l1", "k/t"), it.Hardlink("k/l2", "k/l1"))),
			b: layered(append(k[:2:2], it.Hardlink("k/l1", "k/t"), it.Hardlink("k/l2", "k/t"))), semanticEqual: true},
		{name: "a hard link before its target",
			a: layered(append(k[:2:2], it.Hardlink("k/l1", "k/t"))),
			b: layered([]it.Entry{it.Dir("k/"), it.Hardlink("k/l1", "k/t"), it.File("k/t", "target")}), semanticEqual: true},
		{name: "a hard link or a copy",
			a: layered(append(k[:2:2], it.Hardlink("k/l1", "k/t"))),
			b: layered(append(k[:2:2], it.File("k/l1", "target"))), kind: imagediff.KindHardLinks, path: "/k/l1"},
		{name: "a path twice in one layer: the last copy wins",
			a: layered([]it.Entry{it.File("f", "one"), it.File("f", "two")}),
			b: layered([]it.Entry{it.File("f", "two")}), semanticEqual: true},
		{name: "the shadowed first copy is no part of it",
			a: layered([]it.Entry{it.File("f", "one"), it.File("f", "two")}),
			b: layered([]it.Entry{it.File("f", "one")}), kind: imagediff.KindContent, path: "/f"},
		{name: "whiteout then the folder again",
			a: layered([]it.Entry{it.Dir("d/"), it.File("d/x", "x")}, []it.Entry{it.File(".wh.d", ""), it.Dir("d/"), it.File("d/y", "y")}),
			b: layered([]it.Entry{it.Dir("d/"), it.File("d/y", "y")}), semanticEqual: true},
		{name: "opaque keeps its own layer's entries",
			a: layered([]it.Entry{it.Dir("d/"), it.File("d/x", "x")}, []it.Entry{it.Dir("d/"), it.File("d/y", "y"), it.File("d/.wh..wh..opq", "")}),
			b: layered([]it.Entry{it.Dir("d/"), it.File("d/y", "y")}), semanticEqual: true},
		{name: "a file over a folder takes its children",
			a: layered([]it.Entry{it.Dir("d/"), it.File("d/x", "x")}, []it.Entry{it.File("d", "file")}),
			b: layered([]it.Entry{it.File("d", "file")}), semanticEqual: true},
		{name: "a parent folder listed or not",
			a: layered([]it.Entry{it.Dir("d/"), it.File("d/x", "x")}),
			b: layered([]it.Entry{it.File("d/x", "x")}), semanticEqual: true},
		{name: "a parent folder listed with another mode",
			a: layered([]it.Entry{it.Dir("d/").With(func(h *tar.Header) { h.Mode = 0o700 }), it.File("d/x", "x")}),
			b: layered([]it.Entry{it.File("d/x", "x")}), kind: imagediff.KindMode, path: "/d"},
		{name: "a later layer's mode",
			a: layered([]it.Entry{it.File("f", "x")}, []it.Entry{it.File("f", "x").With(func(h *tar.Header) { h.Mode = 0o600 })}),
			b: layered([]it.Entry{it.File("f", "x")}), kind: imagediff.KindMode, path: "/f"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := diff(t, tc.a, tc.b)
			verdicts(t, res, false, tc.semanticEqual)
			if tc.kind != "" {
				if d := mustFind(t, res, tc.kind, tc.path); !d.Semantic {
					t.Fatalf("%+v", d)
				}
			}
		})
	}
}

// countingSource counts the times each blob is opened.
type countingSource struct {
	imagediff.Source
	opened map[digest.Digest]int
}

func (c *countingSource) Blob(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	c.opened[desc.Digest]++
	return c.Source.Blob(ctx, desc)
}

// TestLayersStreamedOnce: a layer the strict view streams feeds the applied
// filesystem on the way; it is not read a second time.
func TestLayersStreamedOnce(t *testing.T) {
	a := &countingSource{Source: it.MustBuild(single(baseImage())), opened: map[digest.Digest]int{}}
	b := &countingSource{Source: it.MustBuild(single(withEntries(edit("etc/hostname", func(e *it.Entry) { e.Body = []byte("BOX\n") })))),
		opened: map[digest.Digest]int{}}
	res, err := imagediff.Diff(context.Background(), a, b, imagediff.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustFind(t, res, imagediff.KindContent, "/etc/hostname")
	for _, s := range []*countingSource{a, b} {
		for dg, n := range s.opened {
			if n > 1 {
				t.Errorf("blob %s opened %d times", dg, n)
			}
		}
	}
}

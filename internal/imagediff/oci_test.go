package imagediff_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/repro-matrix/repro-matrix/internal/imagediff"
	"github.com/repro-matrix/repro-matrix/internal/oci"
	it "github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

// openOnDisk writes s to disk, as a tarball or a layout directory, and
// opens it with the oci package, as the CLI does.
func openOnDisk(t *testing.T, s *it.Store, asTar bool) *oci.Layout {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "layout")
	var err error
	if asTar {
		p = filepath.Join(dir, "image.tar")
		err = s.WriteTar(p)
	} else {
		err = s.WriteLayout(p)
	}
	if err != nil {
		t.Fatal(err)
	}
	l, err := oci.Open(p)
	if err != nil {
		t.Fatalf("oci.Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestThroughOCILayouts diffs every hint scenario twice, once from memory
// and once from files on disk read by internal/oci (a tarball against a
// layout directory), and expects the same tree, verdicts and hints.
func TestThroughOCILayouts(t *testing.T) {
	cases := hintCases()
	var ids []string
	for id := range cases {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		for _, c := range cases[id] {
			t.Run(id+"/"+c.name, func(t *testing.T) {
				var o imagediff.Options
				if c.opts != nil {
					c.opts(&o)
				}
				sa, sb := it.MustBuild(c.a), it.MustBuild(c.b)
				mem, err := imagediff.Diff(context.Background(), sa, sb, o)
				if err != nil {
					t.Fatal(err)
				}
				disk, err := imagediff.Diff(context.Background(), openOnDisk(t, sa, true), openOnDisk(t, sb, false), o)
				if err != nil {
					t.Fatal(err)
				}
				jm, _ := json.Marshal(mem)
				jd, _ := json.Marshal(disk)
				if string(jm) != string(jd) {
					t.Fatalf("results differ:\nmemory: %s\ndisk:   %s", jm, jd)
				}
			})
		}
	}
}

func TestThroughOCIDamagedLayer(t *testing.T) {
	a := baseImage()
	b := baseImage()
	b.Layers[1].Entries = append(baseEntries(), it.File("x", "y"))
	sb := it.MustBuild(single(b))
	dir := t.TempDir()
	p := filepath.Join(dir, "layout")
	if err := sb.WriteLayout(p); err != nil {
		t.Fatal(err)
	}
	// Flip a byte in the layer blob: oci streams it and must refuse it.
	layer := sb.ParsedManifest(0).Layers[1].Digest
	bp := filepath.Join(p, "blobs", "sha256", layer.Encoded())
	raw, err := os.ReadFile(bp)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0xff
	if err := os.WriteFile(bp, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	lb, err := oci.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	_, err = imagediff.Diff(context.Background(), openOnDisk(t, it.MustBuild(single(a)), true), lb, imagediff.Options{})
	if err == nil || !errors.Is(err, imagediff.ErrInput) {
		t.Fatalf("want an input error, got %v", err)
	}
	if !errors.Is(err, oci.ErrDigestMismatch) && !errors.Is(err, imagediff.ErrLayer) {
		t.Fatalf("want a digest mismatch or unreadable layer, got %v", err)
	}
}

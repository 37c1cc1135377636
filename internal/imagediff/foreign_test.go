package imagediff

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/repro-matrix/repro-matrix/internal/oci"
	"github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

// foreignAbsent is an image whose first layer is non-distributable, with
// base in it, and whose blob is left out, as the OCI layout allows.
func foreignAbsent(t *testing.T, base string) *oci.Layout {
	t.Helper()
	img := ocitest.Image{Layers: []ocitest.Layer{
		{Entries: []ocitest.Entry{ocitest.File("base", base)}, MediaType: ocispec.MediaTypeImageLayerNonDistributableGzip}, //nolint:staticcheck
		{Entries: []ocitest.Entry{ocitest.File("app", "app")}},
	}}
	l := ocitest.MustBuildLayout(t, ocitest.Options{Images: []ocitest.Image{img}})
	p := filepath.Join(t.TempDir(), "image.tar")
	if err := os.WriteFile(p, l.Remove(ocitest.BlobPath(l.Layers[0].Digest)).Tar(), 0o644); err != nil {
		t.Fatal(err)
	}
	lay, err := oci.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lay.Close() })
	return lay
}

// TestForeignLayerAbsentNotComparable: two images whose absent
// non-distributable layers differ are verified (as analyze accepts them),
// and the pair is reported as not comparable, by descriptor, not as an
// error; the same image is identical to itself.
func TestForeignLayerAbsentNotComparable(t *testing.T) {
	ctx := context.Background()
	a, b := foreignAbsent(t, "base one"), foreignAbsent(t, "base two")
	res, err := Diff(ctx, a, b, Options{})
	if err != nil {
		t.Fatalf("Diff: %v", err)
	}
	var out bytes.Buffer
	if err := res.WriteTextOptions(&out, TextOptions{Max: math.MaxInt}); err != nil {
		t.Fatal(err)
	}
	if res.EqualUnder(true) || !strings.Contains(out.String(), "not comparable: a non-distributable layer absent from image A and B") {
		t.Errorf("want a semantic 'not comparable' difference:\n%s", out.String())
	}
	if res, err := Diff(ctx, a, a, Options{}); err != nil || !res.EqualUnder(false) {
		t.Errorf("A vs A: %v", err)
	}
}

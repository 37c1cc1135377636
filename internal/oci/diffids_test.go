package oci

import (
	"context"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

// diffIDImage is one image of tar layers in each compression, its config's
// diff_ids passed through edit.
func diffIDImage(t *testing.T, edit func(ids []any) []any) *ocitest.Layout {
	t.Helper()
	var layers []ocitest.Layer
	for i, c := range []ocitest.Compression{ocitest.Gzip, ocitest.Zstd, ocitest.Uncompressed} {
		layers = append(layers, ocitest.Layer{Compression: c, Entries: []ocitest.Entry{ocitest.File("f"+string(rune('0'+i)), strings.Repeat("x", 100*i))}})
	}
	img := ocitest.Image{Layers: layers, Config: func(c map[string]any) {
		rootfs := c["rootfs"].(map[string]any)
		rootfs["diff_ids"] = edit(rootfs["diff_ids"].([]any))
	}}
	return ocitest.MustBuildLayout(t, ocitest.Options{Images: []ocitest.Image{img}})
}

func analyzeOpts(t *testing.T, l *ocitest.Layout, o Options) (*Analysis, error) {
	t.Helper()
	return AnalyzeWith(context.Background(), writeTemp(t, "image.tar", l.Tar()), o)
}

func TestDiffIDsSound(t *testing.T) {
	l := diffIDImage(t, func(ids []any) []any { return ids })
	for _, verify := range []bool{false, true} {
		if _, err := analyzeOpts(t, l, Options{VerifyDiffIDs: verify}); err != nil {
			t.Errorf("verify=%v: %v", verify, err)
		}
	}
}

// TestDiffIDsCount: one diff_id per layer, checked always.
func TestDiffIDsCount(t *testing.T) {
	for name, edit := range map[string]func([]any) []any{
		"one fewer": func(ids []any) []any { return ids[:len(ids)-1] },
		"one more":  func(ids []any) []any { return append(ids, string(digest.FromString("extra"))) },
		"none":      func([]any) []any { return nil },
	} {
		t.Run(name, func(t *testing.T) {
			l := diffIDImage(t, edit)
			_, err := analyzeOpts(t, l, Options{})
			wantErr(t, err, ErrDiffIDMismatch, l.Configs[0].Digest.String(), l.Manifests[0].Digest.String(), "3 layers")
		})
	}
}

// TestDiffIDsValue: a diff_id that is not its layer's uncompressed digest
// passes the count, and is found by VerifyDiffIDs, naming the layer.
func TestDiffIDsValue(t *testing.T) {
	wrong := digest.FromString("not the layer")
	for i := range 3 {
		l := diffIDImage(t, func(ids []any) []any { ids[i] = string(wrong); return ids })
		if _, err := analyzeOpts(t, l, Options{}); err != nil {
			t.Fatalf("layer %d, without VerifyDiffIDs: %v", i, err)
		}
		_, err := analyzeOpts(t, l, Options{VerifyDiffIDs: true})
		wantErr(t, err, ErrDiffIDMismatch, l.Layers[i].Digest.String(), wrong.String(), l.Configs[0].Digest.String())
	}
}

// TestDiffIDsUnpackCap: a layer decompressed for its diff_id is capped.
func TestDiffIDsUnpackCap(t *testing.T) {
	big := ocitest.Layer{Entries: []ocitest.Entry{ocitest.File("zeros", strings.Repeat("\x00", 2<<20))}}
	l := ocitest.MustBuildLayout(t, ocitest.Options{Images: []ocitest.Image{{Layers: []ocitest.Layer{big}}}})
	_, err := analyzeOpts(t, l, Options{VerifyDiffIDs: true, Limits: Limits{MaxUnpackedSize: 1 << 20}})
	wantLimit(t, err, "unpacked size", "--max-unpacked-size")
	if _, err := analyzeOpts(t, l, Options{VerifyDiffIDs: true}); err != nil {
		t.Errorf("default cap: %v", err)
	}
}

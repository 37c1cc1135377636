package imagediff

import (
	"archive/tar"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestAlignLayers(t *testing.T) {
	cases := []struct {
		a, b string
		want string
	}{
		{"abc", "abc", "0-0 1-1 2-2"},
		{"abc", "xyz", "0-0 1-1 2-2"},           // equal counts: by position
		{"abc", "abxc", "0-0 1-1 _-2 2-3"},      // one inserted
		{"abxc", "abc", "0-0 1-1 2-_ 3-2"},      // one removed
		{"axc", "aybzc", "0-0 1-1 _-2 _-3 2-4"}, // x paired with y in the gap
		{"ab", "", "0-_ 1-_"},
		{"", "ab", "_-0 _-1"},
	}
	for _, tc := range cases {
		var parts []string
		for _, p := range alignLayers(ids(tc.a), ids(tc.b)) {
			f := func(i int) string {
				if i < 0 {
					return "_"
				}
				return fmt.Sprint(i)
			}
			parts = append(parts, f(p.a)+"-"+f(p.b))
		}
		if got := strings.Join(parts, " "); got != tc.want {
			t.Errorf("%q vs %q: %s, want %s", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestCanonName(t *testing.T) {
	for in, want := range map[string]string{
		"etc/passwd": "etc/passwd", "./etc/passwd": "etc/passwd", "/etc/passwd": "etc/passwd",
		"etc/": "etc", "./": ".", "/": ".", ".//./etc": "etc", "a/../b": "b",
	} {
		if got := canonName(in); got != want {
			t.Errorf("canonName(%q) = %q, want %q", in, got, want)
		}
	}
	if displayPath(".") != "/" || displayPath("etc") != "/etc" {
		t.Error("displayPath")
	}
}

func TestShadowNote(t *testing.T) {
	a := "root:*:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\n"
	cases := map[string]string{
		"root:*:19001:0:99999:7:::\nbin:*:19001:0:99999:7:::\n":   "only the last-change day differs, on 2 accounts (root: 19000 vs 19001)",
		"root:!:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\n":   "other fields differ too (root, field 2)",
		"root:*:19000:0:99999:7:::\n":                             "other fields differ too: 2 vs 1 accounts",
		"root:*:19000:0:99999:7:::\r\nbin:*:19000:0:99999:7:::\n": "other fields differ too (root, field 9)",
	}
	for b, want := range cases {
		if got := shadowNote([]byte(a), []byte(b)); got != want {
			t.Errorf("%q: %q, want %q", b, got, want)
		}
	}
}

func TestRelateMediaTypes(t *testing.T) {
	cases := []struct {
		a, b string
		want mediaTypeRelation
	}{
		{string(types.DockerManifestSchema2), ocispec.MediaTypeImageManifest, mtFlavour},
		{string(types.DockerManifestList), ocispec.MediaTypeImageIndex, mtFlavour},
		{string(types.DockerConfigJSON), ocispec.MediaTypeImageConfig, mtFlavour},
		{string(types.DockerLayer), ocispec.MediaTypeImageLayerGzip, mtFlavour},
		{string(types.DockerUncompressedLayer), ocispec.MediaTypeImageLayer, mtFlavour},
		{string(types.DockerForeignLayer), ocispec.MediaTypeImageLayerNonDistributableGzip, mtFlavour}, //nolint:staticcheck
		{ocispec.MediaTypeImageLayerGzip, ocispec.MediaTypeImageLayerZstd, mtCompression},
		{string(types.DockerLayer), ocispec.MediaTypeImageLayer, mtCompression},
		{ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex, mtUnrelated},
		{ocispec.MediaTypeImageLayerGzip, "application/vnd.in-toto+json", mtUnrelated},
		{string(types.DockerForeignLayer), ocispec.MediaTypeImageLayerGzip, mtUnrelated},
	}
	for _, tc := range cases {
		if got := relateMediaTypes(tc.a, tc.b); got != tc.want {
			t.Errorf("%s vs %s: %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	if mediaTypeSemantic(string(types.DockerManifestSchema2), ocispec.MediaTypeImageManifest) || mediaTypeSemantic("", ocispec.MediaTypeImageIndex) {
		t.Error("flavour and absence are not semantic")
	}
	if !mediaTypeSemantic(ocispec.MediaTypeImageLayerGzip, "application/vnd.in-toto+json") {
		t.Error("a layer that is not a layer is semantic")
	}
}

func TestWalkJSON(t *testing.T) {
	a := map[string]any{
		"config":  map[string]any{"Env": []any{"A=1", "B=2"}, "Cmd": []any{"x"}},
		"history": []any{map[string]any{"created_by": "a"}},
		"same":    "s",
	}
	b := map[string]any{
		"config":  map[string]any{"Env": []any{"A=1", "B=3", "C=4"}, "Cmd": []any{"y"}, "Labels": map[string]any{"k": "v"}},
		"history": []any{map[string]any{"created_by": "b"}, map[string]any{"created_by": "c"}},
		"same":    "s",
	}
	var got []string
	walkJSON("", a, b, func(f string, x, y any) { got = append(got, fmt.Sprintf("%s=%v|%v", f, x, y)) })
	want := []string{
		"config.Cmd=[x]|[y]",
		"config.Env[B]=2|3",
		"config.Env[C]=<nil>|4",
		"config.Labels[k]=<nil>|v",
		"history.length=1|2",
		"history[0].created_by=a|b",
		"history[1]=<nil>|map[created_by:c]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestFmtValue(t *testing.T) {
	cases := []struct {
		v    any
		k    Kind
		want string
	}{
		{nil, KindField, "(none)"},
		{"sha256:" + strings.Repeat("ab", 32), KindField, "sha256:abababababab"},
		{"two words", KindField, `"two words"`},
		{"", KindField, `""`},
		{"\x01\x00", KindXattr, `"\x01\x00"`},
		{ocispec.MediaTypeImageManifest, KindMediaType, "oci.image.manifest.v1+json"},
		{[]any{"/bin/sh", "-c"}, KindField, `["/bin/sh","-c"]`},
		{strings.Repeat("x", 100), KindField, strings.Repeat("x", 71) + "…"},
		{EntrySummary{Type: "file", Mode: "0644", Size: 2048}, KindMissing, "file 0644 2.0 KiB"},
	}
	for _, tc := range cases {
		if got := fmtValue(tc.v, tc.k); got != tc.want {
			t.Errorf("fmtValue(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestFormatMix(t *testing.T) {
	got := formatMix(map[tar.Format]int{tar.FormatPAX: 2, tar.FormatUSTAR: 5, tar.FormatGNU: 2})
	if got != "USTAR ×5, PAX ×2, GNU ×2" {
		t.Fatal(got)
	}
}

func TestVolatilePaths(t *testing.T) {
	for _, p := range []string{"/var/log/apt/term.log", "/var/cache/ldconfig/aux-cache", "/a/b.pyc",
		"/usr/lib/python3/__pycache__/x.cpython-312.opt-1.pyc", "/etc/machine-id", "/var/lib/dpkg/status-old",
		"/var/cache/debconf/templates.dat-old"} {
		if !isVolatilePath(p) {
			t.Errorf("%s should be volatile", p)
		}
	}
	for _, p := range []string{"/etc/passwd", "/var/lib/dpkg/status", "/usr/bin/python3", "/var/logs"} {
		if isVolatilePath(p) {
			t.Errorf("%s should not be volatile", p)
		}
	}
}

// ids turns each letter of s into a stand-in layer id.
func ids(s string) []digest.Digest {
	var out []digest.Digest
	for _, c := range strings.Split(s, "") {
		out = append(out, digest.Digest(c))
	}
	return out
}

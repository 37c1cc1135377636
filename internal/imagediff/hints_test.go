package imagediff_test

import (
	"archive/tar"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/repro-matrix/repro-matrix/internal/imagediff"
	it "github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

type hintCase struct {
	name string
	a, b it.Index
	opts func(*imagediff.Options)
}

func hintCases() map[string][]hintCase {
	pair := func(name string, b it.Image) hintCase {
		return hintCase{name: name, a: single(baseImage()), b: single(b)}
	}
	entries := func(name string, es []it.Entry) hintCase { return pair(name, withEntries(es)) }
	img := func(fn func(i *it.Image)) it.Image {
		i := baseImage()
		fn(&i)
		return i
	}
	mtime := func(t time.Time) func(e *it.Entry) { return func(e *it.Entry) { e.Header.ModTime = t } }
	old1, old2 := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2023, 3, 1, 0, 0, 0, 0, time.UTC)
	volatile := func(p string) hintCase {
		return hintCase{name: p,
			a: single(withEntries(append(baseEntries(), it.File(p, "one")))),
			b: single(withEntries(append(baseEntries(), it.File(p, "two"))))}
	}
	epoch := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	return map[string][]hintCase{
		"oci-mediatypes":    {pair("docker flavour", img(func(i *it.Image) { i.Docker = true }))},
		"layer-compression": {pair("gzip level", img(func(i *it.Image) { i.Layers[1].GzipLevel = 1 }))},
		"zstd-chunked": {pair("toc annotations", img(func(i *it.Image) {
			i.Layers[1].Annotations = map[string]string{"io.github.containers.zstd-chunked.manifest-position": "297:79:105:1"}
		}))},
		"platform-spelling": {{name: "arm64/v8",
			a: single(img(func(i *it.Image) { i.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"} })),
			b: single(img(func(i *it.Image) { i.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm64"} }))}},
		"rewrite-timestamp": {pair("annotation", img(func(i *it.Image) {
			i.Layers[1].Annotations = map[string]string{"buildkit/rewritten-timestamp": "1704067200"}
			i.Layers[1].Entries = edit("etc/passwd", mtime(later))
		}))},
		"mtime-after-epoch": {
			entries("created as epoch", edit("etc/passwd", mtime(later))),
			{name: "epoch option", a: single(baseImage()), b: single(withEntries(edit("etc/passwd", mtime(epoch.Add(time.Hour))))),
				opts: func(o *imagediff.Options) { o.SourceDateEpoch = &epoch }},
		},
		"whiteout-mtime": {{name: "whiteout at build time",
			a: single(withEntries(append(baseEntries(), it.File("var/.wh.base", "")))),
			b: single(withEntries(append(baseEntries(), it.File("var/.wh.base", "").With(func(h *tar.Header) { h.ModTime = later }))))}},
		"mtime-from-source": {{name: "both older",
			a: single(withEntries(edit("etc/passwd", mtime(old1)))),
			b: single(withEntries(edit("etc/passwd", mtime(old2))))}},
		"shadow-lastchange": {entries("day", edit("etc/shadow", func(e *it.Entry) {
			e.Body = []byte("root:*:19800:0:99999:7:::\ndaemon:*:19800:0:99999:7:::\n")
		}))},
		"created-epoch": {pair("created", img(func(i *it.Image) {
			i.Config = func(c map[string]any) { c["created"] = later.Format(time.RFC3339) }
		}))},
		"history-created-by": {pair("created_by", img(func(i *it.Image) {
			i.Config = func(c map[string]any) {
				c["history"].([]any)[0].(map[string]any)["created_by"] = "/bin/sh -c #(nop) ADD base"
			}
		}))},
		"build-annotation": {pair("oci annotation", img(func(i *it.Image) {
			i.ManifestAnnotations = map[string]string{"org.opencontainers.image.revision": "abc123"}
		})), pair("buildkit annotation", img(func(i *it.Image) {
			i.ManifestAnnotations = map[string]string{"moby.buildkit.frontend": "dockerfile.v0"}
		}))},
		"base-image": {{name: "base digest",
			a: single(img(func(i *it.Image) {
				i.ManifestAnnotations = map[string]string{"org.opencontainers.image.base.digest": "sha256:" + strings.Repeat("1", 64)}
			})),
			b: single(img(func(i *it.Image) {
				i.ManifestAnnotations = map[string]string{"org.opencontainers.image.base.digest": "sha256:" + strings.Repeat("2", 64)}
			}))}},
		"image-name": {pair("ref name", img(func(i *it.Image) {
			i.DescriptorAnnotations = map[string]string{"org.opencontainers.image.ref.name": "latest"}
		}))},
		"entry-order": {entries("reversed", func() []it.Entry {
			es := baseEntries()
			es[1], es[2] = es[2], es[1]
			return es
		}())},
		"tar-format": {pair("gnu", img(func(i *it.Image) { i.Layers[1].Format = tar.FormatGNU }))},
		"volatile-path": {
			volatile("var/cache/ldconfig/aux-cache"),
			volatile("var/log/apt/history.log"),
			volatile("usr/lib/python3/dist-packages/__pycache__/x.cpython-311.pyc"),
			volatile("etc/machine-id"),
			volatile("var/lib/dpkg/status-old"),
		},
		"mode-type-bits": {entries("S_IFREG", edit("etc/passwd", func(e *it.Entry) { e.Header.Mode |= 0o100000 }))},
		"owner-names":    {entries("uname", edit("etc/passwd", func(e *it.Entry) { e.Header.Uname = "root" }))},
		"name-spelling":  {entries("dot slash", edit("etc/passwd", func(e *it.Entry) { e.Header.Name = "./etc/passwd" }))},
		"builder-metadata": {pair("docker_version", img(func(i *it.Image) {
			i.Config = func(c map[string]any) { c["docker_version"] = "20.10.24" }
		}))},
		"attestation": {{name: "provenance",
			a: it.Index{Images: []it.Image{baseImage(), {Attestation: true, Layers: []it.Layer{{Raw: it.Bytes([]byte(`{"t":1}`)), MediaType: "application/vnd.in-toto+json"}}}}},
			b: it.Index{Images: []it.Image{baseImage(), {Attestation: true, Layers: []it.Layer{{Raw: it.Bytes([]byte(`{"t":2}`)), MediaType: "application/vnd.in-toto+json"}}}}}}},
		"encoding": {{name: "json whitespace",
			a: single(it.Image{ConfigRaw: []byte(`{"os":"linux","architecture":"amd64","rootfs":{"type":"layers","diff_ids":[]}}`)}),
			b: single(it.Image{ConfigRaw: []byte(`{"os":"linux","architecture":"amd64","rootfs":{"type":"layers","diff_ids":[]}}` + "\n")})}},
	}
}

// TestEveryHintRule checks that each rule of the table fires on a case
// made for it, and that every rule has such a case.
func TestEveryHintRule(t *testing.T) {
	cases := hintCases()
	for _, rule := range imagediff.HintRules() {
		if rule.Cause == "" || rule.Fix == "" {
			t.Errorf("rule %s lacks a cause or a fix", rule.ID)
		}
		cs := cases[rule.ID]
		if len(cs) == 0 {
			t.Errorf("no test case for hint rule %s", rule.ID)
			continue
		}
		for _, c := range cs {
			t.Run(rule.ID+"/"+c.name, func(t *testing.T) {
				var opts []func(*imagediff.Options)
				if c.opts != nil {
					opts = append(opts, c.opts)
				}
				res := diff(t, c.a, c.b, opts...)
				var h *imagediff.Hint
				for i := range res.Hints() {
					if res.Hints()[i].ID == rule.ID {
						h = &res.Hints()[i]
					}
				}
				if h == nil || h.Count == 0 || h.Example == "" {
					t.Fatalf("hint %s not matched (%+v); differences:\n%s", rule.ID, res.Hints(), dump(res))
				}
				found := false
				for _, l := range all(res) {
					found = found || hasHint(l.d, rule.ID)
				}
				if !found {
					t.Fatalf("no difference carries hint %s", rule.ID)
				}
			})
		}
	}
	for id := range cases {
		known := false
		for _, r := range imagediff.HintRules() {
			known = known || r.ID == id
		}
		if !known {
			t.Errorf("test cases for unknown rule %s", id)
		}
	}
}

func TestHintsDoNotOverreach(t *testing.T) {
	t.Run("shadow with other fields", func(t *testing.T) {
		res := diff(t, single(baseImage()), single(withEntries(edit("etc/shadow", func(e *it.Entry) {
			e.Body = []byte("root:$6$hash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n")
		}))))
		d := mustFind(t, res, imagediff.KindContent, "/etc/shadow")
		if hasHint(d, "shadow-lastchange") {
			t.Fatalf("%+v", d)
		}
	})
	t.Run("not volatile", func(t *testing.T) {
		res := diff(t, single(baseImage()), single(withEntries(edit("etc/passwd", func(e *it.Entry) { e.Body = []byte("x") }))))
		if d := mustFind(t, res, imagediff.KindContent, "/etc/passwd"); len(d.Hints) != 0 {
			t.Fatalf("%+v", d)
		}
	})
	t.Run("mtime newer than the option's epoch only", func(t *testing.T) {
		epoch := later.Add(time.Hour)
		res := diff(t, single(baseImage()), single(withEntries(edit("etc/passwd", func(e *it.Entry) { e.Header.ModTime = later }))),
			func(o *imagediff.Options) { o.SourceDateEpoch = &epoch })
		d := mustFind(t, res, imagediff.KindMtime, "/etc/passwd")
		if hasHint(d, "mtime-after-epoch") || !hasHint(d, "mtime-from-source") {
			t.Fatalf("%+v", d)
		}
		if res.EpochFrom != "option" || !res.SourceDateEpoch.Equal(epoch) {
			t.Fatalf("epoch %v from %q", res.SourceDateEpoch, res.EpochFrom)
		}
	})
	t.Run("annotation on both sides is not build-annotation", func(t *testing.T) {
		a, b := baseImage(), baseImage()
		a.ManifestAnnotations = map[string]string{"org.opencontainers.image.revision": "1"}
		b.ManifestAnnotations = map[string]string{"org.opencontainers.image.revision": "2"}
		res := diff(t, single(a), single(b))
		if d := mustFind(t, res, imagediff.KindAnnotation, "annotations[org.opencontainers.image.revision]"); hasHint(d, "build-annotation") {
			t.Fatalf("%+v", d)
		}
	})
}

func TestHintsSortedByCount(t *testing.T) {
	es := baseEntries()
	for i := range es {
		es[i].Header.Uname = "root"
	}
	b := withEntries(es)
	b.Docker = true
	res := diff(t, single(baseImage()), single(b))
	hs := res.Hints()
	if len(hs) < 2 || hs[0].ID != "owner-names" || hs[0].Count != len(es) {
		t.Fatalf("%+v", hs)
	}
	for i := 1; i < len(hs); i++ {
		if hs[i].Count > hs[i-1].Count {
			t.Fatalf("not sorted: %+v", hs)
		}
	}
}

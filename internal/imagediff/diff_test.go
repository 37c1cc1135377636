package imagediff_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/repro-matrix/repro-matrix/internal/imagediff"
	it "github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

func TestIdentical(t *testing.T) {
	res := diff(t, single(baseImage()), single(baseImage()))
	verdicts(t, res, true, true)
	if res.Tree != nil || res.Summary() != "identical" {
		t.Fatalf("tree %v, summary %q", res.Tree, res.Summary())
	}
}

func TestIdenticalSourcesSkipBlobs(t *testing.T) {
	a, b := it.MustBuild(single(baseImage())), it.MustBuild(single(baseImage()))
	res, err := imagediff.Diff(context.Background(), a, b, imagediff.Options{})
	if err != nil {
		t.Fatal(err)
	}
	verdicts(t, res, true, true)
	if len(a.Opened)+len(b.Opened) != 0 {
		t.Fatalf("equal index digests should end the comparison; blobs read: %v %v", a.Opened, b.Opened)
	}
}

func ptr[T any](v T) *T { return &v }

func TestIndexDifferences(t *testing.T) {
	t.Run("media type", func(t *testing.T) {
		b := single(baseImage())
		b.MediaType = ptr("")
		res := diff(t, single(baseImage()), b)
		d := mustFind(t, res, imagediff.KindMediaType, "mediaType")
		if d.Level != imagediff.LevelIndex || d.A != ocispec.MediaTypeImageIndex || d.B != nil || d.Semantic {
			t.Fatalf("%+v", d)
		}
		verdicts(t, res, false, true)
	})
	t.Run("media type flavour of nested index", func(t *testing.T) {
		a := it.Index{Images: []it.Image{baseImage()}, Nested: true}
		b := it.Index{Images: []it.Image{baseImage()}, Nested: true, Docker: true}
		res := diff(t, a, b)
		d := mustFind(t, res, imagediff.KindMediaType, "indexes[0].mediaType")
		if !hasHint(d, "oci-mediatypes") {
			t.Fatalf("hints %v", d.Hints)
		}
		mustFind(t, res, imagediff.KindMediaType, "indexes[0].descriptor.mediaType") // nested document's own field
		verdicts(t, res, false, true)
	})
	t.Run("annotation", func(t *testing.T) {
		b := single(baseImage())
		b.Annotations = map[string]string{"com.example.team": "repro"}
		res := diff(t, single(baseImage()), b)
		d := mustFind(t, res, imagediff.KindAnnotation, "annotations[com.example.team]")
		if d.A != nil || d.B != "repro" || !d.Semantic {
			t.Fatalf("%+v", d)
		}
		verdicts(t, res, false, false)
	})
	t.Run("created annotation is not semantic", func(t *testing.T) {
		a, b := single(baseImage()), single(baseImage())
		a.Annotations = map[string]string{"org.opencontainers.image.created": "2024-01-01T00:00:00Z"}
		b.Annotations = map[string]string{"org.opencontainers.image.created": "2024-06-01T00:00:00Z"}
		res := diff(t, a, b)
		d := mustFind(t, res, imagediff.KindAnnotation, "annotations[org.opencontainers.image.created]")
		if d.Semantic || !hasHint(d, "created-epoch") {
			t.Fatalf("%+v", d)
		}
	})
	t.Run("platform", func(t *testing.T) {
		ia, ib := baseImage(), baseImage()
		ia.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
		ib.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
		ib.Config = func(c map[string]any) { c["architecture"], c["variant"] = "arm64", "v8" }
		res := diff(t, single(ia), single(ib))
		d := mustFind(t, res, imagediff.KindPlatform, "descriptor.platform")
		if d.A != "linux/amd64" || d.B != "linux/arm64/v8" || !d.Semantic {
			t.Fatalf("%+v", d)
		}
		// Single manifests are paired whatever their platform.
		if n := res.Tree.Children[0]; !strings.Contains(n.Name, "↔") {
			t.Fatalf("manifest node %q", n.Name)
		}
		mustFind(t, res, imagediff.KindField, "architecture")
		mustFind(t, res, imagediff.KindField, "variant")
	})
	t.Run("platform spelled two ways", func(t *testing.T) {
		ia, ib := baseImage(), baseImage()
		ia.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
		ib.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm64"}
		ia.Config = func(c map[string]any) { c["architecture"], c["variant"] = "arm64", "v8" }
		ib.Config = func(c map[string]any) { c["architecture"] = "aarch64" }
		res := diff(t, single(ia), single(ib))
		verdicts(t, res, false, true)
		if res.Tree.Children[0].Name != "linux/arm64" {
			t.Fatalf("manifest node %q", res.Tree.Children[0].Name)
		}
		mustFind(t, res, imagediff.KindPlatform, "descriptor.platform.variant")
		mustFind(t, res, imagediff.KindField, "architecture")
		mustFind(t, res, imagediff.KindField, "variant")
	})
	t.Run("nesting", func(t *testing.T) {
		a := it.Index{Images: []it.Image{baseImage()}}
		b := it.Index{Images: []it.Image{baseImage()}, Nested: true}
		res := diff(t, a, b)
		d := mustFind(t, res, imagediff.KindStructure, "nesting")
		if d.A != "index(1 manifest)" || d.B != "index(index(1 manifest))" || d.Semantic {
			t.Fatalf("%+v", d)
		}
		// The manifests themselves are still paired and equal.
		verdicts(t, res, false, true)
	})
}

func TestManifestPairingByPlatform(t *testing.T) {
	img := func(arch, body string) it.Image {
		i := withEntries(append(baseEntries(), it.File("arch", body)))
		i.Platform = &ocispec.Platform{OS: "linux", Architecture: arch}
		i.Config = func(c map[string]any) { c["architecture"] = arch }
		return i
	}
	// Different order on each side, and a platform only in B.
	a := it.Index{Images: []it.Image{img("amd64", "x86"), img("arm64", "arm")}, Nested: true}
	b := it.Index{Images: []it.Image{img("arm64", "ARM"), img("amd64", "x86"), img("s390x", "z")}, Nested: true}
	res := diff(t, a, b)
	miss := mustFind(t, res, imagediff.KindMissing, "manifests[linux/s390x]")
	if miss.A != nil || miss.B == nil || !miss.Semantic {
		t.Fatalf("%+v", miss)
	}
	// amd64 is equal; arm64 differs in /arch.
	var names []string
	for _, n := range res.Tree.Children {
		names = append(names, n.Name)
	}
	if strings.Join(names, ",") != "index,linux/arm64" {
		t.Fatalf("nodes %v\n%s", names, dump(res))
	}
	mustFind(t, res, imagediff.KindContent, "/arch")
}

func TestManifestDifferences(t *testing.T) {
	t.Run("media type", func(t *testing.T) {
		b := baseImage()
		b.ManifestMediaType = ptr(string(types.DockerManifestSchema2))
		res := diff(t, single(baseImage()), single(b))
		d := mustFind(t, res, imagediff.KindMediaType, "mediaType")
		if d.Level != imagediff.LevelManifest || d.Semantic || !hasHint(d, "oci-mediatypes") {
			t.Fatalf("%+v", d)
		}
		verdicts(t, res, false, true)
	})
	t.Run("annotation", func(t *testing.T) {
		b := baseImage()
		b.ManifestAnnotations = map[string]string{"org.opencontainers.image.source": "https://example.com/repo"}
		res := diff(t, single(baseImage()), single(b))
		d := mustFind(t, res, imagediff.KindAnnotation, "annotations[org.opencontainers.image.source]")
		if d.Level != imagediff.LevelManifest || !hasHint(d, "build-annotation") {
			t.Fatalf("%+v", d)
		}
	})
	t.Run("descriptor annotation", func(t *testing.T) {
		a, b := baseImage(), baseImage()
		a.DescriptorAnnotations = map[string]string{"io.containerd.image.name": "example.com/app:1"}
		b.DescriptorAnnotations = map[string]string{"io.containerd.image.name": "example.com/app:2"}
		res := diff(t, single(a), single(b))
		d := mustFind(t, res, imagediff.KindAnnotation, "descriptor.annotations[io.containerd.image.name]")
		if d.Semantic || !hasHint(d, "image-name") {
			t.Fatalf("%+v", d)
		}
		verdicts(t, res, false, true)
	})
	t.Run("config descriptor", func(t *testing.T) {
		b := baseImage()
		b.Docker = true
		res := diff(t, single(baseImage()), single(b))
		d := mustFind(t, res, imagediff.KindMediaType, "config.mediaType")
		if d.A != ocispec.MediaTypeImageConfig || d.B != string(types.DockerConfigJSON) || d.Semantic {
			t.Fatalf("%+v", d)
		}
		// Docker vs OCI flavour alone is semantically equal.
		verdicts(t, res, false, true)
		if len(find(res, imagediff.KindMediaType, "")) != 5 {
			t.Fatalf("want 5 media type differences (descriptor, manifest, config, 2 layers):\n%s", dump(res))
		}
	})
	t.Run("config digest", func(t *testing.T) {
		b := baseImage()
		b.Config = func(c map[string]any) { c["author"] = "someone" }
		res := diff(t, single(baseImage()), single(b))
		var cfg *imagediff.Node
		for _, c := range res.Tree.Children[0].Children {
			if c.Level == imagediff.LevelConfig {
				cfg = c
			}
		}
		if cfg == nil || cfg.A == cfg.B || !strings.HasPrefix(string(cfg.A), "sha256:") {
			t.Fatalf("config node %+v", cfg)
		}
	})
	t.Run("layer count", func(t *testing.T) {
		b := baseImage()
		b.Layers = append(b.Layers, it.Layer{Entries: []it.Entry{it.File("extra", "x")}})
		res := diff(t, single(baseImage()), single(b))
		d := mustFind(t, res, imagediff.KindLayerCount, "layers")
		if d.A != 2 || d.B != 3 || d.Semantic {
			t.Fatalf("the layer count is strict, the filesystem semantic: %+v", d)
		}
		if e := mustFind(t, res, imagediff.KindMissing, "/extra"); !e.Semantic {
			t.Fatalf("%+v", e)
		}
		m := mustFind(t, res, imagediff.KindMissing, "layers[2]")
		if m.A != nil || m.B == nil {
			t.Fatalf("%+v", m)
		}
		// The two common layers were aligned and found equal.
		if len(find(res, imagediff.KindContent, "")) != 0 {
			t.Fatal(dump(res))
		}
	})
	t.Run("layer inserted in the middle", func(t *testing.T) {
		b := baseImage()
		b.Layers = []it.Layer{b.Layers[0], {Entries: []it.Entry{it.File("mid", "x")}}, b.Layers[1]}
		res := diff(t, single(baseImage()), single(b))
		m := mustFind(t, res, imagediff.KindMissing, "layers[1]")
		if m.B == nil || len(find(res, imagediff.KindMissing, "")) != 2 || !mustFind(t, res, imagediff.KindMissing, "/mid").Semantic {
			t.Fatal(dump(res))
		}
		// No layer pair was compared, so no entry differs.
		if res.Strict.Entry != 0 {
			t.Fatal(dump(res))
		}
	})
}

func TestConfigFields(t *testing.T) {
	cases := []struct {
		name     string
		edit     func(c map[string]any)
		kind     imagediff.Kind
		field    string
		semantic bool
		hint     string
	}{
		{"created", func(c map[string]any) { c["created"] = later.Format("2006-01-02T15:04:05Z") }, imagediff.KindCreated, "created", false, "created-epoch"},
		{"author", func(c map[string]any) { c["author"] = "Jane" }, imagediff.KindField, "author", true, ""},
		{"env changed", func(c map[string]any) { cfg(c)["Env"] = []any{"PATH=/bin"} }, imagediff.KindField, "config.Env[PATH]", true, ""},
		{"env added", func(c map[string]any) {
			cfg(c)["Env"] = append(cfg(c)["Env"].([]any), "LANG=C.UTF-8")
		}, imagediff.KindField, "config.Env[LANG]", true, ""},
		{"cmd", func(c map[string]any) { cfg(c)["Cmd"] = []any{"/bin/bash"} }, imagediff.KindField, "config.Cmd", true, ""},
		{"entrypoint", func(c map[string]any) { cfg(c)["Entrypoint"] = []any{"/init"} }, imagediff.KindField, "config.Entrypoint", true, ""},
		{"labels", func(c map[string]any) { cfg(c)["Labels"] = map[string]any{"org.example.version": "2"} }, imagediff.KindField, "config.Labels[org.example.version]", true, ""},
		{"workdir", func(c map[string]any) { cfg(c)["WorkingDir"] = "/app" }, imagediff.KindField, "config.WorkingDir", true, ""},
		{"user", func(c map[string]any) { cfg(c)["User"] = "1000:1000" }, imagediff.KindField, "config.User", true, ""},
		{"exposed ports", func(c map[string]any) { cfg(c)["ExposedPorts"] = map[string]any{"80/tcp": map[string]any{}} }, imagediff.KindField, "config.ExposedPorts[80/tcp]", true, ""},
		{"history created_by", func(c map[string]any) {
			c["history"].([]any)[1].(map[string]any)["created_by"] = "RUN |0 /bin/sh -c step-1 # buildkit"
		}, imagediff.KindHistory, "history[1].created_by", false, "history-created-by"},
		{"history created", func(c map[string]any) {
			c["history"].([]any)[0].(map[string]any)["created"] = later.Format("2006-01-02T15:04:05Z")
		}, imagediff.KindHistory, "history[0].created", false, "created-epoch"},
		{"history length", func(c map[string]any) {
			c["history"] = append(c["history"].([]any), map[string]any{"created_by": "LABEL x=y", "empty_layer": true})
		}, imagediff.KindHistory, "history.length", false, ""},
		{"diff ids", func(c map[string]any) {
			c["rootfs"].(map[string]any)["diff_ids"].([]any)[0] = "sha256:" + strings.Repeat("0", 64)
		}, imagediff.KindDiffID, "rootfs.diff_ids[0]", false, ""},
		{"rootfs type", func(c map[string]any) { c["rootfs"].(map[string]any)["type"] = "other" }, imagediff.KindField, "rootfs.type", true, ""},
		{"os", func(c map[string]any) { c["os"] = "windows" }, imagediff.KindField, "os", true, ""},
		{"architecture", func(c map[string]any) { c["architecture"] = "arm64" }, imagediff.KindField, "architecture", true, ""},
		{"variant", func(c map[string]any) { c["variant"] = "v7" }, imagediff.KindField, "variant", true, ""},
		{"container_config", func(c map[string]any) {
			c["container_config"] = map[string]any{"Hostname": "4f2a1b"}
		}, imagediff.KindMetadata, "container_config.Hostname", false, "builder-metadata"},
		{"docker_version", func(c map[string]any) { c["docker_version"] = "27.0.1" }, imagediff.KindMetadata, "docker_version", false, "builder-metadata"},
		{"buildinfo", func(c map[string]any) { c["moby.buildkit.buildinfo.v1"] = "eyJmcm9udGVuZCI6ImRvY2tlcmZpbGUudjAifQ==" }, imagediff.KindMetadata, "moby.buildkit.buildinfo.v1", false, "builder-metadata"},
		{"unknown field", func(c map[string]any) { c["x-custom"] = 1 }, imagediff.KindField, "x-custom", true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := baseImage()
			b.Config = tc.edit
			res := diff(t, single(baseImage()), single(b))
			d := mustFind(t, res, tc.kind, tc.field)
			if d.Level != imagediff.LevelConfig || d.Semantic != tc.semantic {
				t.Fatalf("%+v", d)
			}
			if d.A == nil && d.B == nil {
				t.Fatalf("no values: %+v", d)
			}
			if tc.hint != "" && !hasHint(d, tc.hint) {
				t.Fatalf("want hint %s: %+v", tc.hint, d)
			}
			verdicts(t, res, false, !tc.semantic)
			if res.Strict.Config == 0 {
				t.Fatal("config count")
			}
		})
	}
}

func cfg(c map[string]any) map[string]any { return c["config"].(map[string]any) }

func TestConfigEnvOrderOnly(t *testing.T) {
	a, b := baseImage(), baseImage()
	a.Config = func(c map[string]any) { cfg(c)["Env"] = []any{"A=1", "B=2"} }
	b.Config = func(c map[string]any) { cfg(c)["Env"] = []any{"B=2", "A=1"} }
	res := diff(t, single(a), single(b))
	d := mustFind(t, res, imagediff.KindField, "config.Env")
	if len(d.A.([]any)) != 2 {
		t.Fatalf("%+v", d)
	}
}

func TestConfigEncodingOnly(t *testing.T) {
	a, b := it.Image{ConfigRaw: []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)},
		it.Image{ConfigRaw: []byte(`{"os":"linux", "architecture":"amd64", "rootfs":{"type":"layers","diff_ids":[]}}`)}
	res := diff(t, single(a), single(b))
	d := mustFind(t, res, imagediff.KindEncoding, "config")
	if d.Semantic || !hasHint(d, "encoding") {
		t.Fatalf("%+v", d)
	}
	verdicts(t, res, false, true)
}

func TestAttestationsAreNotSemantic(t *testing.T) {
	att := func(body string) it.Image {
		return it.Image{Attestation: true, AttestationFor: 0, Layers: []it.Layer{{
			Raw: it.Bytes([]byte(`{"_type":"https://in-toto.io/Statement/v0.1","predicate":{"buildStartedOn":"` + body + `"}}`)), MediaType: "application/vnd.in-toto+json",
		}}}
	}
	a := it.Index{Images: []it.Image{baseImage(), att("2024-01-01T00:00:00Z")}}
	b := it.Index{Images: []it.Image{baseImage(), att("2024-06-01T00:00:00Z")}}
	res := diff(t, a, b)
	d := mustFind(t, res, imagediff.KindField, "predicate.buildStartedOn")
	if d.Semantic || !hasHint(d, "attestation") {
		t.Fatalf("%+v", d)
	}
	verdicts(t, res, false, true)
	if !strings.HasPrefix(res.Tree.Children[0].Name, "attestation for linux/amd64") {
		t.Fatalf("node %q", res.Tree.Children[0].Name)
	}
	// An attestation on one side only is not semantic either.
	res = diff(t, single(baseImage()), b)
	m := mustFind(t, res, imagediff.KindMissing, "manifests[attestation for linux/amd64]")
	if m.Semantic {
		t.Fatalf("%+v", m)
	}
	verdicts(t, res, false, true)
}

func TestMaxDifferencesKeepsCounting(t *testing.T) {
	var es, es2 []it.Entry
	for i := range 50 {
		name := "f" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + string(rune('a'+i/26))
		es = append(es, it.File(name, "a"))
		es2 = append(es2, it.File(name, "b"))
	}
	res := diff(t, single(withEntries(es)), single(withEntries(es2)), func(o *imagediff.Options) { o.MaxDifferences = 10 })
	if res.Strict.Entry != 50 || res.Semantic.Entry != 50 {
		t.Fatalf("counts %+v", res.Strict)
	}
	var layer *imagediff.Node
	for _, c := range res.Tree.Children[0].Children {
		if c.Level == imagediff.LevelLayer {
			layer = c
		}
	}
	if len(layer.Differences) != 10 || layer.Omitted != 40 {
		t.Fatalf("kept %d, omitted %d", len(layer.Differences), layer.Omitted)
	}
}

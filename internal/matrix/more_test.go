package matrix

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLoadInline covers more rules with matrices written by the test: the
// base below is valid, and each case changes one thing.
func TestLoadInline(t *testing.T) {
	const pin = `"moby/buildkit:v0.19.0@sha256:14aa1b4dd92ea0a4cd03a54d0c6079046ea98cd0c0ae6176bdd7036ba370cbbe"`
	base := `engines:
  - {kind: docker, version: 20.10.24}
buildkits:
  - {version: v0.19.0, pinned: true, image: ` + pin + `}
fixtures:
  - {name: f, sourceDateEpoch: 0}
exporters:
  - {name: docker, type: docker}
profiles:
  all: {}
`
	tests := []struct {
		name, old, new string
		golden         string   // golden.yaml of fixture f, if any
		dockerfile     string   // the Dockerfile of fixture f; default FROM scratch
		fields         []string // nil: valid
		msg            string
	}{
		{name: "base"},
		{name: "anchors and merge keys", old: "  - {kind: docker, version: 20.10.24}\n",
			new: "  - &d {kind: docker, version: 20.10.24}\n  - {<<: *d, version: 26.1.5, image: \"docker:26.1.5-dind@sha256:" + strings.Repeat("a", 64) + "\", offline: {suite: trixie}}\n"},
		{name: "rootless image", old: "pinned: true,", new: "pinned: true, rootlessImage: \"moby/buildkit:v0.19.0-rootless@sha256:" + strings.Repeat("e", 64) + "\","},
		{name: "rootless tag in image", old: "v0.19.0@", new: "v0.19.0-rootless@", fields: []string{"buildkits[0].image"}, msg: "it goes in rootlessImage"},
		{name: "rootless image of another version", old: "pinned: true,", new: "pinned: true, rootlessImage: \"moby/buildkit:v0.18.0-rootless@sha256:" + strings.Repeat("e", 64) + "\",",
			fields: []string{"buildkits[0].rootlessImage"}, msg: "want tag v0.19.0-rootless"},
		{name: "rootless image not pinned", old: "pinned: true,", new: "pinned: true, rootlessImage: moby/buildkit:v0.19.0-rootless,",
			fields: []string{"buildkits[0].rootlessImage"}, msg: "is not pinned"},
		{name: "golden", golden: "linux/amd64/docker: sha256:" + strings.Repeat("f", 64) + "\n"},
		{name: "unknown top-level key", old: "profiles:", new: "enignes: []\nprofiles:", fields: []string{"enignes"}, msg: `unknown field "enignes"`},
		{name: "unknown profile key", old: "all: {}", new: "all: {engine: [x]}", fields: []string{"profiles.all.engine"}, msg: "known: buildkits, description, engines"},
		{name: "engine tag", old: "  - {kind: docker, version: 20.10.24}\n",
			new:    "  - {kind: docker, version: 26.1.5, image: \"docker:27.0.0-dind@sha256:" + strings.Repeat("a", 64) + "\", offline: {suite: trixie}}\n",
			fields: []string{"engines[0].image"}, msg: `tag "27.0.0-dind" disagrees with version 26.1.5`},
		{name: "engine not pinned", old: "  - {kind: docker, version: 20.10.24}\n",
			new:    "  - {kind: podman, version: 5.4.2, image: \"quay.io/podman/stable:v5.4.2\", offline: {suite: trixie}}\n",
			fields: []string{"engines[0].image"}, msg: "is not pinned"},
		{name: "docker from a module", old: "  - {kind: docker, version: 20.10.24}\n",
			new: "  - {kind: docker, version: 29.8.1, where: container, store: classic, cli: v29.8.1, buildx: v0.37.1, offline: {module: github.com/moby/moby/v2@v2.0.0-beta.24, suite: forky}}\n"},
		{name: "host docker with its own buildx", old: "20.10.24}", new: "20.10.24, where: host, buildx: v0.38.2}"},
		{name: "store on a host engine", old: "20.10.24}", new: "20.10.24, where: host, store: containerd}", fields: []string{"engines[0].store"}, msg: "only Docker in a container"},
		{name: "unknown store", old: "  - {kind: docker, version: 20.10.24}\n",
			new:    "  - {kind: docker, version: 29.8.1, store: zfs, offline: {module: github.com/moby/moby/v2@v2.0.0-beta.24, suite: forky}, where: container}\n",
			fields: []string{"engines[0].store"}, msg: `"zfs": want containerd or classic`},
		{name: "buildx not a release", old: "20.10.24}", new: "20.10.24, buildx: 0.38}", fields: []string{"engines[0].buildx"}, msg: `"0.38": want a release such as v0.38.2`},
		{name: "cli pre-release", old: "20.10.24}", new: "20.10.24, cli: v29.9.0-rc.1}", fields: []string{"engines[0].cli"}, msg: "want a release such as v29.8.1"},
		{name: "podman with buildx", old: "  - {kind: docker, version: 20.10.24}\n", new: "  - {kind: podman, version: 4.3.1, buildx: v0.38.2}\n",
			fields: []string{"engines[0].buildx"}, msg: "only Docker engines take a buildx"},
		{name: "module without version", old: "  - {kind: docker, version: 20.10.24}\n",
			new:    "  - {kind: docker, version: 29.8.1, where: container, offline: {module: github.com/moby/moby/v2, suite: forky}}\n",
			fields: []string{"engines[0].offline.module"}, msg: "want module@version"},
		{name: "module and package", old: "  - {kind: docker, version: 20.10.24}\n",
			new:    "  - {kind: docker, version: 29.8.1, where: container, offline: {module: github.com/moby/moby/v2@v2.0.0-beta.24, package: docker.io, suite: forky}}\n",
			fields: []string{"engines[0].offline.package"}, msg: "set module or package"},
		{name: "podman from a module", old: "  - {kind: docker, version: 20.10.24}\n",
			new:    "  - {kind: podman, version: 5.8.6, where: container, offline: {module: github.com/containers/podman/v5@v5.8.6, suite: forky}}\n",
			fields: []string{"engines[0].offline.module"}, msg: "only Docker's daemon"},
		{name: "host engine with image", old: "20.10.24}", new: "20.10.24, where: host, image: docker:20.10.24}", fields: []string{"engines[0].image"}, msg: "only container engines"},
		{name: "bad suite", old: "  - {kind: docker, version: 20.10.24}\n",
			new:    "  - {kind: docker, version: 26.1.5, image: \"docker:26.1.5-dind@sha256:" + strings.Repeat("a", 64) + "\", offline: {suite: buster}}\n",
			fields: []string{"engines[0].offline.suite"}, msg: `"buster"`},
		{name: "pinned latest", old: "{version: v0.19.0, pinned: true, image: " + pin + "}", new: "{version: latest, pinned: true, image: moby/buildkit:latest}",
			fields: []string{"buildkits[0].pinned", "buildkits[0].image"}, msg: "latest cannot be pinned"},
		{name: "candidate latest", old: "buildkits:\n", new: "buildkits:\n  - {version: latest, candidate: true}\n", fields: []string{"buildkits[0].candidate"}, msg: "latest cannot be the candidate"},
		{name: "latest tag", old: "buildkits:\n", new: "buildkits:\n  - {version: latest, image: moby/buildkit:v0.26.3}\n", fields: []string{"buildkits[0].image"}, msg: "want tag latest)"},
		{name: "SOURCE_DATE_EPOCH build arg", old: "sourceDateEpoch: 0}", new: "sourceDateEpoch: 0, buildArgs: {SOURCE_DATE_EPOCH: \"1\"}}",
			fields: []string{"fixtures[0].buildArgs.SOURCE_DATE_EPOCH"}, msg: "set sourceDateEpoch or datetime instead"},
		{name: "bad datetime", old: "sourceDateEpoch: 0}", new: "datetime: 01/02/2025}", fields: []string{"fixtures[0].datetime"}, msg: "want an ISO 8601 date"},
		{name: "date", old: "sourceDateEpoch: 0}", new: "datetime: 2025-01-01}"},
		{name: "base", dockerfile: "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n", old: "sourceDateEpoch: 0}",
			new: "sourceDateEpoch: 0, base: {suite: bookworm, image: \"debian:bookworm-slim@sha256:" + strings.Repeat("d", 64) + "\"}}"},
		{name: "base with packages", dockerfile: "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n", old: "sourceDateEpoch: 0}",
			new: "sourceDateEpoch: 0, base: {suite: bookworm, packages: [python3, libstdc++6]}}"},
		{name: "base package name", dockerfile: "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n", old: "sourceDateEpoch: 0}",
			new: "sourceDateEpoch: 0, base: {suite: bookworm, packages: [python3, \"Python 3\"]}}", fields: []string{"fixtures[0].base.packages[1]"}, msg: `"Python 3": not a Debian package name`},
		{name: "base package twice", dockerfile: "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n", old: "sourceDateEpoch: 0}",
			new: "sourceDateEpoch: 0, base: {suite: bookworm, packages: [python3, python3]}}", fields: []string{"fixtures[0].base.packages[1]"}, msg: "python3 is listed twice"},
		{name: "base packages and image", dockerfile: "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n", old: "sourceDateEpoch: 0}",
			new:    "sourceDateEpoch: 0, base: {suite: bookworm, packages: [python3], image: \"debian:bookworm-slim@sha256:" + strings.Repeat("d", 64) + "\"}}",
			fields: []string{"fixtures[0].base.image"}, msg: "set image or packages"},
		{name: "git context", old: "sourceDateEpoch: 0}", new: "sourceDateEpoch: 0, git: true}"},
		{name: "git context with variations", old: "sourceDateEpoch: 0}", new: "sourceDateEpoch: 0, git: true, vary: [mtime]}",
			fields: []string{"fixtures[0].vary"}, msg: "a git context ignores the checkout"},
		{name: "git context with another Dockerfile", old: "sourceDateEpoch: 0}", new: "sourceDateEpoch: 0, git: true, dockerfile: ../f/Dockerfile.other}",
			fields: []string{"fixtures[0].dockerfile", "fixtures[0].dockerfile"}, msg: "has no Dockerfile"}, // then: a git context brings its Dockerfile
		{name: "base missing", dockerfile: "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n", fields: []string{"fixtures[0].base"}, msg: "the Dockerfile declares ARG BASE_IMAGE"},
		{name: "base suite and image", old: "sourceDateEpoch: 0}", new: "sourceDateEpoch: 0, base: {suite: jessie, image: debian:bookworm}}",
			fields: []string{"fixtures[0].base.suite", "fixtures[0].base.image"}, msg: `"jessie"`},
		{name: "BASE_IMAGE build arg", old: "sourceDateEpoch: 0}", new: "sourceDateEpoch: 0, buildArgs: {BASE_IMAGE: x}}",
			fields: []string{"fixtures[0].buildArgs.BASE_IMAGE"}, msg: "set base instead"},
		{name: "golden for an unknown exporter", golden: "linux/amd64/oci: sha256:" + strings.Repeat("f", 64) + "\n",
			fields: []string{"fixtures[0].goldens[linux/amd64/oci]"}, msg: `no exporter is named "oci"`},
		{name: "golden for another platform", golden: "linux/arm64/docker: sha256:" + strings.Repeat("f", 64) + "\n",
			fields: []string{"fixtures[0].goldens[linux/arm64/docker]"}, msg: "not one of the fixture's platforms"},
		{name: "pattern value matches nothing", old: "all: {}", new: "all: {exclude: [engine=dokcer-*]}", fields: []string{"profiles.all.exclude[0]"}, msg: "engine=dokcer-* matches no engine"},
		{name: "bad profile name", old: "all: {}", new: "all: {}\n  \"a/b\": {}", fields: []string{"profiles.a/b"}, msg: "profile name"},
		{name: "platform in no fixture", old: "all: {}", new: "all: {platforms: [linux/arm64]}", fields: []string{"profiles.all.platforms[0]"}, msg: "no fixture is built for linux/arm64"},
		{name: "two documents", old: "all: {}", new: "all: {}\n---\nx: 1", fields: []string{}, msg: "second YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "fixtures", "f"), 0o755); err != nil {
				t.Fatal(err)
			}
			dockerfile := "FROM scratch\n"
			if tt.dockerfile != "" {
				dockerfile = tt.dockerfile
			}
			if err := os.WriteFile(filepath.Join(dir, "fixtures", "f", "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.golden != "" {
				if err := os.WriteFile(filepath.Join(dir, "fixtures", "f", "golden.yaml"), []byte(tt.golden), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			text := base
			if tt.old != "" {
				if !strings.Contains(base, tt.old) {
					t.Fatalf("base lacks %q", tt.old)
				}
				text = strings.Replace(base, tt.old, tt.new, 1)
			}
			file := filepath.Join(dir, "matrix.yaml")
			if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := Load(file, WithNow(testNow))
			switch {
			case tt.fields == nil && err != nil:
				t.Fatalf("Load: %v", err)
			case tt.fields == nil:
				if tt.golden != "" && len(m.Fixtures[0].Goldens) != 1 {
					t.Errorf("goldens = %v", m.Fixtures[0].Goldens)
				}
			case err == nil:
				t.Fatal("Load succeeded")
			case len(tt.fields) == 0: // not a ValidationErrors
				if !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("err = %v, want %q", err, tt.msg)
				}
			default:
				verrs := validationErrors(t, err)
				if got := verrs.Fields(); !slices.Equal(got, tt.fields) {
					t.Fatalf("fields = %q, want %q; errors:\n%v", got, tt.fields, err)
				}
				if !strings.Contains(verrs[0].Msg, tt.msg) {
					t.Errorf("message %q does not contain %q", verrs[0].Msg, tt.msg)
				}
			}
		})
	}
}

// TestPlatformSetCells: a platform set is one cell per oci exporter (the
// docker exporter writes no index), named with "+", holding a golden of
// its own; a set with a base is refused.
func TestPlatformSetCells(t *testing.T) {
	dir := t.TempDir()
	fx := filepath.Join(dir, "f")
	if err := os.MkdirAll(fx, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fx, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	golden := "linux/amd64,linux/arm64/oci: sha256:" + strings.Repeat("a", 64) + "\n"
	if err := os.WriteFile(filepath.Join(fx, "golden.yaml"), []byte(golden), 0o644); err != nil {
		t.Fatal(err)
	}
	text := `engines:
  - {kind: docker, version: 20.10.24}
buildkits:
  - {version: v0.19.0, pinned: true, image: "moby/buildkit:v0.19.0@sha256:14aa1b4dd92ea0a4cd03a54d0c6079046ea98cd0c0ae6176bdd7036ba370cbbe"}
fixtures:
  - {name: f, dir: f, platforms: [linux/amd64, "linux/amd64,linux/arm64"], sourceDateEpoch: 0}
exporters:
  - {name: docker, type: docker}
  - {name: oci, type: oci}
profiles:
  all: {}
  sets: {platforms: ["linux/amd64,linux/arm64"]}
`
	file := filepath.Join(dir, "matrix.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Load(file, WithNow(testNow))
	if err != nil {
		t.Fatal(err)
	}
	cells, err := m.Expand("all")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"fixture=f/platform=linux-amd64/engine=docker-20.10.24/buildkit=v0.19.0/exporter=docker",
		"fixture=f/platform=linux-amd64/engine=docker-20.10.24/buildkit=v0.19.0/exporter=oci",
		"fixture=f/platform=linux-amd64+linux-arm64/engine=docker-20.10.24/buildkit=v0.19.0/exporter=oci",
	}
	got := names(cells)
	slices.Sort(got)
	set := want[2]
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("cells:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if sets, err := m.Expand("sets"); err != nil || len(sets) != 1 || sets[0].Platform != "linux/amd64,linux/arm64" {
		t.Errorf("profile sets: %v, %v", names(sets), err)
	}
	if g, ok := m.Fixtures[0].Golden("linux/amd64,linux/arm64", "oci"); !ok || !strings.HasSuffix(string(g), "aaaa") {
		t.Errorf("the set's golden: %q, %v", g, ok)
	}
	if _, err := m.Cell(set[:strings.LastIndex(set, "=")+1] + "docker"); err == nil {
		t.Error("Cell gave a platform set with the docker exporter")
	}

	based := strings.Replace(text, "sourceDateEpoch: 0}", "sourceDateEpoch: 0, base: {suite: bookworm}}", 1)
	if err := os.WriteFile(file, []byte(based), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(file, WithNow(testNow))
	verrs := validationErrors(t, err)
	if f := verrs.Fields(); !slices.Equal(f, []string{"fixtures[0].platforms[1]"}) || !strings.Contains(verrs[0].Msg, "builds FROM scratch") {
		t.Errorf("a set with a base: %v", err)
	}
}

// TestDefaultEngineNames: "-rootless", "-<store>" and "-buildx-<version>"
// join the default name in that order; cli does not.
func TestDefaultEngineNames(t *testing.T) {
	for _, tt := range []struct {
		e    Engine
		want string
	}{
		{Engine{Kind: Docker}, "docker-29.8.1"},
		{Engine{Kind: Docker, Store: StoreClassic}, "docker-29.8.1-classic"},
		{Engine{Kind: Docker, Store: StoreContainerd, Buildx: "v0.38.2"}, "docker-29.8.1-containerd-buildx-0.38.2"},
		{Engine{Kind: Docker, CLI: "v29.8.1"}, "docker-29.8.1"},
		{Engine{Kind: Podman, Rootless: true}, "podman-29.8.1-rootless"},
	} {
		if got := tt.e.defaultName("29.8.1"); got != tt.want {
			t.Errorf("defaultName(%+v) = %q, want %q", tt.e, got, tt.want)
		}
	}
}

// TestBuildable: the cells expansions leave out.
func TestBuildable(t *testing.T) {
	docker := &Exporter{Name: "docker", Type: DockerExporter}
	oci := &Exporter{Name: "oci", Type: OCIExporter}
	plain, git := &Fixture{Name: "f"}, &Fixture{Name: "g", Git: true}
	host := &Engine{Kind: Docker, Where: Host}
	dind := &Engine{Kind: Docker, Where: Container}
	podIn := &Engine{Kind: Podman, Where: Container}
	for _, tt := range []struct {
		c    Cell
		want bool
	}{
		{Cell{Fixture: plain, Platform: "linux/amd64", Engine: dind, Exporter: docker}, true},
		{Cell{Fixture: plain, Platform: "linux/amd64,linux/arm64", Engine: host, Exporter: docker}, false},
		{Cell{Fixture: plain, Platform: "linux/amd64,linux/arm64", Engine: host, Exporter: oci}, true},
		{Cell{Fixture: git, Platform: "linux/amd64", Engine: host, Exporter: docker}, true},
		{Cell{Fixture: git, Platform: "linux/amd64", Engine: podIn, Exporter: docker}, true},
		{Cell{Fixture: git, Platform: "linux/amd64", Engine: dind, Exporter: oci}, false},
	} {
		if got := Buildable(tt.c); got != tt.want {
			t.Errorf("Buildable(%s under %s %s, %s) = %v, want %v", tt.c.Fixture.Name, tt.c.Engine.Kind, tt.c.Engine.Where, tt.c.Platform, got, tt.want)
		}
	}
}

// TestRootlessImageDefaults: a BuildKit pulled by its release tag has its
// rootless variant's tag too (latest: rootless), as does a ladder rung; an
// image the file gives (a pin, a fork) gets no guess.
func TestRootlessImageDefaults(t *testing.T) {
	dir := t.TempDir()
	text := `engines:
  - {kind: docker, version: 20.10.24}
buildkits:
  - {version: v0.19.0, pinned: true, image: "moby/buildkit:v0.19.0@sha256:` + strings.Repeat("a", 64) + `"}
  - {version: v0.26.3}
  - {version: v0.27.0, image: "example.com/fork/buildkit:v0.27.0"}
  - {version: latest}
fixtures:
  - {name: f, sourceDateEpoch: 0}
exporters:
  - {name: docker, type: docker}
profiles:
  all: {}
`
	os.MkdirAll(filepath.Join(dir, "fixtures", "f"), 0o755)
	os.WriteFile(filepath.Join(dir, "fixtures", "f", "Dockerfile"), []byte("FROM scratch\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "matrix.yaml"), []byte(text), 0o644)
	m, err := Load(filepath.Join(dir, "matrix.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"v0.19.0": "", "v0.26.3": "moby/buildkit:v0.26.3-rootless", "v0.27.0": "", "latest": "moby/buildkit:rootless"}
	for _, b := range m.BuildKits {
		if b.RootlessImage != want[b.Name] {
			t.Errorf("%s: rootlessImage %q, want %q", b.Name, b.RootlessImage, want[b.Name])
		}
	}
}

// TestRootlessCellsDoNotRunThePin: a rootless engine runs the pinned
// release's rootless variant, another image than the pin the goldens come
// from.
func TestRootlessCellsDoNotRunThePin(t *testing.T) {
	pin := &BuildKit{Name: "v0.19.0", Pinned: true}
	other := &BuildKit{Name: "v0.26.3"}
	for _, tt := range []struct {
		bk       *BuildKit
		rootless bool
		want     bool
	}{{pin, false, true}, {pin, true, false}, {other, false, false}, {other, true, false}} {
		c := Cell{BuildKit: tt.bk, Engine: &Engine{Name: "podman-4.3.1", Rootless: tt.rootless}}
		if got := c.Pinned(); got != tt.want {
			t.Errorf("%s rootless %v: Pinned() = %v", tt.bk.Name, tt.rootless, got)
		}
	}
}

package matrix

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// foundMatrix is a matrix with host engines taken as found next to a
// declared host Docker and a Docker in a container.
const foundMatrix = `engines:
  - {kind: docker, version: 20.10.24}
  - {kind: docker, version: found}
  - {kind: podman, version: found, where: host}
  - {kind: docker, version: 26.1.5, where: container, offline: {suite: trixie}}
buildkits:
  - {version: v0.19.0, pinned: true, image: "moby/buildkit:v0.19.0@sha256:14aa1b4dd92ea0a4cd03a54d0c6079046ea98cd0c0ae6176bdd7036ba370cbbe"}
fixtures:
  - {name: f, sourceDateEpoch: 0}
exporters:
  - {name: docker, type: docker}
profiles:
  declared: {engines: [docker-20.10.24]}
  ci: {engines: ["@found", "@container"]}
  byname: {engines: [docker-found]}
  host: {engines: ["@host"]}
  rules: {engines: [docker-20.10.24], include: ["engine=podman-4.*"]}
knownDivergences:
  - {cells: "engine=docker-2[89].*", reason: a newer dockerd, link: "https://example.com/1", expires: "2099-01-01"}
  - {cells: "engine=podman-found", reason: any podman, link: "https://example.com/2", expires: "2099-01-01"}
`

func loadFound(t *testing.T, text string) *Matrix {
	t.Helper()
	m, err := Load(writeMatrix(t, text), WithNow(testNow))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return m
}

// fakeProbe answers from versions (kind -> version, or an error when
// missing) and counts its calls.
func fakeProbe(versions map[EngineKind]string, calls *int) Probe {
	return func(_ context.Context, kind EngineKind) (string, error) {
		*calls++
		if v, ok := versions[kind]; ok {
			return v, nil
		}
		return "", errors.New("engine does not answer")
	}
}

func engineNames(t *testing.T, m *Matrix, profile string) []string {
	t.Helper()
	cells, err := m.Expand(profile)
	if err != nil {
		t.Fatalf("Expand(%s): %v", profile, err)
	}
	var out []string
	for _, c := range cells {
		out = append(out, c.Engine.Name)
	}
	return out
}

func TestLoadFound(t *testing.T) {
	m := loadFound(t, foundMatrix)
	e := m.Engines[1]
	if !e.AsFound || e.Version != "" || e.Name != "docker-found" || e.Where != Host || !e.Unresolved() || e.EffectiveVersion() != "found" {
		t.Fatalf("found docker after Load: %+v", e)
	}
	if d := m.Engines[0]; d.AsFound || d.EffectiveVersion() != "20.10.24" {
		t.Errorf("declared docker after Load: %+v", d)
	}
	if got := engineNames(t, m, "ci"); !slices.Equal(got, []string{"docker-found", "podman-found", "docker-26.1.5"}) {
		t.Errorf("ci before ResolveFound: %q", got)
	}
}

func TestResolveFound(t *testing.T) {
	m := loadFound(t, foundMatrix)
	calls := 0
	if err := m.ResolveFound(context.Background(), fakeProbe(map[EngineKind]string{Docker: "28.0.4", Podman: "4.9.3"}, &calls)); err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Errorf("probe called %d times, want once per kind", calls)
	}
	docker := m.Engines[1]
	if docker.Name != "docker-28.0.4" || docker.Found != "28.0.4" || docker.Version != "" || docker.Unresolved() || docker.EffectiveVersion() != "28.0.4" {
		t.Errorf("found docker: %+v", docker)
	}
	for profile, want := range map[string][]string{
		"ci":       {"docker-28.0.4", "podman-4.9.3", "docker-26.1.5"},
		"byname":   {"docker-28.0.4"}, // selected by the name it had before
		"host":     {"docker-20.10.24", "docker-28.0.4", "podman-4.9.3"},
		"declared": {"docker-20.10.24"},
		"rules":    {"docker-20.10.24", "podman-4.9.3"},
	} {
		if got := engineNames(t, m, profile); !slices.Equal(got, want) {
			t.Errorf("%s: engines %q, want %q", profile, got, want)
		}
	}
	cells, _ := m.Expand("ci")
	if got := cells[0].Name(); got != "fixture=f/platform=linux-amd64/engine=docker-28.0.4/buildkit=v0.19.0/exporter=docker" {
		t.Errorf("cell name %s", got)
	}
	if !slices.Contains(cells[0].Labels(), "engine:docker-28.0.4") {
		t.Errorf("labels %q", cells[0].Labels())
	}
	for i, want := range []string{"https://example.com/1", "https://example.com/2", ""} {
		k := m.KnownDivergence(cells[i])
		if (k == nil && want != "") || (k != nil && k.Link != want) {
			t.Errorf("%s: known divergence %+v, want %q", cells[i].Name(), k, want)
		}
	}
	if err := m.ResolveFound(context.Background(), fakeProbe(nil, &calls)); err != nil || calls != 2 {
		t.Errorf("a second ResolveFound probed again (%d calls): %v", calls, err)
	}
}

// TestResolveFoundProbeFails: an engine whose version cannot be read keeps
// its name and its cells, and the error names it.
func TestResolveFoundProbeFails(t *testing.T) {
	for name, answer := range map[string]map[EngineKind]string{
		"no answer":    {Docker: "28.0.4"},
		"empty answer": {Docker: "28.0.4", Podman: ""},
		"not a name":   {Docker: "28.0.4", Podman: "4.9 (dev)"},
	} {
		t.Run(name, func(t *testing.T) {
			m := loadFound(t, foundMatrix)
			calls := 0
			err := m.ResolveFound(context.Background(), fakeProbe(answer, &calls))
			var failed FoundErrors
			if !errors.As(err, &failed) || len(failed) != 1 || failed[0].Engine != "podman-found" || failed[0].Kind != Podman {
				t.Fatalf("err = %#v", err)
			}
			if !strings.HasPrefix(err.Error(), "engine podman-found: read the version of the host's podman: ") {
				t.Errorf("err = %v", err)
			}
			if got := engineNames(t, m, "ci"); !slices.Equal(got, []string{"docker-28.0.4", "podman-found", "docker-26.1.5"}) {
				t.Errorf("ci: %q", got)
			}
			if p := m.Engines[2]; !p.Unresolved() || p.Version != "" {
				t.Errorf("podman: %+v", p)
			}
		})
	}
}

// TestResolveFoundNames: a found version that another engine's name has
// gets "-found"; a name set in the file stays.
func TestResolveFoundNames(t *testing.T) {
	m := loadFound(t, foundMatrix)
	calls := 0
	if err := m.ResolveFound(context.Background(), fakeProbe(map[EngineKind]string{Docker: "20.10.24", Podman: "4.9.3"}, &calls)); err != nil {
		t.Fatal(err)
	}
	// The found docker is the declared docker-20.10.24: one engine, its
	// cells once.
	if got := engineNames(t, m, "host"); !slices.Equal(got, []string{"docker-20.10.24", "podman-4.9.3"}) {
		t.Errorf("host: %q", got)
	}
	if e := m.Engines[1]; e.Name != "docker-20.10.24" || e.Found != "20.10.24" || e.Version != "" {
		t.Errorf("found docker: %+v", e)
	}

	// Found at the version of an engine in a container: another engine, so
	// another name.
	m = loadFound(t, foundMatrix)
	if err := m.ResolveFound(context.Background(), fakeProbe(map[EngineKind]string{Docker: "26.1.5", Podman: "4.9.3"}, &calls)); err != nil {
		t.Fatal(err)
	}
	if e := m.Engines[1]; e.Name != "docker-26.1.5-found" {
		t.Errorf("found docker at a container engine's version: %s", e.Name)
	}

	text := strings.Replace(foundMatrix, "{kind: podman, version: found, where: host}", "{kind: podman, version: found, name: ci-podman, rootless: true}", 1)
	text = strings.NewReplacer("engine=podman-found", "engine=ci-podman", "engine=podman-4.*", "engine=ci-podman").Replace(text)
	m = loadFound(t, text)
	if err := m.ResolveFound(context.Background(), fakeProbe(map[EngineKind]string{Docker: "28.0.4", Podman: "4.9.3"}, &calls)); err != nil {
		t.Fatal(err)
	}
	if p := m.Engines[2]; p.Name != "ci-podman" || p.Found != "4.9.3" {
		t.Errorf("named podman: %+v", p)
	}
}

func TestFoundValidation(t *testing.T) {
	base := strings.SplitAfter(foundMatrix, "profiles:\n")[0] + "  all: {}\n"
	for _, tt := range []struct {
		name, old, new string
		want           string // "": valid
	}{
		{name: "host", old: "{kind: docker, version: found}", new: "{kind: docker, version: found, where: host}"},
		{name: "container", old: "{kind: docker, version: found}", new: "{kind: docker, version: found, where: container, offline: {suite: trixie}}",
			want: `engines[1].version: "found" is for host engines only (where: host): an engine in a container runs the version its image or Debian suite carries; declare it, e.g. 28.5.2 (line 3)`},
		{name: "image makes a container", old: "{kind: docker, version: found}",
			new:  "{kind: docker, version: found, image: \"docker:28.5.2-dind@sha256:" + strings.Repeat("a", 64) + "\", offline: {suite: forky}}",
			want: `engines[1].version: "found" is for host engines only`},
		{name: "two found of a kind", old: "{kind: podman, version: found, where: host}", new: "{kind: docker, version: found}",
			want: `engines[2].name: duplicate engine name "docker-found" (also engines[1])`},
		{name: "missing version", old: "{kind: docker, version: found}", new: "{kind: docker}",
			want: `engines[1].version: required: a plain version such as 20.10.24, or "found"`},
		{name: "pattern naming a found version", old: "  all: {}", new: "  all: {exclude: [engine=podman-4.9.*]}"},
		{name: "pattern naming no found kind", old: "  all: {}", new: "  all: {exclude: [engine=dokcer-28.*]}",
			want: `profiles.all.exclude[0]: engine=dokcer-28.* matches no engine`},
		{name: "profile naming a found version", old: "  all: {}", new: "  all: {engines: [docker-28.0.4]}",
			want: `profiles.all.engines[0]: "docker-28.0.4" matches no engine`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(base, tt.old) {
				t.Fatalf("matrix lacks %q", tt.old)
			}
			text := strings.Replace(base, tt.old, tt.new, 1)
			_, err := Load(writeMatrix(t, text), WithNow(testNow))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Load: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("err = %v\nwant %q", err, tt.want)
			}
		})
	}
}

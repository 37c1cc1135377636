package images

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/repro-matrix/repro-matrix/internal/provision"
	"github.com/repro-matrix/repro-matrix/internal/registry"
)

// upstream is a loopback registry standing in for Docker Hub, with one
// image pushed as moby/buildkit:v0.19.0.
func upstream(t *testing.T) (*registry.Registry, v1.Image, string) {
	t.Helper()
	r, err := registry.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := r.Push(context.Background(), img, "moby/buildkit", "v0.19.0")
	if err != nil {
		t.Fatal(err)
	}
	_, dg, _ := strings.Cut(ref, "@")
	return r, img, dg
}

func source(t *testing.T, online bool, mirrors Mirrors) (*Source, *bytes.Buffer) {
	var log bytes.Buffer
	return &Source{Cache: provision.Cache{Dir: t.TempDir()}, Online: online, Mirrors: mirrors, Log: &log}, &log
}

func TestPullByDigestThroughMirror(t *testing.T) {
	reg, img, dg := upstream(t)
	s, log := source(t, true, Mirrors{"index.docker.io": reg.Addr})
	pin := "moby/buildkit:v0.19.0@" + dg
	recipe := func(context.Context) (provision.Image, error) {
		t.Error("an online run made a pinned image from its recipe")
		return provision.Image{}, errors.New("recipe")
	}
	got, err := s.Get(context.Background(), Request{What: "BuildKit v0.19.0", Pin: pin, Recipe: recipe})
	if err != nil {
		t.Fatal(err)
	}
	wantID, _ := img.ConfigName()
	if got.ID != wantID || got.Digest.String() != dg {
		t.Errorf("pulled ID %s digest %s, want %s %s", got.ID, got.Digest, wantID, dg)
	}
	if want := "index.docker.io/moby/buildkit:v0.19.0@" + dg; got.Origin.Pulled != want || got.Origin.Via != reg.Addr {
		t.Errorf("origin %+v, want pulled %s via %s", got.Origin, want, reg.Addr)
	}
	if !strings.HasPrefix(got.Ref, PulledRepo+"/moby/buildkit:v0.19.0-") {
		t.Errorf("local name %s", got.Ref)
	}
	if !strings.Contains(log.String(), "pull "+pin+" (via "+reg.Addr+")") || !strings.Contains(log.String(), "done in") {
		t.Errorf("progress: %q", log.String())
	}

	// Cached by its digest: the registry is no longer needed.
	reg.Close()
	again, err := s.Get(context.Background(), Request{What: "BuildKit v0.19.0", Pin: pin})
	if err != nil {
		t.Fatalf("second get from the cache: %v", err)
	}
	if again.Tarball != got.Tarball || again.Origin != got.Origin {
		t.Errorf("cached %+v, first %+v", again, got)
	}
}

func TestPinMissingFailsNamingIt(t *testing.T) {
	reg, _, _ := upstream(t)
	s, _ := source(t, true, Mirrors{"index.docker.io": reg.Addr})
	pin := "moby/buildkit:v0.19.0@sha256:" + strings.Repeat("0", 64)
	recipeUsed := false
	_, err := s.Get(context.Background(), Request{What: "BuildKit v0.19.0", Pin: pin,
		Recipe: func(context.Context) (provision.Image, error) { recipeUsed = true; return provision.Image{}, nil }})
	if err == nil || !strings.Contains(err.Error(), pin) {
		t.Fatalf("want an error naming %s, got %v", pin, err)
	}
	if recipeUsed {
		t.Error("a pin that could not be pulled fell back to the recipe")
	}
}

func TestOfflineUsesRecipeAndNamesTheTwin(t *testing.T) {
	s, _ := source(t, false, nil)
	pin := "moby/buildkit:v0.19.0@sha256:" + strings.Repeat("a", 64)
	made := provision.Image{Ref: "localhost/repro-matrix/buildkit:v0.19.0"}
	got, err := s.Get(context.Background(), Request{What: "BuildKit v0.19.0", Pin: pin, RecipeText: "go github.com/moby/buildkit@v0.19.0",
		Recipe: func(context.Context) (provision.Image, error) { return made, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if got.Ref != made.Ref || got.Origin.Pulled != "" || got.Origin.Twin != pin {
		t.Errorf("got %+v", got)
	}
	if want := "built from go github.com/moby/buildkit@v0.19.0 (offline twin of " + pin + ")"; got.Origin.String() != want {
		t.Errorf("origin %q, want %q", got.Origin, want)
	}
}

func TestOnlineWithoutPinUsesRecipe(t *testing.T) {
	s, _ := source(t, true, nil)
	got, err := s.Get(context.Background(), Request{What: "Debian bookworm base", RecipeText: "debian bookworm (mmdebstrap)",
		Recipe: func(context.Context) (provision.Image, error) { return provision.Image{Ref: "x"}, nil }})
	if err != nil || got.Origin.Recipe == "" || got.Origin.Twin != "" {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestLatestRelease(t *testing.T) {
	reg, img, _ := upstream(t)
	for _, tag := range []string{"v0.34.2", "v0.35.0-rc1", "v0.34.2-rootless", "latest", "v0.9.10"} {
		if _, err := reg.Push(context.Background(), img, "moby/buildkit", tag); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := source(t, true, Mirrors{"index.docker.io": reg.Addr})
	got, err := s.LatestRelease(context.Background(), "moby/buildkit")
	if err != nil || got != "v0.34.2" {
		t.Fatalf("latest %q, %v; want v0.34.2", got, err)
	}
}

func TestNewestRelease(t *testing.T) {
	for _, c := range []struct {
		tags []string
		want string
	}{
		{[]string{"v0.19.0", "v0.26.3", "v0.9.0"}, "v0.26.3"},
		{[]string{"v0.27.0-rc1", "v0.26.3"}, "v0.26.3"},
		{[]string{"latest", "buildx-stable-1", "v0.1"}, ""},
		{nil, ""},
	} {
		if got := NewestRelease(c.tags); got != c.want {
			t.Errorf("NewestRelease(%v) = %q, want %q", c.tags, got, c.want)
		}
	}
}

func TestParseMirrors(t *testing.T) {
	m, err := ParseMirrors("docker.io=127.0.0.1:5000, quay.io=127.0.0.1:5001")
	if err != nil {
		t.Fatal(err)
	}
	if m["index.docker.io"] != "127.0.0.1:5000" || m["quay.io"] != "127.0.0.1:5001" {
		t.Errorf("mirrors %v", m)
	}
	for _, bad := range []string{"docker.io", "=x", "docker.io=", "docker.io=bad host"} {
		if _, err := ParseMirrors(bad); err == nil || !strings.Contains(err.Error(), "registry mirror") {
			t.Errorf("ParseMirrors(%q): %v", bad, err)
		}
	}
}

func TestExplicitTag(t *testing.T) {
	for pin, want := range map[string]string{
		"moby/buildkit:v0.19.0@sha256:x": "v0.19.0",
		"127.0.0.1:5000/moby/buildkit":   "",
		"127.0.0.1:5000/a/b:t":           "t",
		"docker:28.5.2-dind@sha256:x":    "28.5.2-dind",
	} {
		if got := explicitTag(pin); got != want {
			t.Errorf("explicitTag(%q) = %q, want %q", pin, got, want)
		}
	}
}

package runner

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/repro-matrix/repro-matrix/internal/engine"
	"github.com/repro-matrix/repro-matrix/internal/matrix"
	"github.com/repro-matrix/repro-matrix/internal/provision"
)

// TestRootlessEnginesRunTheRootlessVariant: a cell of a rootless engine
// gets its BuildKit's rootless variant, under a key of its own, pulled by
// rootlessImage online (latest: the release's -rootless tag) and made by
// BuildKitRootlessFrom offline.
func TestRootlessEnginesRunTheRootlessVariant(t *testing.T) {
	pin := "moby/buildkit:v0.19.0@sha256:" + strings.Repeat("a", 64)
	rootlessPin := "moby/buildkit:v0.19.0-rootless@sha256:" + strings.Repeat("e", 64)
	bk := &matrix.BuildKit{Name: "v0.19.0", Version: "v0.19.0", Image: pin, RootlessImage: rootlessPin}
	latest := &matrix.BuildKit{Name: "latest", Version: "latest", Resolved: "v0.34.2", Image: "moby/buildkit:latest"}
	rootful := matrix.Cell{BuildKit: bk, Engine: &matrix.Engine{Name: "podman-4.3.1"}}
	rootless := matrix.Cell{BuildKit: bk, Engine: &matrix.Engine{Name: "podman-4.3.1-rootless", Rootless: true}}
	if buildKitKey(rootful) != "v0.19.0" || buildKitKey(rootless) != "v0.19.0 rootless" {
		t.Errorf("keys %q %q", buildKitKey(rootful), buildKitKey(rootless))
	}
	cache := provision.Cache{Dir: t.TempDir()}
	tests := []struct {
		v           bkVariant
		pin, recipe string
	}{
		{bkVariant{bk, false}, pin, "go github.com/moby/buildkit@v0.19.0"},
		{bkVariant{bk, true}, rootlessPin, "go github.com/moby/buildkit@v0.19.0 rootless (rootlesskit of its Dockerfile)"},
		{bkVariant{latest, true}, "moby/buildkit:v0.34.2-rootless", "go github.com/moby/buildkit@v0.34.2 rootless (rootlesskit of its Dockerfile)"},
		{bkVariant{&matrix.BuildKit{Name: "v0.19.0", Version: "v0.19.0", Image: pin}, true}, "", "go github.com/moby/buildkit@v0.19.0 rootless (rootlesskit of its Dockerfile)"},
	}
	for _, tt := range tests {
		r := buildKitRequest(tt.v, cache, "what")
		if r.Pin != tt.pin || r.RecipeText != tt.recipe || r.Recipe == nil {
			t.Errorf("%s: pin %q recipe %q, want %q %q", tt.v.key(), r.Pin, r.RecipeText, tt.pin, tt.recipe)
		}
	}
}

// idEngine is a Podman whose `info` prints sizes of its id mappings.
type idEngine struct{ *fakeEngine }

func (idEngine) Kind() engine.Kind { return engine.Podman }
func (idEngine) Name() string      { return "podman-4.3.1-rootless" }
func (idEngine) Command(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "echo", "1 65536")
}

func TestTooFewIDsForARootlessBuildKit(t *testing.T) {
	err := rootlessIDs(context.Background(), idEngine{&fakeEngine{}}, "podman-4.3.1-rootless")
	if err == nil || !strings.Contains(err.Error(), "maps 65537 ids") || !strings.Contains(err.Error(), "165535 subordinate ids") {
		t.Errorf("err = %v, want one saying 65537 ids are mapped and 165535 subordinate ids needed", err)
	}
}

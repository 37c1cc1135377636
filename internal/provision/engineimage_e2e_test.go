//go:build e2e

package provision

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestProvisionEngine makes the engine images of Debian suites (trixie, or
// the suites in REPRO_MATRIX_PROVISION, e.g. trixie,forky) and checks that
// a second, cached call gives the same image; it reports how long each took.
func TestProvisionEngine(t *testing.T) {
	suites := os.Getenv("REPRO_MATRIX_PROVISION")
	if suites == "" {
		suites = "trixie"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	c := DefaultCache()
	var recipes []EngineRecipe
	for _, s := range strings.Split(suites, ",") {
		recipes = append(recipes, EngineRecipe{Kind: "docker", Suite: s}, EngineRecipe{Kind: "podman", Suite: s})
	}
	for _, r := range recipes {
		start := time.Now()
		img, err := ProvisionEngine(ctx, c, r)
		if err != nil {
			t.Fatal(err)
		}
		first := time.Since(start)
		start = time.Now()
		again, err := ProvisionEngine(ctx, c, r)
		if err != nil {
			t.Fatal(err)
		}
		if again.Digest != img.Digest {
			t.Errorf("%s: second provisioning gave %s, first %s", r.Kind, again.Digest, img.Digest)
		}
		t.Logf("%s %s (%s) from %s: %s, %s; first call %s, cached call %s", img.Ref, img.Version, img.PackageVersion, r.Suite, img.Digest, img.Tarball, first.Round(time.Second), time.Since(start).Round(time.Millisecond))
	}
}

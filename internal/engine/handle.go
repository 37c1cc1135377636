package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/repro-matrix/repro-matrix/internal/registry"
)

// Push pushes a docker-archive tarball as repo:tag to the engine's own
// registry (RegistryPush) and returns the reference pinned by digest as
// BuildKit under the engine sees it (through Registry), e.g.
// 127.0.0.1:5000/library/debian:bookworm-amd64@sha256:...
// It fails for an engine that uses the run's registry (Registry empty).
func (h Handle) Push(ctx context.Context, path, repo, tag string) (string, error) {
	if h.RegistryPush == "" || h.Registry == "" {
		return "", fmt.Errorf("engine %s has no registry of its own: push to the run's registry", h.Name)
	}
	ref, err := registry.PushTarball(ctx, h.RegistryPush, h.Registry, path, repo, tag)
	if err != nil {
		return "", fmt.Errorf("engine %s: %w", h.Name, err)
	}
	return ref, nil
}

// LocalRef rewrites a reference in the run's registry (runRegistry, its
// host:port) into the engine's own registry, where the same image must have
// been pushed (Push); references elsewhere, and every reference for an
// engine without a registry of its own, stay as they are.
func (h Handle) LocalRef(ref, runRegistry string) string {
	if h.Registry == "" || runRegistry == "" {
		return ref
	}
	if rest, ok := strings.CutPrefix(ref, runRegistry+"/"); ok {
		return h.Registry + "/" + rest
	}
	return ref
}

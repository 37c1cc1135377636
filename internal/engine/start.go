package engine

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// Spec is an engine a run asks for.
type Spec struct {
	Name        string // cell name, e.g. docker-20.10.24
	Kind        Kind
	Version     string // the version matrix.yaml declares; "" takes the engine as found (no check)
	InContainer bool   // run the engine in a container instead of using the host's
	RunID       string // labels what the engine's start creates
	Dir         string // run folder: sockets and config folders go below it
	// User runs a host Podman as this unprivileged user (rootless Podman,
	// its own image store); "" runs it as the caller.
	User string
	// Client is the docker CLI and buildx of a Docker engine; zero: the
	// host's.
	Client Client

	// The fields below are for engines in containers only.

	// Store is the image store of Docker in a container: "containerd" or
	// "classic" (dockerd --feature containerd-snapshotter=true|false); ""
	// leaves the daemon's default. The started engine must report it.
	Store string

	// Mounts are host folders that must be visible at the same path inside
	// the engine, read-write: Podman in a container is driven through
	// `docker exec`, so the paths of `podman run -v HOST:...` (a cell's
	// folder, a fixture's context) are resolved inside the engine
	// container. Dir is always mounted for Podman. Docker needs none (its
	// CLI runs on the host and sends contexts and receives tarballs).
	Mounts []string
	// Image is the engine image to run, already in the host's Docker (the
	// run obtains it through internal/images); it must carry the entrypoint
	// of provision.EntrypointScript. Required.
	Image string
	// Log receives progress (provisioning, loading, starting, with
	// timings); nil discards it.
	Log io.Writer
}

// Handle tells another process of the same run how to reach a started
// engine; it crosses processes as JSON.
type Handle struct {
	Name    string `json:"name"`
	Kind    Kind   `json:"kind"`
	Version string `json:"version"`
	Host    bool   `json:"host"`
	// User is the unprivileged user a rootless host Podman runs as.
	User string `json:"user,omitempty"`
	// Client drives a Docker engine when it is not the host's CLI.
	Client Client `json:"client"`

	// Container is the name of the engine's container on the host's Docker
	// (engines in containers only). Podman's commands run through
	// `docker exec -i <Container> podman ...`.
	Container string `json:"container,omitempty"`
	// Socket is the host path of the unix socket of Docker in a container:
	// its CLI gets DOCKER_HOST=unix://<Socket>.
	Socket string `json:"socket,omitempty"`
	// Dir is the engine's folder on the host (socket, buildx config); it is
	// removed when the engine is closed.
	Dir string `json:"dir,omitempty"`
	// Image is the engine image the container runs.
	Image string `json:"image,omitempty"`
	// Registry is the registry address that BuildKit under this engine uses
	// for base images, e.g. 127.0.0.1:5000, when the run's loopback registry
	// is out of its reach: Docker in a container has its own network
	// namespace, where 127.0.0.1 is the engine container, so it carries a
	// registry of its own. Empty: use the run's registry (host engines,
	// Podman in a container on the host's network).
	Registry string `json:"registry,omitempty"`
	// RegistryPush is the host-side address (127.0.0.1:port) of Registry:
	// push base images there, then refer to them through Registry (see
	// Handle.Push and Handle.LocalRef).
	RegistryPush string `json:"registryPush,omitempty"`
}

// Start connects to the host's engine or starts one in a container, and
// checks that the running engine reports the declared version (any version
// when Spec.Version is empty: matrix.yaml's "version: found"). A mismatch
// is an error naming both versions. It returns the engine even on error,
// for the caller to Close.
func Start(ctx context.Context, s Spec) (Engine, Handle, error) {
	if s.InContainer {
		c, h, err := startContainer(ctx, s)
		if c == nil {
			return nil, h, err
		}
		return c, h, err
	}
	if s.Store != "" {
		return nil, Handle{}, fmt.Errorf("engine %s: only Docker in a container runs with a declared image store", s.Name)
	}
	e, err := hostWith(ctx, s.Kind, s.User, s.Client)
	if err != nil {
		return nil, Handle{}, fmt.Errorf("engine %s: %w", s.Name, err)
	}
	h := Handle{Name: s.Name, Kind: s.Kind, Version: e.Version(), Host: true, User: s.User, Client: s.Client}
	return e, h, checkVersion(s, e.Version())
}

// Connect reaches an engine another process started. The engine it
// returns does not own what that process created: its Close does nothing.
func Connect(ctx context.Context, h Handle) (Engine, error) {
	if h.Host {
		return hostWith(ctx, h.Kind, h.User, h.Client)
	}
	c, err := connectContainer(ctx, h)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// checkVersion compares a declared version with the running one: a
// declared "20.10" accepts any 20.10.x, an empty one any version. An engine
// that reports no version is an error either way.
func checkVersion(s Spec, running string) error {
	switch {
	case running == "":
		return fmt.Errorf("engine %s: the running %s engine reports no version", s.Name, s.Kind)
	case s.Version == "" || VersionMatches(s.Version, running):
		return nil
	}
	return fmt.Errorf("engine %s: matrix.yaml declares %s %s, the running engine reports %s", s.Name, s.Kind, s.Version, running)
}

// VersionMatches reports whether a running engine's version is the
// declared one; a declared "20.10" takes any 20.10.x.
func VersionMatches(declared, running string) bool {
	return running != "" && (running == declared || strings.HasPrefix(running, declared+"."))
}

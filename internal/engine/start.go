package engine

import (
	"context"
	"fmt"
)

// Spec is an engine a run asks for.
type Spec struct {
	Name        string // cell name, e.g. docker-20.10.24
	Kind        Kind
	Version     string // the version matrix.yaml declares
	InContainer bool   // run the engine in a container instead of using the host's
	RunID       string // labels what the engine's start creates
	Dir         string // run folder: sockets and config folders go below it
}

// Handle tells another process of the same run how to reach a started
// engine; it crosses processes as JSON.
type Handle struct {
	Name    string `json:"name"`
	Kind    Kind   `json:"kind"`
	Version string `json:"version"`
	Host    bool   `json:"host"`
}

// Start connects to the host's engine or starts one in a container, and
// checks that the running engine reports the declared version. It returns
// the engine even on error, for the caller to Close.
func Start(ctx context.Context, s Spec) (Engine, Handle, error) {
	if s.InContainer {
		return nil, Handle{}, fmt.Errorf("engine %s: engines in containers are not available yet", s.Name)
	}
	e, err := Host(ctx, s.Kind)
	if err != nil {
		return nil, Handle{}, fmt.Errorf("engine %s: %w", s.Name, err)
	}
	h := Handle{Name: s.Name, Kind: s.Kind, Version: e.Version(), Host: true}
	return e, h, checkVersion(s, e.Version())
}

// Connect reaches an engine another process started.
func Connect(ctx context.Context, h Handle) (Engine, error) {
	if !h.Host {
		return nil, fmt.Errorf("engine %s: engines in containers are not available yet", h.Name)
	}
	return Host(ctx, h.Kind)
}

// checkVersion compares a declared version with the running one; a
// declared "20.10" accepts any 20.10.x.
func checkVersion(s Spec, running string) error {
	if running == s.Version || (len(running) > len(s.Version) && running[:len(s.Version)+1] == s.Version+".") {
		return nil
	}
	return fmt.Errorf("engine %s: matrix.yaml declares %s %s, the running engine reports %s", s.Name, s.Kind, s.Version, running)
}

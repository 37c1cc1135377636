// Package engine holds the container engines the build core drives: Docker
// and Podman on the host (and, later, in containers). An engine knows how it
// is reached, how to load an image into it, and what it runs on.
package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Kind is the kind of an engine.
type Kind string

const (
	Docker Kind = "docker"
	Podman Kind = "podman"
)

// ParseKind checks a kind name.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(s); k {
	case Docker, Podman:
		return k, nil
	}
	return "", fmt.Errorf("unknown engine kind %q (want docker or podman)", s)
}

// ErrNotRunning means the engine does not answer.
var ErrNotRunning = errors.New("engine does not answer")

// Engine is a container engine the build core can drive.
type Engine interface {
	Kind() Kind
	// Name is the engine's cell name: kind-version, e.g. docker-20.10.24.
	Name() string
	// Version is the server version the running engine reports.
	Version() string
	// Command returns the engine's CLI bound to this engine (its socket and
	// config folders in the environment).
	Command(ctx context.Context, args ...string) *exec.Cmd
	// Environment records what the engine runs on: versions of the engine,
	// runc, the kernel, the storage driver.
	Environment(ctx context.Context) (map[string]string, error)
	// Close releases what the engine started (nothing for host engines).
	Close(ctx context.Context) error
}

// Run runs an engine command and returns its stdout; a failure carries the
// command line and its stderr.
func Run(ctx context.Context, e Engine, args ...string) (string, error) {
	cmd := e.Command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), &CommandError{Args: cmd.Args, Err: err, Stderr: stderr.String()}
	}
	return stdout.String(), nil
}

// CommandError is an external command that failed, with its output.
type CommandError struct {
	Args   []string
	Err    error
	Stderr string
}

func (e *CommandError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if lines := strings.Split(msg, "\n"); len(lines) > 20 {
		msg = strings.Join(lines[len(lines)-20:], "\n")
	}
	return fmt.Sprintf("%s: %v: %s", strings.Join(e.Args, " "), e.Err, msg)
}

func (e *CommandError) Unwrap() error { return e.Err }

// Load loads a docker-archive tarball into the engine unless an image with
// that ID is already there under ref, so images reach an engine once.
func Load(ctx context.Context, e Engine, ref, id, tarball string) error {
	if got, err := Run(ctx, e, "image", "inspect", "--format", "{{.Id}}", ref); err == nil && strings.TrimSpace(got) == id {
		return nil
	}
	if _, err := Run(ctx, e, "load", "-i", tarball); err != nil {
		return fmt.Errorf("load %s into %s: %w", ref, e.Name(), err)
	}
	return nil
}

// hostEnv is the environment for CLI commands of host engines.
func hostEnv(extra ...string) []string {
	return append(os.Environ(), extra...)
}

// withEnv is an engine whose commands carry extra environment variables:
// a cell's own buildx config folder, for one.
type withEnv struct {
	Engine
	env []string
}

// WithEnv returns e with env added to every command's environment.
func WithEnv(e Engine, env ...string) Engine { return &withEnv{Engine: e, env: env} }

func (w *withEnv) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := w.Engine.Command(ctx, args...)
	cmd.Env = append(cmd.Env, w.env...)
	return cmd
}

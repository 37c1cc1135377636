// Package engine holds the container engines the build core drives: Docker
// and Podman on the host, and Docker and Podman of other versions in
// containers (container.go). An engine knows how it is reached, how to load
// an image into it, what it runs on, and whether it is still alive.
//
// Engines in containers run through testcontainers-go. Callers must
// disable its reaper (Ryuk) where its image cannot be pulled, as on this
// project's machines (cleanup is Close's job, and runner.Sweep's after a
// process killed outright): TESTCONTAINERS_RYUK_DISABLED=true in the
// environment, or ryuk.disabled=true in ~/.testcontainers.properties,
// before the first Start or Connect of an engine in a container
// (testcontainers-go reads it once). The Makefile exports it, the Ginkgo
// suite and this package's end-to-end tests set it when it is unset; the
// package itself changes no process-wide setting. With the reaper on,
// Start tries to pull its image, and fails where it cannot.
package engine

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
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

// ErrEngineDied marks a failure under an engine that was not alive
// afterwards: the engine's failure, not the build's (see Explain).
var ErrEngineDied = errors.New("engine died")

// RunLabel marks everything a run creates (containers, networks, volumes),
// with the run id as its value, so that a later run can sweep leftovers.
const RunLabel = "org.repro-matrix.run"

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
	// Close releases what the engine started (nothing for host engines):
	// a container engine's container, network, volume and folder. An
	// engine from Connect leaves them to the process that started it.
	Close(ctx context.Context) error
	// Alive reports whether the engine still runs and answers; its error
	// wraps ErrNotRunning and says why (container exited, with its code).
	Alive(ctx context.Context) error
	// Logs returns the last lines of the engine daemon's log ("" when the
	// engine has no daemon log, as host Podman).
	Logs(ctx context.Context, lines int) (string, error)
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
// that ID is already there under ref, so images reach an engine once. The
// tarball goes through the CLI's standard input, so it need not be visible
// to the engine (Podman in a container reads it through docker exec).
func Load(ctx context.Context, e Engine, ref, id, tarball string) error {
	if got, err := Run(ctx, e, "image", "inspect", "--format", "{{.Id}}", ref); err == nil && sameID(got, id) {
		return nil
	}
	f, err := os.Open(tarball)
	if err != nil {
		return fmt.Errorf("load %s into %s: %w", ref, e.Name(), err)
	}
	defer f.Close()
	cmd := e.Command(ctx, "load")
	cmd.Stdin = f
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("load %s into %s: %w", ref, e.Name(), &CommandError{Args: cmd.Args, Err: err, Stderr: stderr.String()})
	}
	return nil
}

// sameID compares image IDs with or without their algorithm: Podman prints
// the hex digits only.
func sameID(a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	return a != "" && strings.TrimPrefix(a, "sha256:") == strings.TrimPrefix(b, "sha256:")
}

// Explain tells a failure of the engine from a failure of what ran under
// it. When e is still alive it returns err unchanged; otherwise an error
// that wraps ErrEngineDied and err, names the engine, says why it is not
// alive and carries the engine's last log lines.
func Explain(ctx context.Context, e Engine, err error) error {
	if err == nil {
		return nil
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	alive := e.Alive(actx)
	if alive == nil {
		return err
	}
	logs, lerr := e.Logs(actx, 30)
	if lerr != nil {
		logs = "(no logs: " + lerr.Error() + ")"
	}
	return &DeadError{Engine: e.Name(), Cause: alive, Logs: logs, Err: err}
}

// DeadError is a failure under an engine that died.
type DeadError struct {
	Engine string // the engine's name
	Cause  error  // what Alive reported
	Logs   string // the engine's last log lines
	Err    error  // the failure under the engine
}

func (e *DeadError) Error() string {
	cause := strings.TrimPrefix(e.Cause.Error(), "engine "+e.Engine+": ")
	msg := fmt.Sprintf("engine %s died (%s); the failure under it: %v", e.Engine, cause, e.Err)
	if logs := strings.TrimSpace(e.Logs); logs != "" {
		msg += "\nlast lines of the engine's log:\n" + logs
	}
	return msg
}

func (e *DeadError) Unwrap() []error { return []error{ErrEngineDied, e.Err} }

// Client is the docker CLI and buildx plugin that drive a Docker engine
// when they are not the host's (matrix.yaml's cli and buildx, built from
// the Go module proxy by internal/provision).
type Client struct {
	// Docker is the path of the docker CLI; "" runs the host's docker.
	Docker string `json:"docker,omitempty"`
	// Config is a DOCKER_CONFIG folder whose cli-plugins/docker-buildx is
	// the buildx plugin; "" leaves the host's configuration and plugins.
	Config string `json:"config,omitempty"`
}

// program is the docker CLI to run.
func (c Client) program() string { return cmp.Or(c.Docker, "docker") }

// env sets DOCKER_CONFIG in environ when the client has a folder of its
// own.
func (c Client) env(environ []string) []string {
	if c.Config == "" {
		return environ
	}
	out := slices.DeleteFunc(slices.Clone(environ), func(kv string) bool { return strings.HasPrefix(kv, "DOCKER_CONFIG=") })
	return append(out, "DOCKER_CONFIG="+c.Config)
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

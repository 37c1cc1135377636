package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// The engine container's lifecycle (network, container, state, logs,
// exec, removal) goes through testcontainers-go. What it does not wrap
// goes through the Docker Go client it is built on (github.com/moby/moby/client):
// the provider's own client for a network removed by name, and a client
// on the nested dockerd's socket while waiting for it (ready.go). The
// engine's own CLI (`docker`, `docker exec ... podman`) stays what the
// build core drives (Command).

// hostProvider is testcontainers-go's provider of the host's Docker,
// configured from DOCKER_HOST (or ~/.testcontainers.properties, or the
// default socket), writing its messages to logger. Its reaper setting is
// the process's: see the package doc.
func hostProvider(logger tclog.Logger) (*testcontainers.DockerProvider, error) {
	p, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(logger))
	if err != nil {
		return nil, fmt.Errorf("docker provider: %w", err)
	}
	return p, nil
}

// progressLogger sends testcontainers-go's messages about an engine to
// its progress writer, or nowhere.
func progressLogger(w io.Writer, name string) tclog.Logger {
	if w == nil {
		return tclog.NewNoopLogger()
	}
	return prefixLogger{w: w, prefix: "engine " + name + ": testcontainers: "}
}

// prefixLogger writes testcontainers-go's messages to a progress writer.
type prefixLogger struct {
	w      io.Writer
	prefix string
}

func (l prefixLogger) Printf(format string, v ...any) {
	fmt.Fprintf(l.w, l.prefix+strings.TrimRight(format, "\n")+"\n", v...)
}

// named is testcontainers-go's handle on a container addressed by its name
// (the Docker API takes a name wherever it takes an id): an engine
// container another process started (Connect), or the one Close removes
// when Run handed none back. The handle comes back also when the error
// says the container does not exist. (Its log hooks print the id's first
// 12 characters: the names of resourceNames are longer.)
func named(ctx context.Context, p *testcontainers.DockerProvider, name string) (*testcontainers.DockerContainer, error) {
	return p.ContainerFromType(ctx, container.Summary{ID: name})
}

// containerState is what Alive reports of a container that does not run.
type containerState struct {
	Status    string
	Running   bool
	ExitCode  int
	OOMKilled bool
	Error     string
}

func stateOf(s *container.State) containerState {
	if s == nil {
		return containerState{Status: "unknown"}
	}
	return containerState{Status: string(s.Status), Running: s.Running, ExitCode: s.ExitCode, OOMKilled: s.OOMKilled, Error: s.Error}
}

func (s containerState) String() string {
	msg := s.Status + " (exit code " + strconv.Itoa(s.ExitCode)
	if s.ExitCode == 137 {
		msg += ", killed"
	}
	if s.OOMKilled {
		msg += ", out of memory"
	}
	if s.Error != "" {
		msg += ", " + s.Error
	}
	return msg + ")"
}

// state is the engine container's state as the host's Docker reports it.
func (c *containerEngine) state(ctx context.Context) (containerState, error) {
	if c.ctr == nil {
		return containerState{}, fmt.Errorf("container %s was not created", c.h.Container)
	}
	s, err := c.ctr.State(ctx)
	if err != nil {
		return containerState{}, err
	}
	return stateOf(s), nil
}

// logSource is a container whose log can be read: the engine container
// as testcontainers-go hands it back, or as its wait strategy sees it.
type logSource interface {
	Logs(ctx context.Context) (io.ReadCloser, error)
}

// containerLogs returns the last lines of a container's stdout and stderr,
// interleaved as written, without the final newline.
func containerLogs(ctx context.Context, src logSource, lines int) (string, error) {
	rc, err := src.Logs(ctx)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	return tailLines(rc, lines)
}

// tailLines reads r to its end and keeps its last n lines (at least one),
// without the final newline.
func tailLines(r io.Reader, n int) (string, error) {
	n = max(n, 1)
	ring := make([]string, 0, n)
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			if len(ring) == n {
				ring = append(ring[:0], ring[1:]...)
			}
			ring = append(ring, strings.TrimRight(line, "\n"))
		}
		if errors.Is(err, io.EOF) {
			return strings.Join(ring, "\n"), nil
		}
		if err != nil {
			return strings.Join(ring, "\n"), err
		}
	}
}

// isGone recognises "already gone" in the Docker API's answers: not found,
// or a removal another caller already started. A joined error (as
// testcontainers-go's Terminate returns) is gone when each of its errors is.
func isGone(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				if e != nil && !isGone(e) {
					return false
				}
			}
			return true
		}
	}
	return cerrdefs.IsNotFound(err) || strings.Contains(err.Error(), "already in progress")
}

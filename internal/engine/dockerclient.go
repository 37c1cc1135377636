package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// The lifecycle of an engine's container (network, container, volume),
// its state, logs and readiness probes all go through the Docker Go client:
// one client of the host's Docker per engine, and one on the nested
// dockerd's socket while waiting for it. The engine's own CLI (`docker`,
// `docker exec ... podman`) stays what the build core drives (Command).

// hostDocker is a client of the host's Docker, configured like the docker
// CLI from DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH and
// DOCKER_API_VERSION (the default socket when they are unset); it
// negotiates the API version on first use (20.10's 1.41 and later).
func hostDocker() (*client.Client, error) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return c, nil
}

// inspect returns the engine container's description.
func (c *containerEngine) inspect(ctx context.Context) (container.InspectResponse, error) {
	r, err := c.docker.ContainerInspect(ctx, c.h.Container, client.ContainerInspectOptions{})
	if err != nil {
		return container.InspectResponse{}, err
	}
	if r.Container.State == nil {
		return container.InspectResponse{}, fmt.Errorf("container %s: no state", c.h.Container)
	}
	return r.Container, nil
}

// containerState is what Alive reports of a container that does not run.
type containerState struct {
	Status    string
	Running   bool
	ExitCode  int
	OOMKilled bool
	Error     string
}

func stateOf(ins container.InspectResponse) containerState {
	s := ins.State
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

// containerLogs returns the last lines of the container's stdout and
// stderr, interleaved as written, without the final newline.
func (c *containerEngine) containerLogs(ctx context.Context, lines int) (string, error) {
	rc, err := c.docker.ContainerLogs(ctx, c.h.Container, client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(lines),
	})
	if err != nil {
		return "", fmt.Errorf("logs of container %s: %w", c.h.Container, err)
	}
	defer rc.Close()
	// The container has no TTY: its log comes as a multiplexed stream.
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, rc); err != nil {
		return "", fmt.Errorf("logs of container %s: %w", c.h.Container, err)
	}
	return strings.TrimRight(out.String(), "\n"), nil
}

// execIn runs argv in the engine's container and returns its exit code
// and its stdout and stderr, interleaved. The error is for a command that
// could not be run, not for one that failed.
func (c *containerEngine) execIn(ctx context.Context, argv ...string) (int, string, error) {
	ex, err := c.docker.ExecCreate(ctx, c.h.Container, client.ExecCreateOptions{Cmd: argv, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return 0, "", err
	}
	att, err := c.docker.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		return 0, "", err
	}
	defer att.Close()
	// A hijacked connection ignores the context: close it when ctx ends.
	stop := context.AfterFunc(ctx, att.Close)
	defer stop()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, att.Reader); err != nil {
		return 0, out.String(), errors.Join(err, ctx.Err())
	}
	// The stream ends as the command exits; its exit code may lag a little.
	for {
		r, err := c.docker.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
		if err != nil {
			return 0, out.String(), err
		}
		if !r.Running {
			return r.ExitCode, out.String(), nil
		}
		select {
		case <-ctx.Done():
			return 0, out.String(), ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// isGone recognises "already gone" in the Docker API's answers: not found,
// or a removal another caller already started.
func isGone(err error) bool {
	return cerrdefs.IsNotFound(err) || strings.Contains(err.Error(), "already in progress")
}

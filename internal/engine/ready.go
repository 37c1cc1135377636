package engine

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/repro-matrix/repro-matrix/internal/provision"
)

// probe checks once whether the engine in a running container answers;
// ins is the container as last inspected.
type probe func(ctx context.Context, target wait.StrategyTarget, ins *container.InspectResponse) error

// engineReady is the wait strategy testcontainers-go runs once it has
// started an engine container (its deadline is startTimeout): it polls the
// probe every 250 ms and fails as soon as the container no longer runs,
// and on timeout, with the container's last log lines either way.
type engineReady struct {
	probe probe
}

// readyFor is the wait strategy of an engine kind.
func readyFor(h Handle) engineReady {
	if h.Kind == Podman {
		return engineReady{probe: podmanReady}
	}
	return engineReady{probe: dockerReady(h.Socket)}
}

func (w engineReady) String() string { return "the engine answers" }

func (w engineReady) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	var last error
	for {
		ins, err := target.Inspect(ctx)
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("engine container state: %w", err)
		}
		if err == nil {
			if st := stateOf(ins.State); !st.Running {
				return fmt.Errorf("engine container %s%s", st, logTail(ctx, target))
			}
			if last = w.probe(ctx, target, ins); last == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("engine did not answer: %w (last: %v)%s", ctx.Err(), last, logTail(context.WithoutCancel(ctx), target))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// logTail is "; last lines of its log:\n..." for an error, or "" when the
// log cannot be read or is empty.
func logTail(ctx context.Context, src logSource) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if s, err := containerLogs(ctx, src, 20); err == nil && strings.TrimSpace(s) != "" {
		return "; " + logTailIntro + s
	}
	return ""
}

// logTailIntro marks an error that already carries the log's last lines.
const logTailIntro = "last lines of its log:\n"

// dockerReady checks, from the host, that the nested dockerd answers on
// its socket (through the Docker Go client testcontainers-go is built on)
// and that the registry sidecar answers on its published port.
func dockerReady(socket string) probe {
	return func(ctx context.Context, _ wait.StrategyTarget, ins *container.InspectResponse) error {
		nested, err := client.New(client.WithHost("unix://" + socket))
		if err != nil {
			return err
		}
		defer nested.Close()
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if _, err := nested.Ping(pctx, client.PingOptions{}); err != nil {
			return fmt.Errorf("docker API on %s: %w", socket, err)
		}
		port, err := publishedPort(ins)
		if err != nil {
			return err
		}
		return registryAnswers(ctx, "127.0.0.1:"+port)
	}
}

// publishedPort is the host port of the registry sidecar on the host's
// loopback.
func publishedPort(ins *container.InspectResponse) (string, error) {
	if ins != nil && ins.NetworkSettings != nil {
		for _, b := range ins.NetworkSettings.Ports[registryPort] {
			if b.HostPort != "" && b.HostPort != "0" {
				return b.HostPort, nil
			}
		}
	}
	return "", fmt.Errorf("registry sidecar port %s is not published", registryPort)
}

// registryAnswers checks a registry's /v2/ endpoint (the distribution API,
// not Docker's: plain HTTP is its client).
func registryAnswers(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("registry sidecar on %s: %w", addr, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("registry sidecar on %s: %s", addr, resp.Status)
	}
	return nil
}

// podmanReady checks, inside the container (testcontainers-go's exec),
// that the entrypoint has written Podman's configuration and that podman
// answers.
func podmanReady(ctx context.Context, target wait.StrategyTarget, _ *container.InspectResponse) error {
	code, out, err := target.Exec(ctx, []string{"sh", "-c", "test -e " + provision.EngineSocketDir + "/ready && podman info --format '{{.Version.Version}}'"}, tcexec.Multiplexed())
	if err != nil {
		return err
	}
	if code != 0 {
		b, _ := io.ReadAll(out)
		return fmt.Errorf("podman info: exit code %d: %s", code, lastLines(string(b), 3))
	}
	return nil
}

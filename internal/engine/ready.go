package engine

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/repro-matrix/repro-matrix/internal/provision"
)

// probe checks once whether the engine in a running container answers;
// ins is the container as last inspected.
type probe func(ctx context.Context, ins container.InspectResponse) error

// probeFor is the readiness probe of an engine kind.
func (c *containerEngine) probeFor(k Kind) probe {
	if k == Podman {
		return c.podmanReady
	}
	return c.dockerReady
}

// waitReady polls the probe every 250 ms for at most startTimeout. It fails
// as soon as the container no longer runs, and on timeout, with the
// container's last log lines either way.
func (c *containerEngine) waitReady(ctx context.Context, ready probe) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	var last error
	for {
		ins, err := c.inspect(ctx)
		if err != nil {
			return fmt.Errorf("engine container state: %w", err)
		}
		if st := stateOf(ins); !st.Running {
			return fmt.Errorf("engine container %s%s", st, c.logTail(ctx))
		}
		if last = ready(ctx, ins); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("engine did not answer: %w (last: %v)%s", ctx.Err(), last, c.logTail(context.WithoutCancel(ctx)))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// logTail is "; last lines of its log:\n..." for an error, or "" when the
// log cannot be read or is empty.
func (c *containerEngine) logTail(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if s, err := c.containerLogs(ctx, 20); err == nil && strings.TrimSpace(s) != "" {
		return "; " + logTailIntro + s
	}
	return ""
}

// logTailIntro marks an error that already carries the log's last lines.
const logTailIntro = "last lines of its log:\n"

// dockerReady checks, from the host, that the nested dockerd answers on
// its socket and that the registry sidecar answers on its published port.
func (c *containerEngine) dockerReady(ctx context.Context, ins container.InspectResponse) error {
	nested, err := client.New(client.WithHost("unix://" + c.h.Socket))
	if err != nil {
		return err
	}
	defer nested.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := nested.Ping(pctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("docker API on %s: %w", c.h.Socket, err)
	}
	port, err := publishedPort(ins)
	if err != nil {
		return err
	}
	return registryAnswers(ctx, "127.0.0.1:"+port)
}

// publishedPort is the host port of the registry sidecar on the host's
// loopback.
func publishedPort(ins container.InspectResponse) (string, error) {
	if ins.NetworkSettings != nil {
		for _, b := range ins.NetworkSettings.Ports[registryPort] {
			if b.HostPort != "" {
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

// podmanReady checks, inside the container, that the entrypoint has
// written Podman's configuration and that podman answers.
func (c *containerEngine) podmanReady(ctx context.Context, _ container.InspectResponse) error {
	code, out, err := c.execIn(ctx, "sh", "-c", "test -e "+provision.EngineSocketDir+"/ready && podman info --format '{{.Version.Version}}'")
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("podman info: exit code %d: %s", code, lastLines(out, 3))
	}
	return nil
}

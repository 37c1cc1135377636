package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// Docker and Podman of other versions than the host's run as privileged
// containers on the host's Docker, run, inspected and terminated through
// testcontainers-go (lifecycle.go, dockerclient.go; readiness probes, its
// wait strategy, in ready.go). Its reaper is not used (see the package
// doc): nothing runs in the background to clean up after a process killed
// outright; what a run creates carries RunLabel, and runner.Sweep removes
// leftovers.
//
//   - Docker in a container runs on a network the run creates, in its own
//     network namespace: a nested dockerd on the host's network deletes the
//     host's docker0 bridge (shared/ENVIRONMENT.md, trap 4). Its API is a
//     unix socket in a host folder bind-mounted at
//     provision.EngineSocketDir; the host's docker CLI and buildx plugin
//     drive it with DOCKER_HOST. BuildKit builders under it (network=host)
//     live in the engine container's namespace, where 127.0.0.1 is that
//     container: a registry sidecar in the engine container serves base
//     images there (Handle.Registry), published on the host's 127.0.0.1
//     for pushes (Handle.RegistryPush).
//   - Podman in a container runs on the host's network (it leaves docker0
//     alone and reaches the run's loopback registry) and is driven through
//     `docker exec -i <container> podman ...`: the host's Podman 4 client
//     cannot talk to a Podman 5 service. Host folders that its commands
//     name (Spec.Mounts, Spec.Dir) are bind-mounted at the same paths.
//
// Each engine keeps its store on a labelled volume (overlay on the
// container's overlay root would fail), removed by Close.

// containerEngine is an engine in a container.
type containerEngine struct {
	h        Handle
	owner    bool // started by this process: Close removes what start created
	res      resources
	provider *testcontainers.DockerProvider // the host's Docker
	// ctr is the engine container: as Run handed it back (nil when it
	// handed none back), or found by its name (Connect).
	ctr  *testcontainers.DockerContainer
	netw *testcontainers.DockerNetwork // the run's network, once created (Docker only)
}

// resources are the names of what start creates, known before creating
// them, so that Close removes them after any partial failure.
type resources struct {
	Container string
	Network   string // Docker only
	Volume    string
	Dir       string
}

// resourceNames derives the names of an engine's container, network,
// volume and folder from the run and the engine's name.
func resourceNames(s Spec) (resources, error) {
	if s.RunID == "" {
		return resources{}, errors.New("no run id: what the engine creates must carry one")
	}
	if s.Dir == "" {
		return resources{}, errors.New("no run folder for the engine's socket")
	}
	dir, err := filepath.Abs(s.Dir)
	if err != nil {
		return resources{}, err
	}
	base := "repro-matrix-" + safeName(s.RunID) + "-" + safeName(s.Name)
	r := resources{Container: base, Volume: base + "-store", Dir: filepath.Join(dir, "engines", safeName(s.Name))}
	if s.Kind == Docker {
		r.Network = base
	}
	return r, nil
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// safeName keeps the characters Docker allows in container names.
func safeName(s string) string { return strings.Trim(unsafeName.ReplaceAllString(s, "-"), "-.") }

// maxSocketPath is the longest unix socket path Linux takes (sun_path is
// 108 bytes with its terminating zero), with a margin.
const maxSocketPath = 104

// socketPath is the host path of a Docker engine's socket in its folder.
func socketPath(dir string) (string, error) {
	p := filepath.Join(dir, "docker.sock")
	if len(p) > maxSocketPath {
		return "", fmt.Errorf("socket path %s is %d bytes, longer than unix sockets allow (%d): use a shorter run folder", p, len(p), maxSocketPath)
	}
	return p, nil
}

// connectContainer reaches an engine container another process started.
func connectContainer(ctx context.Context, h Handle) (*containerEngine, error) {
	if h.Container == "" || (h.Kind == Docker && h.Socket == "") {
		return nil, fmt.Errorf("engine %s: the handle names no container or socket", h.Name)
	}
	p, err := hostProvider(progressLogger(nil, h.Name))
	if err != nil {
		return nil, fmt.Errorf("engine %s: %w", h.Name, err)
	}
	ctr, err := named(ctx, p, h.Container)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("engine %s: %w: container %s: %w", h.Name, ErrNotRunning, h.Container, err)
	}
	c := &containerEngine{h: h, provider: p, ctr: ctr}
	if err := c.check(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return c, nil
}

// check requires a connected engine to be alive and to run the version
// its handle names.
func (c *containerEngine) check(ctx context.Context) error {
	if err := c.Alive(ctx); err != nil {
		return err
	}
	v, err := serverVersion(ctx, c)
	if err != nil {
		return fmt.Errorf("engine %s: %w: %w", c.h.Name, ErrNotRunning, err)
	}
	if v != c.h.Version {
		return fmt.Errorf("engine %s: the handle says version %s, the engine reports %s", c.h.Name, c.h.Version, v)
	}
	return nil
}

func (c *containerEngine) Kind() Kind      { return c.h.Kind }
func (c *containerEngine) Name() string    { return c.h.Name }
func (c *containerEngine) Version() string { return c.h.Version }

// Handle returns how other processes reach the engine.
func (c *containerEngine) Handle() Handle { return c.h }

// Command is the host's docker CLI on the nested dockerd's socket, or
// podman run through `docker exec -i` in the engine container.
func (c *containerEngine) Command(ctx context.Context, args ...string) *exec.Cmd {
	name, argv, env := c.commandLine(args)
	cmd := exec.CommandContext(ctx, name, argv...)
	cmd.Env = env
	return cmd
}

// commandLine is the program, arguments and environment of an engine
// command.
func (c *containerEngine) commandLine(args []string) (string, []string, []string) {
	if c.h.Kind == Podman {
		return "docker", append([]string{"exec", "-i", c.h.Container, "podman"}, args...), hostEnv()
	}
	return c.h.Client.program(), args, c.h.Client.env(dockerEnv(os.Environ(), c.h.Socket, filepath.Join(c.h.Dir, "buildx")))
}

// dockerEnv points the docker CLI (and its buildx plugin) at a socket,
// dropping whatever would point it elsewhere; buildx keeps its builders in
// the engine's own folder unless a cell gives its own BUILDX_CONFIG.
func dockerEnv(environ []string, socket, buildx string) []string {
	out := make([]string, 0, len(environ)+2)
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_TLS", "BUILDX_CONFIG", "BUILDX_BUILDER":
			continue
		}
		out = append(out, kv)
	}
	return append(out, "DOCKER_HOST=unix://"+socket, "BUILDX_CONFIG="+buildx)
}

// Alive checks that the engine's container runs and the engine answers.
func (c *containerEngine) Alive(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	st, err := c.state(ctx)
	if err != nil {
		return fmt.Errorf("engine %s: %w: container %s: %w", c.h.Name, ErrNotRunning, c.h.Container, err)
	}
	if !st.Running {
		return fmt.Errorf("engine %s: %w: container %s is %s", c.h.Name, ErrNotRunning, c.h.Container, st)
	}
	if _, err := serverVersion(ctx, c); err != nil {
		return fmt.Errorf("engine %s: %w: container %s runs but the engine does not answer: %w", c.h.Name, ErrNotRunning, c.h.Container, err)
	}
	return nil
}

// Logs returns the last lines of the engine container's log: dockerd's
// (and the registry sidecar's), or Podman's entrypoint.
func (c *containerEngine) Logs(ctx context.Context, lines int) (string, error) {
	if c.ctr == nil {
		return "", fmt.Errorf("logs of container %s: it was not created", c.h.Container)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := containerLogs(ctx, c.ctr, lines)
	if err != nil {
		return out, fmt.Errorf("logs of container %s: %w", c.h.Container, err)
	}
	return out, nil
}

// Environment reads the record of the engine in its container.
func (c *containerEngine) Environment(ctx context.Context) (map[string]string, error) {
	env, err := environment(ctx, c)
	env["where"] = "container"
	env["engine_image"] = c.h.Image
	return env, err
}

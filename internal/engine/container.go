package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/repro-matrix/repro-matrix/internal/provision"
)

// Docker and Podman of other versions than the host's run as privileged
// containers on the host's Docker, started and removed through
// testcontainers-go (its reaper disabled: it cannot be pulled here; what a
// run creates carries RunLabel, and runner.Sweep removes leftovers).
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

// engineLabel names the engine a container, network or volume belongs to.
const engineLabel = "org.repro-matrix.engine"

// Timeouts of an engine container's start.
const (
	startTimeout = 3 * time.Minute
	stopTimeout  = 10 * time.Second
)

// containerEngine is an engine in a container.
type containerEngine struct {
	h     Handle
	owner bool // started by this process: Close removes what start created
	res   resources
	ctr   *testcontainers.DockerContainer
	netw  *testcontainers.DockerNetwork
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

// startContainer starts the engine's container from Spec.Image, which the
// host's Docker already holds. It returns the engine (for
// Close) whenever it created anything.
func startContainer(ctx context.Context, s Spec) (*containerEngine, Handle, error) {
	fail := func(c *containerEngine, err error) (*containerEngine, Handle, error) {
		return c, Handle{}, fmt.Errorf("engine %s: %w", s.Name, err)
	}
	if s.Kind != Docker && s.Kind != Podman {
		return fail(nil, fmt.Errorf("kind %q: want docker or podman", s.Kind))
	}
	res, err := resourceNames(s)
	if err != nil {
		return fail(nil, err)
	}
	h := Handle{Name: s.Name, Kind: s.Kind, Container: res.Container, Dir: res.Dir}
	if s.Kind == Docker {
		if h.Socket, err = socketPath(res.Dir); err != nil {
			return fail(nil, err)
		}
	}
	progress := s.Log
	if progress == nil {
		progress = io.Discard
	}
	step := func(what string, start time.Time) {
		fmt.Fprintf(progress, "engine %s: %s in %s\n", s.Name, what, time.Since(start).Round(10*time.Millisecond))
	}

	if s.Image == "" {
		return fail(nil, errors.New("no engine image: the run obtains it (internal/images)"))
	}
	h.Image = s.Image

	c := &containerEngine{h: h, owner: true, res: res}
	if err := os.MkdirAll(res.Dir, 0o755); err != nil {
		return fail(c, err)
	}
	// The reaper cannot be pulled here; cleanup is Close's and Sweep's job.
	// testcontainers-go reads this once, at its first use.
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	var logger tclog.Logger = tclog.NewNoopLogger()
	if s.Log != nil {
		logger = prefixLogger{w: s.Log, prefix: "engine " + s.Name + ": testcontainers: "}
	}
	labels := map[string]string{RunLabel: s.RunID, engineLabel: s.Name}

	t := time.Now()
	if s.Kind == Docker {
		// network.New cannot name a network; ours start with repro-matrix-.
		p, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(logger))
		if err != nil {
			return fail(c, fmt.Errorf("create network %s: %w", res.Network, err))
		}
		n, err := p.CreateNetwork(ctx, testcontainers.NetworkRequest{Name: res.Network, Driver: "bridge", Labels: copyLabels(labels)})
		if n != nil {
			c.netw, _ = n.(*testcontainers.DockerNetwork)
		}
		if err != nil {
			return fail(c, fmt.Errorf("create network %s: %w", res.Network, err))
		}
	}
	ctr, err := testcontainers.Run(ctx, h.Image, containerOptions(s, res, labels, logger)...)
	if ctr != nil {
		c.ctr = ctr
	}
	if err != nil {
		return fail(c, c.startError(err))
	}
	step("container "+res.Container+" started, engine answers", t)

	if s.Kind == Docker {
		port, err := ctr.MappedPort(ctx, registryPort)
		if err != nil {
			return fail(c, fmt.Errorf("registry sidecar port: %w", err))
		}
		c.h.Registry = "127.0.0.1:" + strconv.Itoa(provision.EngineRegistryPort)
		c.h.RegistryPush = "127.0.0.1:" + port.Port()
	}
	v, err := serverVersion(ctx, c)
	if err != nil {
		return fail(c, fmt.Errorf("read the running version: %w", err))
	}
	c.h.Version = v
	if err := checkVersion(s, v); err != nil {
		return c, c.h, err
	}
	return c, c.h, nil
}

// registryPort is the sidecar registry's port in the engine container.
var registryPort = strconv.Itoa(provision.EngineRegistryPort) + "/tcp"

// containerOptions are the testcontainers-go options of an engine's
// container.
func containerOptions(s Spec, res resources, labels map[string]string, logger tclog.Logger) []testcontainers.ContainerCustomizer {
	storage := "/var/lib/docker"
	if s.Kind == Podman {
		storage = "/var/lib/containers"
	}
	mounts := []mount.Mount{
		{Type: mount.TypeBind, Source: res.Dir, Target: provision.EngineSocketDir},
		{Type: mount.TypeVolume, Source: res.Volume, Target: storage, VolumeOptions: &mount.VolumeOptions{Labels: copyLabels(labels)}},
	}
	for _, m := range sameMounts(s) {
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: m, Target: m})
	}
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithLogger(logger),
		testcontainers.WithName(res.Container),
		testcontainers.WithLabels(copyLabels(labels)),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.Privileged = true
			// A cgroup namespace of its own: on a cgroup v1 host a privileged
			// container otherwise sees the host's hierarchy, and the nested
			// engine's cgroups would land (and, if it is killed, stay) at the
			// host's root instead of under the engine container's cgroup.
			hc.CgroupnsMode = container.CgroupnsModePrivate
			hc.Mounts = append(hc.Mounts, mounts...)
			if s.Kind == Podman {
				hc.NetworkMode = "host"
				return
			}
			hc.PortBindings = network.PortMap{
				network.MustParsePort(registryPort): {{HostIP: loopback, HostPort: ""}},
			}
		}),
	}
	if s.Kind == Docker {
		opts = append(opts,
			testcontainers.WithEnv(map[string]string{
				// All addresses of the engine container's own namespace: its
				// loopback for BuildKit, its address on the run's network for
				// the port published on the host's loopback.
				"REPRO_REGISTRY_ADDR": ":" + strconv.Itoa(provision.EngineRegistryPort),
			}),
			testcontainers.WithExposedPorts(registryPort),
			testcontainers.CustomizeRequestOption(func(req *testcontainers.GenericContainerRequest) error {
				req.Networks = []string{res.Network}
				return nil
			}),
			testcontainers.WithWaitStrategyAndDeadline(startTimeout, &engineReady{check: dockerReady(res.Dir)}),
		)
	} else {
		opts = append(opts, testcontainers.WithWaitStrategyAndDeadline(startTimeout, &engineReady{check: podmanReady}))
	}
	return opts
}

// loopback is the only host address an engine publishes on.
var loopback = netip.MustParseAddr("127.0.0.1")

// sameMounts are the host folders mounted at the same path: Spec.Mounts,
// and for Podman Spec.Dir; sorted parents first, without duplicates.
func sameMounts(s Spec) []string {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if p == "" {
			return
		}
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	if s.Kind == Podman {
		add(s.Dir)
	}
	for _, m := range s.Mounts {
		add(m)
	}
	return out
}

func copyLabels(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// engineReady waits until the engine in the container answers; it fails
// as soon as the container is no longer running, with its last log lines.
type engineReady struct {
	check func(ctx context.Context, target wait.StrategyTarget) error
}

func (w *engineReady) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	var last error
	for {
		state, err := target.State(ctx)
		if err != nil {
			return fmt.Errorf("engine container state: %w", err)
		}
		if !state.Running {
			return fmt.Errorf("engine container %s (exit code %d)%s", state.Status, state.ExitCode, logTail(ctx, target))
		}
		if last = w.check(ctx, target); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("engine did not answer: %w (last: %v)%s", ctx.Err(), last, logTail(context.WithoutCancel(ctx), target))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// logTail returns the last lines of a container's log for an error.
func logTail(ctx context.Context, target wait.StrategyTarget) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rc, err := target.Logs(ctx)
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
	if s := lastLines(string(b), 20); strings.TrimSpace(s) != "" {
		return "; last lines of its log:\n" + s
	}
	return ""
}

// dockerReady checks, from the host, that the nested dockerd answers on
// its socket and that the registry sidecar answers on the published port.
func dockerReady(dir string) func(ctx context.Context, target wait.StrategyTarget) error {
	return func(ctx context.Context, target wait.StrategyTarget) error {
		sock, err := socketPath(dir)
		if err != nil {
			return err
		}
		if _, err := dockerAPIVersion(ctx, sock); err != nil {
			return err
		}
		port, err := target.MappedPort(ctx, registryPort)
		if err != nil {
			return err
		}
		return registryAnswers(ctx, "127.0.0.1:"+port.Port())
	}
}

// dockerAPIVersion asks a dockerd for its version over its unix socket.
func dockerAPIVersion(ctx context.Context, sock string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/version", nil)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", fmt.Errorf("docker API on %s: %w", sock, err)
	}
	defer resp.Body.Close()
	var v struct{ Version string }
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("docker API on %s: %s (%v)", sock, resp.Status, err)
	}
	return v.Version, nil
}

// registryAnswers checks a registry's /v2/ endpoint.
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
func podmanReady(ctx context.Context, target wait.StrategyTarget) error {
	code, out, err := target.Exec(ctx, []string{"sh", "-c", "test -e " + provision.EngineSocketDir + "/ready && podman info --format '{{.Version.Version}}'"})
	if err != nil {
		return err
	}
	if code != 0 {
		b, _ := io.ReadAll(out)
		return fmt.Errorf("podman info: exit code %d: %s", code, lastLines(string(b), 3))
	}
	return nil
}

// startError adds the container's last log lines to a start failure.
func (c *containerEngine) startError(err error) error {
	if c.ctr == nil || strings.Contains(err.Error(), "last lines of its log") {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if logs, lerr := c.Logs(ctx, 20); lerr == nil && strings.TrimSpace(logs) != "" {
		return fmt.Errorf("%w; last lines of its log:\n%s", err, logs)
	}
	return err
}

// connectContainer reaches an engine container another process started.
func connectContainer(ctx context.Context, h Handle) (*containerEngine, error) {
	if h.Container == "" || (h.Kind == Docker && h.Socket == "") {
		return nil, fmt.Errorf("engine %s: the handle names no container or socket", h.Name)
	}
	c := &containerEngine{h: h}
	if err := c.Alive(ctx); err != nil {
		return nil, err
	}
	v, err := serverVersion(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("engine %s: %w: %w", h.Name, ErrNotRunning, err)
	}
	if v != h.Version {
		return nil, fmt.Errorf("engine %s: the handle says version %s, the engine reports %s", h.Name, h.Version, v)
	}
	return c, nil
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
	return "docker", args, dockerEnv(os.Environ(), c.h.Socket, filepath.Join(c.h.Dir, "buildx"))
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

// hostDocker runs the host's docker CLI on the host's engine.
func hostDocker(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = hostEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), &CommandError{Args: cmd.Args, Err: err, Stderr: stderr.String()}
	}
	return stdout.String(), nil
}

// containerState is what Alive needs of `docker inspect`.
type containerState struct {
	Status    string
	Running   bool
	ExitCode  int
	OOMKilled bool
	Error     string
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

// Alive checks that the engine's container runs and the engine answers.
func (c *containerEngine) Alive(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := hostDocker(ctx, "container", "inspect", "--format", "{{json .State}}", c.h.Container)
	if err != nil {
		return fmt.Errorf("engine %s: %w: container %s: %w", c.h.Name, ErrNotRunning, c.h.Container, err)
	}
	var st containerState
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return fmt.Errorf("engine %s: container %s state %q: %w", c.h.Name, c.h.Container, strings.TrimSpace(out), err)
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
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "logs", "--tail", strconv.Itoa(lines), c.h.Container)
	cmd.Env = hostEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", &CommandError{Args: cmd.Args, Err: err, Stderr: string(out)}
	}
	return strings.TrimRight(string(out), "\n"), nil
}

// Environment reads the record of the engine in its container.
func (c *containerEngine) Environment(ctx context.Context) (map[string]string, error) {
	env, err := environment(ctx, c)
	env["where"] = "container"
	env["engine_image"] = c.h.Image
	return env, err
}

// Close removes the engine's container (with its volume), its network and
// its folder, whatever state they are in. It does nothing for an engine
// from Connect.
func (c *containerEngine) Close(ctx context.Context) error {
	if !c.owner {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	var errs []error
	if c.ctr != nil {
		err := testcontainers.TerminateContainer(c.ctr, testcontainers.StopContext(ctx),
			testcontainers.StopTimeout(stopTimeout), testcontainers.RemoveVolumes(c.res.Volume))
		if err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove container %s: %w", c.res.Container, err))
		}
		c.ctr = nil
	}
	// What testcontainers-go did not hand back (a failed create) goes by name.
	if _, err := hostDocker(ctx, "container", "rm", "--force", "--volumes", c.res.Container); err != nil && !isNotFound(err) {
		errs = append(errs, err)
	}
	if _, err := hostDocker(ctx, "volume", "rm", "--force", c.res.Volume); err != nil && !isNotFound(err) {
		errs = append(errs, err)
	}
	if c.netw != nil {
		if err := c.netw.Remove(ctx); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove network %s: %w", c.res.Network, err))
		}
		c.netw = nil
	}
	if c.res.Network != "" {
		if _, err := hostDocker(ctx, "network", "rm", c.res.Network); err != nil && !isNotFound(err) {
			errs = append(errs, err)
		}
	}
	if c.res.Dir != "" {
		if err := os.RemoveAll(c.res.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close engine %s: %w", c.h.Name, err)
	}
	return nil
}

// isNotFound recognises "already gone" in Docker's answers.
func isNotFound(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "no such") || strings.Contains(msg, "not found") || strings.Contains(msg, "is already in progress")
}

// prefixLogger writes testcontainers-go's messages to a progress writer.
type prefixLogger struct {
	w      io.Writer
	prefix string
}

func (l prefixLogger) Printf(format string, v ...any) {
	fmt.Fprintf(l.w, l.prefix+strings.TrimRight(format, "\n")+"\n", v...)
}

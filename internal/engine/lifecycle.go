package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/repro-matrix/repro-matrix/internal/provision"
)

// engineLabel names the engine a container, network or volume belongs to.
const engineLabel = "org.repro-matrix.engine"

// Timeouts of an engine container's start and stop.
const (
	startTimeout = 3 * time.Minute
	stopTimeout  = 10 * time.Second
)

// registryPort is the sidecar registry's port in a Docker engine container.
var registryPort = network.MustParsePort(strconv.Itoa(provision.EngineRegistryPort) + "/tcp")

// loopback is the only host address an engine publishes on.
var loopback = netip.MustParseAddr("127.0.0.1")

// startContainer starts the engine's container from Spec.Image, which the
// host's Docker already holds, through testcontainers-go, whose wait
// strategy (ready.go) returns once the engine answers (at most
// startTimeout). It returns the engine (for Close) whenever it may have
// created anything, also with an error.
func startContainer(ctx context.Context, s Spec) (*containerEngine, Handle, error) {
	fail := func(c *containerEngine, err error) (*containerEngine, Handle, error) {
		return c, Handle{}, fmt.Errorf("engine %s: %w", s.Name, err)
	}
	h, res, err := plan(s)
	if err != nil {
		return fail(nil, err)
	}
	logger := progressLogger(s.Log, s.Name)
	p, err := hostProvider(logger)
	if err != nil {
		return fail(nil, err)
	}
	c := &containerEngine{h: h, owner: true, res: res, provider: p}
	if err := os.MkdirAll(res.Dir, 0o755); err != nil {
		return fail(c, err)
	}
	progress := s.Log
	if progress == nil {
		progress = io.Discard
	}
	t := time.Now()
	if err := c.create(ctx, s, logger); err != nil {
		return fail(c, c.startError(err))
	}
	fmt.Fprintf(progress, "engine %s: container %s started, engine answers in %s\n", s.Name, res.Container, time.Since(t).Round(10*time.Millisecond))
	if err := c.readHandle(ctx); err != nil {
		return fail(c, err)
	}
	if err := checkVersion(s, c.h.Version); err != nil {
		return c, c.h, err
	}
	if s.Store != "" {
		got, err := imageStore(ctx, c)
		switch {
		case err != nil:
			return c, c.h, fmt.Errorf("engine %s: read its image store: %w", s.Name, err)
		case got != s.Store:
			return c, c.h, fmt.Errorf("engine %s: asked for the %s image store, the engine runs the %s one", s.Name, s.Store, got)
		}
	}
	return c, c.h, nil
}

// plan checks the spec of an engine in a container and derives the names
// of what its start creates and its handle, less what only the running
// engine tells (version, registry port).
func plan(s Spec) (Handle, resources, error) {
	if s.Kind != Docker && s.Kind != Podman {
		return Handle{}, resources{}, fmt.Errorf("kind %q: want docker or podman", s.Kind)
	}
	res, err := resourceNames(s)
	if err != nil {
		return Handle{}, resources{}, err
	}
	switch {
	case s.Store != "" && s.Kind != Docker:
		return Handle{}, resources{}, fmt.Errorf("image store %q: only Docker takes one", s.Store)
	case s.Store != "" && s.Store != StoreContainerd && s.Store != StoreClassic:
		return Handle{}, resources{}, fmt.Errorf("image store %q: want %s or %s", s.Store, StoreContainerd, StoreClassic)
	case s.Client != (Client{}) && s.Kind != Docker:
		return Handle{}, resources{}, errors.New("only Docker takes a client of its own")
	}
	h := Handle{Name: s.Name, Kind: s.Kind, Container: res.Container, Dir: res.Dir, Image: s.Image, Client: s.Client}
	if s.Kind == Docker {
		if h.Socket, err = socketPath(res.Dir); err != nil {
			return Handle{}, resources{}, err
		}
	}
	if s.Image == "" {
		return Handle{}, resources{}, errors.New("no engine image: the run obtains it (internal/images)")
	}
	return h, res, nil
}

// create makes the engine's network (Docker only) and runs its container,
// with its store volume, until the engine answers. All of them carry the
// run's and the engine's labels and the names of c.res, by which Close
// removes them.
func (c *containerEngine) create(ctx context.Context, s Spec, logger tclog.Logger) error {
	labels := map[string]string{RunLabel: s.RunID, engineLabel: s.Name}
	if c.res.Network != "" {
		// network.New names its networks itself; the provider's
		// CreateNetwork takes the name Close and Sweep know.
		n, err := c.provider.CreateNetwork(ctx, testcontainers.NetworkRequest{Name: c.res.Network, Driver: "bridge", Labels: maps.Clone(labels)})
		if dn, ok := n.(*testcontainers.DockerNetwork); ok && dn.ID != "" {
			c.netw = dn
		}
		if err != nil {
			return fmt.Errorf("create network %s: %w", c.res.Network, err)
		}
	}
	ctr, err := testcontainers.Run(ctx, s.Image, containerOptions(s, c.h, c.res, labels, logger)...)
	if ctr != nil {
		c.ctr = ctr
	}
	if err != nil {
		return fmt.Errorf("run container %s: %w", c.res.Container, err)
	}
	return nil
}

// containerOptions are the testcontainers-go options of the engine's
// container: privileged, its store on a volume, its socket folder and
// Spec.Mounts bind-mounted, its wait strategy; Docker on the run's network
// with its registry sidecar published on the host's loopback, Podman on
// the host's network.
func containerOptions(s Spec, h Handle, res resources, labels map[string]string, logger tclog.Logger) []testcontainers.ContainerCustomizer {
	storage := "/var/lib/docker"
	if s.Kind == Podman {
		storage = "/var/lib/containers"
	}
	mounts := []mount.Mount{
		{Type: mount.TypeBind, Source: res.Dir, Target: provision.EngineSocketDir},
		{Type: mount.TypeVolume, Source: res.Volume, Target: storage, VolumeOptions: &mount.VolumeOptions{Labels: maps.Clone(labels)}},
	}
	for _, m := range sameMounts(s) {
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: m, Target: m})
	}
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithLogger(logger),
		testcontainers.WithName(res.Container),
		testcontainers.WithLabels(labels),
		testcontainers.WithWaitStrategyAndDeadline(startTimeout, readyFor(h)),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.Privileged = true
			// A cgroup namespace of its own: on a cgroup v1 host a privileged
			// container otherwise sees the host's hierarchy, and the nested
			// engine's cgroups would land (and, if it is killed, stay) at the
			// host's root instead of under the engine container's cgroup.
			hc.CgroupnsMode = container.CgroupnsModePrivate
			hc.Mounts = append(hc.Mounts, mounts...)
			if s.Kind == Podman {
				hc.NetworkMode = network.NetworkHost
				return
			}
			hc.NetworkMode = container.NetworkMode(res.Network)
			hc.PortBindings = network.PortMap{registryPort: {{HostIP: loopback}}}
		}),
	}
	if s.Kind == Podman {
		return opts
	}
	if s.Store != "" {
		opts = append(opts, testcontainers.WithCmdArgs("--feature", "containerd-snapshotter="+strconv.FormatBool(s.Store == StoreContainerd)))
	}
	return append(opts,
		// All addresses of the engine container's own namespace: its
		// loopback for BuildKit, its address on the run's network for the
		// port published on the host's loopback.
		testcontainers.WithEnv(map[string]string{"REPRO_REGISTRY_ADDR": ":" + strconv.Itoa(provision.EngineRegistryPort)}),
		testcontainers.WithExposedPorts(registryPort.String()),
		testcontainers.CustomizeRequestOption(func(req *testcontainers.GenericContainerRequest) error {
			req.Networks = []string{res.Network}
			return nil
		}),
	)
}

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

// startError adds the container's last log lines to a start failure that
// does not carry them yet.
func (c *containerEngine) startError(err error) error {
	if c.ctr == nil || strings.Contains(err.Error(), logTailIntro) {
		return err
	}
	return fmt.Errorf("%w%s", err, logTail(context.Background(), c.ctr))
}

// readHandle completes the handle from the running engine: the registry
// sidecar's addresses (Docker only) and the version the engine reports.
func (c *containerEngine) readHandle(ctx context.Context) error {
	if c.h.Kind == Docker {
		port, err := c.ctr.MappedPort(ctx, registryPort.String())
		if err != nil {
			return fmt.Errorf("registry sidecar port: %w", err)
		}
		c.h.Registry = "127.0.0.1:" + strconv.Itoa(provision.EngineRegistryPort)
		c.h.RegistryPush = "127.0.0.1:" + port.Port()
	}
	v, err := serverVersion(ctx, c)
	if err != nil {
		return fmt.Errorf("read the running version: %w", err)
	}
	c.h.Version = v
	return nil
}

// Close terminates the engine's container through testcontainers-go
// (stops it, at most stopTimeout for the engine to stop what runs under
// it, and removes it with its store volume), then removes its network and
// its folder, whatever state they are in: each by the name it was given
// before it was created, once. The container is the one Run handed back,
// or when it handed none back (a create whose answer was lost) the one of
// that name. Calling it again retries what failed. It does nothing for an
// engine from Connect.
func (c *containerEngine) Close(ctx context.Context) error {
	if !c.owner {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	var errs []error
	check := func(what string, err error) {
		if err != nil && !isGone(err) {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	ctr, err := c.ctr, error(nil)
	if ctr == nil {
		ctr, err = named(ctx, c.provider, c.res.Container)
	}
	if ctr != nil {
		err = ctr.Terminate(ctx, testcontainers.StopContext(ctx),
			testcontainers.StopTimeout(stopTimeout), testcontainers.RemoveVolumes(c.res.Volume))
	}
	check("remove container "+c.res.Container, err)
	if c.netw != nil {
		check("remove network "+c.res.Network, c.netw.Remove(ctx))
	} else if c.res.Network != "" {
		_, err = c.provider.Client().NetworkRemove(ctx, c.res.Network, client.NetworkRemoveOptions{})
		check("remove network "+c.res.Network, err)
	}
	if err := os.RemoveAll(c.res.Dir); err != nil {
		errs = append(errs, err)
	}
	c.provider.Close()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close engine %s: %w", c.h.Name, err)
	}
	return nil
}

package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
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
// host's Docker already holds, and waits until the engine answers (at most
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
	docker, err := hostDocker()
	if err != nil {
		return fail(nil, err)
	}
	c := &containerEngine{h: h, owner: true, res: res, docker: docker}
	if err := os.MkdirAll(res.Dir, 0o755); err != nil {
		return fail(c, err)
	}
	progress := s.Log
	if progress == nil {
		progress = io.Discard
	}
	t := time.Now()
	if err := c.create(ctx, s); err != nil {
		return fail(c, c.startError(err))
	}
	if err := c.waitReady(ctx, c.probeFor(s.Kind)); err != nil {
		return fail(c, err)
	}
	fmt.Fprintf(progress, "engine %s: container %s started, engine answers in %s\n", s.Name, res.Container, time.Since(t).Round(10*time.Millisecond))
	if err := c.readHandle(ctx); err != nil {
		return fail(c, err)
	}
	if err := checkVersion(s, c.h.Version); err != nil {
		return c, c.h, err
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
	h := Handle{Name: s.Name, Kind: s.Kind, Container: res.Container, Dir: res.Dir, Image: s.Image}
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

// create makes the engine's network (Docker only) and container, with its
// store volume, and starts it. All of them carry the run's and the
// engine's labels and the names of c.res, by which Close removes them.
func (c *containerEngine) create(ctx context.Context, s Spec) error {
	labels := map[string]string{RunLabel: s.RunID, engineLabel: s.Name}
	if c.res.Network != "" {
		if _, err := c.docker.NetworkCreate(ctx, c.res.Network, client.NetworkCreateOptions{Driver: "bridge", Labels: labels}); err != nil {
			return fmt.Errorf("create network %s: %w", c.res.Network, err)
		}
	}
	if _, err := c.docker.ContainerCreate(ctx, containerRequest(s, c.res, labels)); err != nil {
		return fmt.Errorf("create container %s: %w", c.res.Container, err)
	}
	if _, err := c.docker.ContainerStart(ctx, c.res.Container, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start container %s: %w", c.res.Container, err)
	}
	return nil
}

// containerRequest is the engine's container: privileged, its store on a
// volume, its socket folder and Spec.Mounts bind-mounted; Docker on the
// run's network with its registry sidecar published on the host's
// loopback, Podman on the host's network.
func containerRequest(s Spec, res resources, labels map[string]string) client.ContainerCreateOptions {
	storage := "/var/lib/docker"
	if s.Kind == Podman {
		storage = "/var/lib/containers"
	}
	mounts := []mount.Mount{
		{Type: mount.TypeBind, Source: res.Dir, Target: provision.EngineSocketDir},
		{Type: mount.TypeVolume, Source: res.Volume, Target: storage, VolumeOptions: &mount.VolumeOptions{Labels: labels}},
	}
	for _, m := range sameMounts(s) {
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: m, Target: m})
	}
	cfg := &container.Config{Image: s.Image, Labels: labels}
	hc := &container.HostConfig{
		Privileged: true,
		// A cgroup namespace of its own: on a cgroup v1 host a privileged
		// container otherwise sees the host's hierarchy, and the nested
		// engine's cgroups would land (and, if it is killed, stay) at the
		// host's root instead of under the engine container's cgroup.
		CgroupnsMode: container.CgroupnsModePrivate,
		Mounts:       mounts,
	}
	req := client.ContainerCreateOptions{Name: res.Container, Config: cfg, HostConfig: hc}
	if s.Kind == Podman {
		hc.NetworkMode = network.NetworkHost
		return req
	}
	// All addresses of the engine container's own namespace: its loopback
	// for BuildKit, its address on the run's network for the port
	// published on the host's loopback.
	cfg.Env = []string{"REPRO_REGISTRY_ADDR=:" + strconv.Itoa(provision.EngineRegistryPort)}
	cfg.ExposedPorts = network.PortSet{registryPort: {}}
	hc.PortBindings = network.PortMap{registryPort: {{HostIP: loopback}}}
	hc.NetworkMode = container.NetworkMode(res.Network)
	req.NetworkingConfig = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{res.Network: {}}}
	return req
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
	if strings.Contains(err.Error(), logTailIntro) {
		return err
	}
	return fmt.Errorf("%w%s", err, c.logTail(context.Background()))
}

// readHandle completes the handle from the running engine: the registry
// sidecar's addresses (Docker only) and the version the engine reports.
func (c *containerEngine) readHandle(ctx context.Context) error {
	if c.h.Kind == Docker {
		ins, err := c.inspect(ctx)
		if err != nil {
			return fmt.Errorf("registry sidecar port: %w", err)
		}
		port, err := publishedPort(ins)
		if err != nil {
			return err
		}
		c.h.Registry = "127.0.0.1:" + strconv.Itoa(provision.EngineRegistryPort)
		c.h.RegistryPush = "127.0.0.1:" + port
	}
	v, err := serverVersion(ctx, c)
	if err != nil {
		return fmt.Errorf("read the running version: %w", err)
	}
	c.h.Version = v
	return nil
}

// Close stops the engine's container (at most stopTimeout, for the engine
// to stop what runs under it), removes it, its volume and its network, and
// then its folder, whatever state they are in: each by the name it was
// given before it was created, once. Calling it again retries what
// failed. It does nothing for an engine from Connect.
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
	timeout := int(stopTimeout / time.Second)
	_, err := c.docker.ContainerStop(ctx, c.res.Container, client.ContainerStopOptions{Timeout: &timeout})
	check("stop container "+c.res.Container, err)
	_, err = c.docker.ContainerRemove(ctx, c.res.Container, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	check("remove container "+c.res.Container, err)
	_, err = c.docker.VolumeRemove(ctx, c.res.Volume, client.VolumeRemoveOptions{Force: true})
	check("remove volume "+c.res.Volume, err)
	if c.res.Network != "" {
		_, err = c.docker.NetworkRemove(ctx, c.res.Network, client.NetworkRemoveOptions{})
		check("remove network "+c.res.Network, err)
	}
	if err := os.RemoveAll(c.res.Dir); err != nil {
		errs = append(errs, err)
	}
	c.docker.Close()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close engine %s: %w", c.h.Name, err)
	}
	return nil
}

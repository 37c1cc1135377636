package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"runtime"
	"strconv"
	"strings"
)

// host is an engine installed on this machine, reached through its default
// socket, or a rootless Podman run by an unprivileged user.
type host struct {
	kind    Kind
	version string
	user    *user.User // nil: the caller's engine
	client  Client     // Docker only
}

// RootlessUser is the unprivileged user whose Podman runs rootless cells;
// make setup (hack/setup-host.sh) creates it.
const RootlessUser = "repro-matrix-rootless"

// Host connects to the host's engine of kind and reads its version back.
func Host(ctx context.Context, kind Kind) (Engine, error) { return HostAs(ctx, kind, "") }

// HostAs is Host for an engine run by an unprivileged user: rootless
// Podman, its commands run through runuser(1) (the caller is root) in the
// user's home. An empty name is Host. Docker cannot be run so here.
func HostAs(ctx context.Context, kind Kind, name string) (Engine, error) {
	return hostWith(ctx, kind, name, Client{})
}

// hostWith is HostAs with a client of its own for Docker.
func hostWith(ctx context.Context, kind Kind, name string, client Client) (Engine, error) {
	if client != (Client{}) && kind != Docker {
		return nil, fmt.Errorf("host %s: only Docker takes a client of its own", kind)
	}
	h := &host{kind: kind, client: client}
	if name != "" {
		if kind != Podman {
			return nil, fmt.Errorf("host %s as %s: only Podman runs rootless here", kind, name)
		}
		u, err := user.Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("host %s as %s: %w (make setup creates the user)", kind, name, err)
		}
		h.user = u
	}
	v, err := h.serverVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("host %s: %w: %w", h.Name(), ErrNotRunning, err)
	}
	h.version = v
	return h, nil
}

func (h *host) Kind() Kind      { return h.kind }
func (h *host) Version() string { return h.version }

// Name is kind-version, with -rootless for a rootless Podman.
func (h *host) Name() string {
	if h.user != nil {
		return string(h.kind) + "-" + h.version + "-rootless"
	}
	return string(h.kind) + "-" + h.version
}

func (h *host) Command(ctx context.Context, args ...string) *exec.Cmd {
	if h.user == nil && h.kind == Docker {
		cmd := exec.CommandContext(ctx, h.client.program(), args...)
		cmd.Env = h.client.env(hostEnv())
		return cmd
	}
	if h.user == nil {
		cmd := exec.CommandContext(ctx, string(h.kind), args...)
		cmd.Env = hostEnv()
		return cmd
	}
	// runuser passes signals on to podman, so a cancelled build stops.
	cmd := exec.CommandContext(ctx, "runuser", append([]string{"-u", h.user.Username, "--", string(h.kind)}, args...)...)
	cmd.Env = userEnv(os.Environ(), h.user)
	cmd.Dir = h.user.HomeDir
	return cmd
}

// userEnv is the caller's environment for a command run as u: its HOME,
// USER and LOGNAME, and no XDG_RUNTIME_DIR of the caller (rootless Podman
// keeps its state there).
func userEnv(environ []string, u *user.User) []string {
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "HOME", "USER", "LOGNAME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME":
			continue
		}
		out = append(out, kv)
	}
	return append(out, "HOME="+u.HomeDir, "USER="+u.Username, "LOGNAME="+u.Username)
}

func (h *host) Close(context.Context) error { return nil }

func (h *host) serverVersion(ctx context.Context) (string, error) { return serverVersion(ctx, h) }

// Alive asks the host's engine for its version.
func (h *host) Alive(ctx context.Context) error {
	if _, err := h.serverVersion(ctx); err != nil {
		return fmt.Errorf("host %s: %w: %w", h.Name(), ErrNotRunning, err)
	}
	return nil
}

// HostDockerdLog is where hack/setup-host.sh starts dockerd's log.
const HostDockerdLog = "/var/log/repro-matrix-dockerd.log"

// Logs returns the tail of the host dockerd's log when setup-host.sh
// started it ("" otherwise); host Podman has no daemon.
func (h *host) Logs(_ context.Context, lines int) (string, error) {
	if h.kind != Docker {
		return "", nil
	}
	b, err := readTail(HostDockerdLog, 256<<10)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return lastLines(string(b), lines), nil
}

// readTail reads at most max bytes from the end of a file.
func readTail(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := st.Size() - max
	if off < 0 {
		off = 0
	}
	b := make([]byte, st.Size()-off)
	n, err := f.ReadAt(b, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b[:n], nil
}

// lastLines keeps the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if n > 0 && len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// serverVersion asks the engine, not the client: the client binary on the
// PATH (Docker 28 here) may differ from the daemon (Docker 20.10).
func serverVersion(ctx context.Context, e Engine) (string, error) {
	if e.Kind() == Podman {
		out, err := Run(ctx, e, "info", "--format", "{{.Version.Version}}")
		return cleanVersion(out), err
	}
	out, err := Run(ctx, e, "version", "--format", "{{.Server.Version}}")
	return cleanVersion(out), err
}

// cleanVersion drops distribution suffixes: 20.10.24+dfsg1 -> 20.10.24.
func cleanVersion(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexAny(v, "+~"); i >= 0 {
		v = v[:i]
	}
	return v
}

func (h *host) Environment(ctx context.Context) (map[string]string, error) {
	return environment(ctx, h)
}

// environment reads the record shared by every engine kind.
func environment(ctx context.Context, e Engine) (map[string]string, error) {
	env := map[string]string{"engine": string(e.Kind()), "engine_version": e.Version(), "host_arch": runtime.GOARCH}
	var fields map[string]string
	if e.Kind() == Docker {
		fields = map[string]string{
			"kernel":         "{{.KernelVersion}}",
			"storage_driver": "{{.Driver}}",
			"runtime":        "{{.DefaultRuntime}}",
			"runc":           "{{.RuncCommit.ID}}",
			"cgroup":         "v{{.CgroupVersion}}",
			"os":             "{{.OperatingSystem}}",
		}
	} else {
		fields = map[string]string{
			"kernel":         "{{.Host.Kernel}}",
			"storage_driver": "{{.Store.GraphDriverName}}",
			"runtime":        "{{.Host.OCIRuntime.Name}}",
			"runc":           "{{.Host.OCIRuntime.Version}}",
			"cgroup":         "{{.Host.CgroupsVersion}}",
			"os":             "{{.Host.Distribution.Distribution}} {{.Host.Distribution.Version}}",
			"rootless":       "{{.Host.Security.Rootless}}",
		}
	}
	for k, f := range fields {
		out, err := Run(ctx, e, "info", "--format", f)
		if err != nil {
			return env, fmt.Errorf("%s environment %s: %w", e.Name(), k, err)
		}
		env[k] = firstLine(out)
	}
	if e.Kind() == Docker {
		store, err := imageStore(ctx, e)
		if err != nil {
			return env, fmt.Errorf("%s environment image_store: %w", e.Name(), err)
		}
		env["image_store"] = store
		cli, err := Run(ctx, e, "version", "--format", "{{.Client.Version}}")
		if err != nil {
			return env, fmt.Errorf("%s environment docker_cli_version: %w", e.Name(), err)
		}
		env["docker_cli_version"] = firstLine(cli)
		out, err := Run(ctx, e, "buildx", "version")
		if err != nil {
			return env, fmt.Errorf("%s environment buildx_version: %w", e.Name(), err)
		}
		env["buildx_version"] = buildxVersion(out)
	}
	return env, nil
}

// Image stores of a Docker daemon (docs.docker.com/engine/storage/containerd).
const (
	StoreContainerd = "containerd"
	StoreClassic    = "classic"
)

// imageStore is the image store a Docker daemon runs: "containerd" when
// `docker info` names a containerd snapshotter as its driver type, else
// "classic" (graph drivers: overlay2, vfs).
func imageStore(ctx context.Context, e Engine) (string, error) {
	out, err := Run(ctx, e, "info", "--format", "{{range .DriverStatus}}{{index . 0}}={{index . 1}};{{end}}")
	if err != nil {
		return "", err
	}
	if strings.Contains(out, "io.containerd.snapshotter") {
		return StoreContainerd, nil
	}
	return StoreClassic, nil
}

// buildxVersion is the version in `docker buildx version`'s answer:
// "github.com/docker/buildx 0.29.1+ds1 0.29.1+ds1-4" -> "0.29.1+ds1",
// "github.com/docker/buildx v0.13.1 788433953..." -> "v0.13.1".
func buildxVersion(out string) string {
	f := strings.Fields(firstLine(out))
	if len(f) < 2 {
		return firstLine(out)
	}
	return f[1]
}

// firstLine keeps the first line of a value, without version banners:
// "runc version 1.1.5+ds1\ncommit: ..." -> "1.1.5+ds1".
func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimPrefix(strings.TrimSpace(line), "runc version ")
}

// MappedIDs is how many user and group ids a Podman's user namespace maps
// (the sizes of `podman info`'s Host.IDMappings, summed): a rootless
// Podman's user id and its /etc/subuid and /etc/subgid ranges. The
// smaller of the two counts is returned; a rootful Podman maps none.
func MappedIDs(ctx context.Context, e Engine) (int, error) {
	if e.Kind() != Podman {
		return 0, fmt.Errorf("%s: only Podman reports its id mappings", e.Name())
	}
	least := -1
	for _, m := range []string{"UIDMap", "GIDMap"} {
		out, err := Run(ctx, e, "info", "--format", "{{range .Host.IDMappings."+m+"}}{{.Size}} {{end}}")
		if err != nil {
			return 0, fmt.Errorf("%s id mappings: %w", e.Name(), err)
		}
		n := 0
		for _, f := range strings.Fields(out) {
			size, err := strconv.Atoi(f)
			if err != nil {
				return 0, fmt.Errorf("%s id mappings: size %q: %w", e.Name(), f, err)
			}
			n += size
		}
		if least < 0 || n < least {
			least = n
		}
	}
	return least, nil
}

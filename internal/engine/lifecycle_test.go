package engine

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"

	"github.com/repro-matrix/repro-matrix/internal/provision"
)

// request applies the engine container's options to a testcontainers-go
// request, as Run does, and its host config modifier to an empty host
// config, as the provider does before creating the container.
func request(t *testing.T, s Spec) (testcontainers.GenericContainerRequest, *container.HostConfig, resources) {
	t.Helper()
	h, res, err := plan(s)
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{RunLabel: s.RunID, engineLabel: s.Name}
	req := testcontainers.GenericContainerRequest{ContainerRequest: testcontainers.ContainerRequest{Image: s.Image}, Started: true}
	for _, o := range containerOptions(s, h, res, labels, progressLogger(nil, s.Name)) {
		if err := o.Customize(&req); err != nil {
			t.Fatal(err)
		}
	}
	hc := &container.HostConfig{}
	req.HostConfigModifier(hc)
	return req, hc, res
}

// TestContainerOptions: Docker on the run's network with its registry
// published on the host's loopback only, Podman on the host's network with
// the run folder at the same path; both privileged in a cgroup namespace
// of their own, everything labelled, started with the engine's wait
// strategy.
func TestContainerOptions(t *testing.T) {
	s := Spec{Name: "docker-26.1.5", Kind: Docker, RunID: "r1", Dir: "/tmp/run", Image: "localhost/repro-matrix/docker:26.1.5-trixie"}
	req, hc, res := request(t, s)
	if req.Name != res.Container || req.Image != s.Image || req.Labels[RunLabel] != "r1" || req.Labels[engineLabel] != s.Name {
		t.Errorf("docker: name %q, image %q, labels %v", req.Name, req.Image, req.Labels)
	}
	if req.WaitingFor == nil || !strings.Contains(fmt.Sprint(req.WaitingFor), "the engine answers") {
		t.Errorf("docker: wait strategy %v", req.WaitingFor)
	}
	if !hc.Privileged || hc.CgroupnsMode != container.CgroupnsModePrivate {
		t.Errorf("docker: privileged %v, cgroupns %q", hc.Privileged, hc.CgroupnsMode)
	}
	if string(hc.NetworkMode) != res.Network || !slices.Equal(req.Networks, []string{res.Network}) {
		t.Errorf("docker: network mode %q, networks %v", hc.NetworkMode, req.Networks)
	}
	if !slices.Equal(req.ExposedPorts, []string{registryPort.String()}) || req.Env["REPRO_REGISTRY_ADDR"] == "" {
		t.Errorf("docker: exposed %v, env %v", req.ExposedPorts, req.Env)
	}
	if b := hc.PortBindings[registryPort]; len(b) != 1 || b[0].HostIP != loopback || b[0].HostPort != "" {
		t.Errorf("docker: registry binding %v, want 127.0.0.1 on any port", b)
	}
	if len(hc.Mounts) != 2 || hc.Mounts[0].Target != provision.EngineSocketDir ||
		hc.Mounts[1].Source != res.Volume || hc.Mounts[1].VolumeOptions.Labels[RunLabel] != "r1" {
		t.Errorf("docker: mounts %+v", hc.Mounts)
	}

	s = Spec{Name: "podman-5.4.2", Kind: Podman, RunID: "r1", Dir: "/tmp/run", Image: "img", Mounts: []string{"/fixtures"}}
	req, hc, _ = request(t, s)
	if hc.NetworkMode != network.NetworkHost || len(req.Networks) != 0 || len(req.ExposedPorts) != 0 || len(hc.PortBindings) != 0 {
		t.Errorf("podman: network mode %q, networks %v, exposed %v, ports %v", hc.NetworkMode, req.Networks, req.ExposedPorts, hc.PortBindings)
	}
	var same []string
	for _, m := range hc.Mounts[2:] {
		if m.Source != m.Target {
			t.Errorf("podman: %s mounted at %s", m.Source, m.Target)
		}
		same = append(same, m.Source)
	}
	if len(same) != 2 || same[0] != "/tmp/run" || same[1] != "/fixtures" {
		t.Errorf("podman: same-path mounts %v", same)
	}
}

func TestPublishedPort(t *testing.T) {
	ins := container.InspectResponse{NetworkSettings: &container.NetworkSettings{Ports: network.PortMap{
		registryPort: {{HostIP: loopback, HostPort: "32768"}},
	}}}
	if p, err := publishedPort(&ins); err != nil || p != "32768" {
		t.Errorf("published: %q, %v", p, err)
	}
	if _, err := publishedPort(&container.InspectResponse{}); err == nil {
		t.Error("no port published: no error")
	}
}

func TestIsGone(t *testing.T) {
	for err, want := range map[error]bool{
		cerrdefs.ErrNotFound.WithMessage("No such container: c"):                          true,
		cerrdefs.ErrConflict.WithMessage("removal of container c is already in progress"): true,
		cerrdefs.ErrConflict.WithMessage("network n has active endpoints"):                false,
		errors.New("permission denied"):                                                   false,
		// testcontainers-go's Terminate of a container that is gone, its
		// volume too, and of one whose volume could not be removed.
		fmt.Errorf("terminate: %w", errors.Join(nil, cerrdefs.ErrNotFound.WithMessage("No such container: c"), nil,
			fmt.Errorf("volume remove %q: %w", "v", cerrdefs.ErrNotFound.WithMessage("no such volume")))): true,
		errors.Join(cerrdefs.ErrNotFound.WithMessage("No such container: c"), errors.New("volume v is in use")): false,
	} {
		if got := isGone(err); got != want {
			t.Errorf("isGone(%v) = %v", err, got)
		}
	}
}

func TestTailLines(t *testing.T) {
	for in, want := range map[string]string{
		"":             "",
		"a\n":          "a",
		"a\nb\nc\nd\n": "b\nc\nd",
		"a\nb\nc\nd":   "b\nc\nd",
	} {
		if got, err := tailLines(strings.NewReader(in), 3); err != nil || got != want {
			t.Errorf("tailLines(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestStoreAndClientArguments: a declared image store becomes dockerd's
// --feature argument; plan refuses a store or a client of its own for
// Podman, and a store it does not know.
func TestStoreAndClientArguments(t *testing.T) {
	s := Spec{Name: "docker-29.8.1", Kind: Docker, InContainer: true, RunID: "r1", Dir: t.TempDir(), Image: "img", Store: StoreClassic}
	req, _, _ := request(t, s)
	if want := []string{"--feature", "containerd-snapshotter=false"}; !slices.Equal(req.Cmd, want) {
		t.Errorf("classic store: command %q, want %q", req.Cmd, want)
	}
	s.Store = StoreContainerd
	if req, _, _ = request(t, s); !slices.Contains(req.Cmd, "containerd-snapshotter=true") {
		t.Errorf("containerd store: command %q", req.Cmd)
	}
	s.Store = ""
	if req, _, _ = request(t, s); len(req.Cmd) != 0 {
		t.Errorf("no store: command %q, want the daemon's default", req.Cmd)
	}
	for _, bad := range []Spec{
		{Name: "p", Kind: Podman, InContainer: true, RunID: "r1", Dir: s.Dir, Image: "img", Store: StoreContainerd},
		{Name: "p", Kind: Podman, InContainer: true, RunID: "r1", Dir: s.Dir, Image: "img", Client: Client{Docker: "/x/docker"}},
		{Name: "d", Kind: Docker, InContainer: true, RunID: "r1", Dir: s.Dir, Image: "img", Store: "zfs"},
	} {
		if _, _, err := plan(bad); err == nil {
			t.Errorf("plan accepted %+v", bad)
		}
	}
}

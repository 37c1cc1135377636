package engine

import (
	"errors"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/repro-matrix/repro-matrix/internal/provision"
)

// TestContainerRequest: Docker on the run's network with its registry
// published on the host's loopback only, Podman on the host's network with
// the run folder at the same path; both privileged in a cgroup namespace
// of their own, everything labelled.
func TestContainerRequest(t *testing.T) {
	labels := map[string]string{RunLabel: "r1", engineLabel: "docker-26.1.5"}
	s := Spec{Name: "docker-26.1.5", Kind: Docker, RunID: "r1", Dir: "/tmp/run", Image: "localhost/repro-matrix/docker:26.1.5-trixie"}
	res, err := resourceNames(s)
	if err != nil {
		t.Fatal(err)
	}
	req := containerRequest(s, res, labels)
	hc := req.HostConfig
	if req.Name != res.Container || req.Config.Image != s.Image || req.Config.Labels[RunLabel] != "r1" {
		t.Errorf("docker: name %q, image %q, labels %v", req.Name, req.Config.Image, req.Config.Labels)
	}
	if !hc.Privileged || hc.CgroupnsMode != container.CgroupnsModePrivate {
		t.Errorf("docker: privileged %v, cgroupns %q", hc.Privileged, hc.CgroupnsMode)
	}
	if string(hc.NetworkMode) != res.Network || req.NetworkingConfig.EndpointsConfig[res.Network] == nil {
		t.Errorf("docker: network mode %q, endpoints %v", hc.NetworkMode, req.NetworkingConfig.EndpointsConfig)
	}
	if b := hc.PortBindings[registryPort]; len(b) != 1 || b[0].HostIP != loopback || b[0].HostPort != "" {
		t.Errorf("docker: registry binding %v, want 127.0.0.1 on any port", b)
	}
	if len(hc.Mounts) != 2 || hc.Mounts[0].Target != provision.EngineSocketDir ||
		hc.Mounts[1].Source != res.Volume || hc.Mounts[1].VolumeOptions.Labels[RunLabel] != "r1" {
		t.Errorf("docker: mounts %+v", hc.Mounts)
	}

	s = Spec{Name: "podman-5.4.2", Kind: Podman, RunID: "r1", Dir: "/tmp/run", Image: "img", Mounts: []string{"/fixtures"}}
	res, _ = resourceNames(s)
	req = containerRequest(s, res, labels)
	if req.HostConfig.NetworkMode != network.NetworkHost || req.NetworkingConfig != nil || len(req.HostConfig.PortBindings) != 0 {
		t.Errorf("podman: network mode %q, networking %v, ports %v", req.HostConfig.NetworkMode, req.NetworkingConfig, req.HostConfig.PortBindings)
	}
	var same []string
	for _, m := range req.HostConfig.Mounts[2:] {
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
	if p, err := publishedPort(ins); err != nil || p != "32768" {
		t.Errorf("published: %q, %v", p, err)
	}
	if _, err := publishedPort(container.InspectResponse{}); err == nil {
		t.Error("no port published: no error")
	}
}

func TestIsGone(t *testing.T) {
	for err, want := range map[error]bool{
		cerrdefs.ErrNotFound.WithMessage("No such container: c"):                          true,
		cerrdefs.ErrConflict.WithMessage("removal of container c is already in progress"): true,
		cerrdefs.ErrConflict.WithMessage("network n has active endpoints"):                false,
		errors.New("permission denied"):                                                   false,
	} {
		if got := isGone(err); got != want {
			t.Errorf("isGone(%v) = %v", err, got)
		}
	}
}

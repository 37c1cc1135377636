package build

import (
	"context"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/semver"

	"github.com/repro-matrix/repro-matrix/internal/engine"
)

// Builder is a BuildKit daemon kept for several builds, so that they skip
// its start and share its content store (the base images it pulled):
// under Docker a buildx builder with the docker-container driver, under
// Podman a BuildKit container whose buildctl each build runs (podman exec).
// Builds name it in Options.Builder.
type Builder struct {
	Name            string
	Runtime         engine.Kind
	BuildKitImage   string
	BuildkitdConfig string   // buildkitd.toml; "" for BuildKit's defaults
	HostNetwork     bool     // on the engine's host network (a loopback registry)
	Rootless        bool     // Podman only: rootless BuildKit
	Labels          []string // Podman only: KEY=VALUE labels of the container
	// Mounts are host folders the Podman container sees at the same path:
	// the builds' contexts and their outputs' folders.
	Mounts []string
	// BuildkitdFlags are more flags of the BuildKit daemon
	// (--oci-worker-binary=...): arguments of the Podman container, or
	// buildx's --buildkitd-flags after its default
	// --allow-insecure-entitlement=network.host.
	BuildkitdFlags []string
}

// startTimeout bounds how long a BuildKit daemon may take to answer.
const startTimeout = 2 * time.Minute

// Start starts the builder and waits until BuildKit answers. On error the
// caller still calls Remove, which removes whatever was started.
func (b Builder) Start(ctx context.Context, e engine.Engine) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	if b.Runtime == engine.Docker {
		if _, err := engine.Run(ctx, e, append(b.buildxCreate(), "--bootstrap")...); err != nil {
			return fmt.Errorf("start builder %s: %w", b.Name, err)
		}
		return nil
	}
	if _, err := engine.Run(ctx, e, b.podmanRun()...); err != nil {
		return fmt.Errorf("start builder %s: %w", b.Name, err)
	}
	return b.waitPodman(ctx, e)
}

// waitPodman polls the BuildKit container until buildctl reaches its
// daemon, as buildctl-daemonless.sh does.
func (b Builder) waitPodman(ctx context.Context, e engine.Engine) error {
	var last error
	for {
		_, last = engine.Run(ctx, e, "exec", b.Name, "buildctl", "debug", "workers")
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			logs, _ := engine.Run(context.WithoutCancel(ctx), e, "logs", "--tail", "20", b.Name)
			return fmt.Errorf("builder %s: BuildKit did not answer within %s: %w\n%s", b.Name, startTimeout, last, strings.TrimSpace(logs))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Remove removes the builder with its state (content store, cache), even
// when ctx is cancelled: it is what a run does last.
func (b Builder) Remove(ctx context.Context, e engine.Engine) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	args := []string{"rm", "--force", "--time", "0", "--volumes", "--ignore", b.Name}
	if b.Runtime == engine.Docker {
		args = []string{"buildx", "rm", "--force", b.Name}
	}
	_, err := engine.Run(ctx, e, args...)
	return err
}

// buildxCreate creates the buildx builder.
func (b Builder) buildxCreate() []string {
	args := []string{"buildx", "create", "--name", b.Name, "--driver", "docker-container",
		"--driver-opt", "image=" + b.BuildKitImage}
	if b.HostNetwork {
		args = append(args, "--driver-opt", "network=host")
	}
	if b.BuildkitdConfig != "" {
		args = append(args, "--buildkitd-config", b.BuildkitdConfig)
	}
	if len(b.BuildkitdFlags) > 0 {
		flags := append([]string{"--allow-insecure-entitlement=network.host"}, b.BuildkitdFlags...)
		args = append(args, "--buildkitd-flags", strings.Join(flags, " "))
	}
	return args
}

// podmanRun starts the BuildKit container in the background.
func (b Builder) podmanRun() []string {
	args := []string{"run", "-d", "--name", b.Name}
	for _, l := range b.Labels {
		args = append(args, "--label", l)
	}
	if b.HostNetwork {
		args = append(args, "--network", "host")
	}
	for _, m := range b.Mounts {
		args = append(args, "-v", m+":"+m)
	}
	args = append(args, b.isolation()...)
	if b.BuildkitdConfig != "" {
		args = append(args, "-v", b.BuildkitdConfig+":"+podConfig+":ro")
	}
	args = append(args, podmanImage(b.BuildKitImage))
	if b.Rootless {
		args = append(args, "--oci-worker-no-process-sandbox")
	}
	return append(args, b.BuildkitdFlags...)
}

// isolation are the podman run flags that let BuildKit run: privileged, or
// rootless as repro-build runs it.
func (b Builder) isolation() []string {
	if !b.Rootless {
		return []string{"--privileged"}
	}
	return []string{"--userns", "keep-id:uid=1000,gid=1000",
		"--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined"}
}

// SharesSolve reports whether a build can export one solve to several
// outputs with BuildKit bkVersion and, under Docker, buildx buildxVersion:
// both from v0.13.0 on (buildx v0.13.0 release notes, docker/buildx#2290).
// Versions are semver with or without "v"; one that does not parse (a
// distribution's "0.29.1+ds1" is read as 0.29.1) answers false.
func SharesSolve(rt engine.Kind, bkVersion, buildxVersion string) bool {
	if !atLeast(bkVersion, "v0.13.0") {
		return false
	}
	return rt != engine.Docker || atLeast(buildxVersion, "v0.13.0")
}

func atLeast(version, min string) bool {
	v := "v" + strings.TrimPrefix(strings.TrimSpace(version), "v")
	v, _, _ = strings.Cut(v, "+")
	return semver.IsValid(v) && semver.Compare(v, min) >= 0
}

// Worker labels that decide how a build runs (BuildKit's
// worker/label package). The snapshotter (overlayfs, native,
// fuse-overlayfs, ...) decides how layers are computed: an overlayfs differ
// and a walking differ can write different layers for one build. The
// process mode is "sandbox", or "no-sandbox" when buildkitd runs RUN steps
// in its own process namespace (--oci-worker-no-process-sandbox, as a
// rootless BuildKit in a container must).
const (
	LabelSnapshotter = "org.mobyproject.buildkit.worker.snapshotter"
	LabelProcessMode = "org.mobyproject.buildkit.worker.oci.process-mode"
)

// WorkerLabel asks the started builder for a label of its worker:
// `buildctl debug workers` under Podman, `docker buildx inspect` (the
// worker's labels) under Docker. It answers "" when the label is absent.
func (b Builder) WorkerLabel(ctx context.Context, e engine.Engine, label string) (string, error) {
	if b.Runtime == engine.Docker {
		out, err := engine.Run(ctx, e, "buildx", "inspect", b.Name)
		if err != nil {
			return "", err
		}
		for _, line := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), label+":"); ok {
				return strings.TrimSpace(v), nil
			}
		}
		return "", nil
	}
	out, err := engine.Run(ctx, e, "exec", b.Name, "buildctl", "debug", "workers",
		"--format", `{{range .}}{{index .Labels "`+label+`"}} {{end}}`)
	if err != nil {
		return "", err
	}
	return strings.Join(strings.Fields(out), ","), nil
}

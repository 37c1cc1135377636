package provision

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BuildKitRepo is the local name of provisioned BuildKit images. The
// localhost/ prefix keeps any pull attempt (buildx tries one before using a
// local image) on loopback and tells Podman the image is local.
const BuildKitRepo = "localhost/repro-matrix/buildkit"

// imageEpoch stamps provisioned images: they are built reproducibly too.
var imageEpoch = time.Unix(1700000000, 0).UTC()

// buildKitBase is the Debian root filesystem under BuildKit's binaries:
// runc runs RUN steps, git fetches git contexts (as in moby/buildkit's own
// image); the rest is what buildctl-daemonless.sh and registry access use.
var buildKitBase = RootFS{Suite: "bookworm", Arch: "amd64", Include: []string{"runc", "git", "ca-certificates", "procps"}, Epoch: imageEpoch.Unix(), Describe: "buildkit base"}

// BuildKitFrom provisions the image of a BuildKit release: buildkitd,
// buildctl and buildctl-daemonless.sh built from module (BuildKitModule or a
// fork) at version through the module proxy, with runc, on a Debian base.
// It is the offline twin of moby/buildkit:version.
func BuildKitFrom(ctx context.Context, c Cache, module, version string) (Image, error) {
	bins, err := checkedBuildKit(ctx, c, module, version)
	if err != nil {
		return Image{}, err
	}
	base, err := buildKitBase.Build(ctx, c)
	if err != nil {
		return Image{}, fmt.Errorf("buildkit %s: %w", version, err)
	}
	layer, err := buildKitLayer(c, module, version, bins, base)
	if err != nil {
		return Image{}, err
	}
	k := key(module, version, bins.ModuleHash, bins.GoVersion, filepath.Base(base))
	out, err := c.Path("images", "buildkit-"+version+"-"+k+".tar")
	if err != nil {
		return Image{}, err
	}
	cfg := v1.Config{
		Entrypoint: []string{"buildkitd"},
		Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Volumes:    map[string]struct{}{"/var/lib/buildkit": {}},
		Labels: map[string]string{
			"org.opencontainers.image.version": version,
			"org.repro-matrix.recipe":          "go:" + module + "@" + version + " " + bins.ModuleHash + " " + bins.GoVersion,
		},
	}
	return assemble(BuildKitRepo+":"+version, []string{base, layer}, cfg, imageEpoch, v1.Platform{OS: "linux", Architecture: "amd64"}, out)
}

// checkedBuildKit builds BuildKit's binaries of module at version on an
// amd64 host and checks that buildkitd reports that version.
func checkedBuildKit(ctx context.Context, c Cache, module, version string) (binaries, error) {
	if runtime.GOARCH != "amd64" {
		return binaries{}, fmt.Errorf("buildkit %s: provisioning supports amd64 hosts, this is %s", version, runtime.GOARCH)
	}
	bins, err := buildBuildKit(ctx, c, module, version)
	if err != nil {
		return binaries{}, err
	}
	return bins, checkVersion(ctx, filepath.Join(bins.Dir, "buildkitd"), version)
}

// buildKitLayer is the layer of BuildKit's binaries (buildkitd, buildctl,
// buildctl-daemonless.sh) and its folders, cached by what makes it and the
// base it goes on.
func buildKitLayer(c Cache, module, version string, bins binaries, base string) (string, error) {
	k := key(module, version, bins.ModuleHash, bins.GoVersion, filepath.Base(base))
	layer, err := c.Path("layers", "buildkit-"+version+"-"+k+".tar")
	if err != nil {
		return "", err
	}
	files := []file{
		{filepath.Join(bins.Dir, "buildkitd"), "usr/bin/buildkitd", 0o755},
		{filepath.Join(bins.Dir, "buildctl"), "usr/bin/buildctl", 0o755},
		{filepath.Join(bins.Dir, "buildctl-daemonless.sh"), "usr/bin/buildctl-daemonless.sh", 0o755},
	}
	err = Produce(layer, func(tmp string) error {
		return fileLayer(tmp, files, []string{"etc/buildkit", "var/lib/buildkit"}, imageEpoch)
	})
	return layer, err
}

// checkVersion makes sure the daemon built from a recipe reports the version
// the recipe names: the pinned upstream reference and its offline twin must
// be the same BuildKit.
func checkVersion(ctx context.Context, buildkitd, version string) error {
	out, err := exec.CommandContext(ctx, buildkitd, "--version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("buildkitd --version: %w: %s", err, tail(out, 3))
	}
	// "buildkitd github.com/moby/buildkit v0.19.0 <revision>"
	if f := strings.Fields(string(out)); len(f) < 3 || f[2] != version {
		return fmt.Errorf("buildkitd built for %s reports %q", version, strings.TrimSpace(string(out)))
	}
	return nil
}

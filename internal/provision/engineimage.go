package provision

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Paths and ports inside engine images, shared with internal/engine.
const (
	// EngineLibexec holds the entrypoint and the helpers of an engine image.
	EngineLibexec = "/usr/local/libexec/repro-matrix"
	// EngineSocketDir is where a Docker engine image puts docker.sock; the
	// engine's starter bind-mounts a host folder there.
	EngineSocketDir = "/run/repro-matrix"
	// EngineRegistryPort is the port of the registry sidecar of a Docker
	// engine image (started when REPRO_REGISTRY_ADDR is set).
	EngineRegistryPort = 5000
	// EngineRecipeLabel records what an engine image was made from.
	EngineRecipeLabel = "org.repro-matrix.recipe"
	// EngineKindLabel records the kind of engine an image carries.
	EngineKindLabel = "org.repro-matrix.engine"
)

// EngineRecipe is how an engine image is made offline: the engine's Debian
// package from a Debian suite, on a minimal Debian root filesystem of the
// same suite, plus a layer with the entrypoint, the helpers (repro-runc,
// repro-registry) and configuration files.
//
// A Docker that Debian does not carry has its daemon (dockerd and
// docker-proxy) built from Module instead of a package, reporting Version,
// with containerd, runc and iptables from the suite.
type EngineRecipe struct {
	Kind    string // docker or podman
	Suite   string // Debian suite: trixie, forky, ...
	Package string // Debian package; default docker.io for docker, podman for podman
	Module  string // Docker only: the daemon's Go module, github.com/moby/moby/v2@v2.0.0-beta.24
	Version string // with Module: the Docker release it was cut for, 29.8.1
	// Source is the repro-matrix checkout the helpers are built from;
	// default: the checkout holding the working directory (or this file).
	Source string
}

// EngineImage is a provisioned engine image.
type EngineImage struct {
	Image
	Kind           string
	Version        string // the engine's version, from the package: 26.1.5
	PackageVersion string // the Debian version: 26.1.5+dfsg1-9+deb13u1+b1; "" when built from a module
}

// knownEngineSuites maps engine versions to the Debian suite that carries
// them (shared/ENVIRONMENT.md), for callers that name only a version.
var knownEngineSuites = map[string]map[string]string{
	"docker": {"26.1.5": "trixie", "28.5.2": "forky", "20.10.24": "bookworm"},
	"podman": {"5.4.2": "trixie", "5.8.6": "forky", "4.3.1": "bookworm"},
}

// EngineSuite returns the Debian suite known to carry version of kind.
func EngineSuite(kind, version string) (string, error) {
	if s, ok := knownEngineSuites[kind][version]; ok {
		return s, nil
	}
	return "", fmt.Errorf("no Debian suite is known to carry %s %s: name one (offline.suite in matrix.yaml)", kind, version)
}

// moduleDockerPackages are what a Docker daemon built from its Go module
// needs from Debian: what the docker.io package depends on, and a static
// init for `--init` containers (catatonit; forky's tini is dynamic).
var moduleDockerPackages = []string{"containerd", "runc", "iptables", "catatonit"}

// enginePackages are the packages of an engine image besides the engine's.
// tini is the init (podman's exec'd commands leave orphans to reap), runc
// the only runtime that works on a cgroup v1 host (crun refuses hybrid mode),
// procps for the logs of a failing engine.
var enginePackages = map[string][]string{
	"docker": {"tini", "procps"},
	"podman": {"runc", "tini", "procps"},
}

func (r *EngineRecipe) defaults() error {
	if _, ok := enginePackages[r.Kind]; !ok {
		return fmt.Errorf("engine image: kind %q: want docker or podman", r.Kind)
	}
	if r.Suite == "" {
		return fmt.Errorf("engine image %s: no Debian suite", r.Kind)
	}
	if r.Module != "" {
		if r.Kind != "docker" || r.Package != "" || r.Version == "" {
			return fmt.Errorf("engine image %s from %s: a daemon built from a Go module is Docker's, needs the version it reports and installs no package", r.Kind, r.Module)
		}
		return nil
	}
	if r.Package == "" {
		r.Package = map[string]string{"docker": "docker.io", "podman": "podman"}[r.Kind]
	}
	return nil
}

// ProvisionEngine makes (or finds in the cache) the image of an engine from
// Debian's archive. The same recipe, helpers and packages give the same
// image: its name is localhost/repro-matrix/<kind>:<version>-<suite>.
func ProvisionEngine(ctx context.Context, c Cache, r EngineRecipe) (EngineImage, error) {
	if err := r.defaults(); err != nil {
		return EngineImage{}, err
	}
	if runtime.GOARCH != "amd64" {
		return EngineImage{}, fmt.Errorf("engine image %s/%s: provisioning supports amd64 hosts, this is %s", r.Kind, r.Suite, runtime.GOARCH)
	}
	fail := func(err error) (EngineImage, error) {
		return EngineImage{}, fmt.Errorf("engine image %s from %s: %w", cmp.Or(r.Package, r.Module), r.Suite, err)
	}
	engine := []string{r.Package}
	if r.Module != "" {
		engine = moduleDockerPackages
	}
	fs := RootFS{Suite: r.Suite, Arch: "amd64", Include: append(slices.Clone(engine), enginePackages[r.Kind]...),
		Epoch: imageEpoch.Unix(), Describe: r.Kind + " engine"}
	rootfs, err := fs.Build(ctx, c)
	if err != nil {
		return fail(err)
	}
	work, err := os.MkdirTemp(c.Dir, "engine-layer-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(work)
	files, err := engineFiles(ctx, r, work)
	if err != nil {
		return fail(err)
	}
	recipe := "debian:" + r.Suite + " " + r.Package
	if r.Module != "" {
		bin, text, err := dockerd(ctx, c, r.Module, r.Version)
		if err != nil {
			return fail(err)
		}
		recipe = text + " debian:" + r.Suite + " " + strings.Join(moduleDockerPackages, " ")
		files = append([]file{{filepath.Join(bin, "docker-proxy"), "usr/bin/docker-proxy", 0o755},
			{filepath.Join(bin, "dockerd"), "usr/bin/dockerd", 0o755}}, files...)
	}
	parts := []string{"engine", r.Kind, r.Suite, r.Package, r.Module, r.Version, filepath.Base(rootfs)}
	for _, f := range files {
		h, err := fileHash(f.src)
		if err != nil {
			return fail(err)
		}
		parts = append(parts, f.dst, fmt.Sprint(f.mode), h)
	}
	k := key(parts...)
	// The image's description is cached beside it: reading the package
	// version and hashing the layers again would cost seconds per start.
	meta, err := c.Path("images", "engine-"+r.Kind+"-"+r.Suite+"-"+k+".json")
	if err != nil {
		return fail(err)
	}
	if img, err := readEngineImage(meta); err == nil {
		return img, nil
	}
	var img EngineImage
	err = Produce(meta, func(tmp string) error {
		var err error
		if img, err = makeEngineImage(c, r, recipe, rootfs, files, k); err != nil {
			return err
		}
		b, err := json.Marshal(img)
		if err != nil {
			return err
		}
		return os.WriteFile(tmp, b, 0o644)
	})
	if err != nil {
		return fail(err)
	}
	if img.Ref == "" { // another process made it meanwhile
		if img, err = readEngineImage(meta); err != nil {
			return fail(err)
		}
	}
	return img, nil
}

// readEngineImage reads a cached engine image's description and checks
// that its tarball is there.
func readEngineImage(meta string) (EngineImage, error) {
	b, err := os.ReadFile(meta)
	if err != nil {
		return EngineImage{}, err
	}
	var img EngineImage
	if err := json.Unmarshal(b, &img); err != nil {
		return EngineImage{}, fmt.Errorf("%s: %w", meta, err)
	}
	if img.Ref == "" || !has(img.Tarball) {
		return EngineImage{}, fmt.Errorf("%s: no image tarball", meta)
	}
	return img, nil
}

// makeEngineImage stacks the rootfs and the engine layer into the image.
func makeEngineImage(c Cache, r EngineRecipe, recipe, rootfs string, files []file, k string) (EngineImage, error) {
	version, pkgVersion := r.Version, ""
	if r.Module == "" {
		var err error
		if pkgVersion, err = dpkgVersion(rootfs, r.Package); err != nil {
			return EngineImage{}, err
		}
		version = debianUpstream(pkgVersion)
		recipe += "=" + pkgVersion
	}
	layer, err := c.Path("layers", "engine-"+r.Kind+"-"+r.Suite+"-"+k+".tar")
	if err != nil {
		return EngineImage{}, err
	}
	if err := Produce(layer, func(tmp string) error { return fileLayer(tmp, files, engineDirs(r.Kind), imageEpoch) }); err != nil {
		return EngineImage{}, err
	}
	out, err := c.Path("images", "engine-"+r.Kind+"-"+version+"-"+r.Suite+"-"+k+".tar")
	if err != nil {
		return EngineImage{}, err
	}
	cfg := v1.Config{
		Entrypoint: []string{"/usr/bin/tini", "-g", "--", EngineLibexec + "/entrypoint"},
		Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Labels: map[string]string{
			"org.opencontainers.image.version": version,
			EngineKindLabel:                    r.Kind,
			EngineRecipeLabel:                  recipe,
		},
	}
	img, err := assemble(EngineRef(r.Kind, version, r.Suite), []string{rootfs, layer}, cfg, imageEpoch, v1.Platform{OS: "linux", Architecture: "amd64"}, out)
	if err != nil {
		return EngineImage{}, err
	}
	return EngineImage{Image: img, Kind: r.Kind, Version: version, PackageVersion: pkgVersion}, nil
}

// EngineRef is the local name of an engine image.
func EngineRef(kind, version, suite string) string {
	return "localhost/repro-matrix/" + kind + ":" + version + "-" + suite
}

func engineDirs(kind string) []string {
	dirs := []string{"usr/local/libexec/repro-matrix", "run/repro-matrix"}
	if kind == "podman" {
		dirs = append(dirs, "etc/containers", "etc/containers/containers.conf.d", "var/lib/containers")
	} else {
		dirs = append(dirs, "var/lib/docker", "var/lib/repro-registry")
	}
	return dirs
}

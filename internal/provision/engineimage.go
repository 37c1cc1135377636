package provision

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
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
type EngineRecipe struct {
	Kind    string // docker or podman
	Suite   string // Debian suite: trixie, forky, ...
	Package string // Debian package; default docker.io for docker, podman for podman
	// Source is the repro-matrix checkout the helpers are built from;
	// default: the checkout holding the working directory (or this file).
	Source string
}

// EngineImage is a provisioned engine image.
type EngineImage struct {
	Image
	Kind           string
	Version        string // the engine's version, from the package: 26.1.5
	PackageVersion string // the Debian version: 26.1.5+dfsg1-9+deb13u1+b1
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
		return EngineImage{}, fmt.Errorf("engine image %s from %s: %w", r.Package, r.Suite, err)
	}
	fs := RootFS{Suite: r.Suite, Arch: "amd64", Include: append([]string{r.Package}, enginePackages[r.Kind]...),
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
	parts := []string{"engine", r.Kind, r.Suite, r.Package, filepath.Base(rootfs)}
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
		if img, err = makeEngineImage(c, r, rootfs, files, k); err != nil {
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
func makeEngineImage(c Cache, r EngineRecipe, rootfs string, files []file, k string) (EngineImage, error) {
	pkgVersion, err := dpkgVersion(rootfs, r.Package)
	if err != nil {
		return EngineImage{}, err
	}
	version := debianUpstream(pkgVersion)
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
			EngineRecipeLabel:                  "debian:" + r.Suite + " " + r.Package + "=" + pkgVersion,
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

// engineFiles writes the entrypoint and configuration into dir, builds the
// helpers there, and returns the layer's files.
func engineFiles(ctx context.Context, r EngineRecipe, dir string) ([]file, error) {
	src := r.Source
	if src == "" {
		var err error
		if src, err = SourceRoot(); err != nil {
			return nil, err
		}
	}
	helpers := []string{"repro-runc"}
	if r.Kind == "docker" {
		helpers = append(helpers, "repro-registry")
	}
	var files []file
	for _, h := range helpers {
		out := filepath.Join(dir, h)
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./cmd/"+h)
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOWORK=off")
		if o, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build %s: %w\n%s", h, err, tail(o, 10))
		}
		files = append(files, file{out, strings.TrimPrefix(EngineLibexec, "/") + "/" + h, 0o755})
	}
	texts := map[string]struct {
		body string
		mode int64
	}{
		strings.TrimPrefix(EngineLibexec, "/") + "/entrypoint": {EntrypointScript(r.Kind), 0o755},
	}
	if r.Kind == "podman" {
		texts["etc/containers/containers.conf.d/40-repro-matrix-container.conf"] = struct {
			body string
			mode int64
		}{podmanContainerConf, 0o644}
		texts["etc/containers/storage.conf"] = struct {
			body string
			mode int64
		}{podmanStorageConf, 0o644}
	}
	names := make([]string, 0, len(texts))
	for n := range texts {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		p := filepath.Join(dir, fmt.Sprintf("text-%d", i))
		if err := os.WriteFile(p, []byte(texts[n].body), 0o644); err != nil {
			return nil, err
		}
		files = append(files, file{p, n, texts[n].mode})
	}
	return files, nil
}

// SourceRoot finds the repro-matrix checkout: the working directory or one
// of its parents, else the checkout this package was compiled from.
func SourceRoot() (string, error) {
	const module = "module github.com/repro-matrix/repro-matrix"
	isRoot := func(dir string) bool {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err != nil {
			return false
		}
		first, _, _ := strings.Cut(string(b), "\n")
		return strings.TrimSpace(first) == module
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if isRoot(d) {
				return d, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if _, self, _, ok := runtime.Caller(0); ok {
		if d := filepath.Dir(filepath.Dir(filepath.Dir(self))); isRoot(d) {
			return d, nil
		}
	}
	return "", errors.New("cannot find the repro-matrix checkout to build the engine helpers from: run from inside it")
}

func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// dpkgVersion reads the installed version of pkg from a rootfs tar's
// var/lib/dpkg/status.
func dpkgVersion(rootfs, pkg string) (string, error) {
	f, err := os.Open(rootfs)
	if err != nil {
		return "", err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return "", fmt.Errorf("%s: no var/lib/dpkg/status", filepath.Base(rootfs))
		}
		if err != nil {
			return "", fmt.Errorf("read %s: %w", filepath.Base(rootfs), err)
		}
		if strings.TrimPrefix(h.Name, "./") != "var/lib/dpkg/status" {
			continue
		}
		v, ok := statusVersion(tr, pkg)
		if !ok {
			return "", fmt.Errorf("%s: package %s is not installed", filepath.Base(rootfs), pkg)
		}
		return v, nil
	}
}

// statusVersion finds the Version of an installed package in a dpkg
// status file.
func statusVersion(r io.Reader, pkg string) (string, bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var name, version, status string
	flush := func() bool { return name == pkg && strings.HasSuffix(status, " installed") && version != "" }
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if flush() {
				return version, true
			}
			name, version, status = "", "", ""
			continue
		}
		if v, ok := strings.CutPrefix(line, "Package: "); ok {
			name = v
		} else if v, ok := strings.CutPrefix(line, "Version: "); ok {
			version = v
		} else if v, ok := strings.CutPrefix(line, "Status: "); ok {
			status = v
		}
	}
	if flush() {
		return version, true
	}
	return "", false
}

// debianUpstream is the upstream part of a Debian version:
// 26.1.5+dfsg1-9+deb13u1+b1 -> 26.1.5, 1:2.3-1 -> 2.3.
func debianUpstream(v string) string {
	if _, after, ok := strings.Cut(v, ":"); ok {
		v = after
	}
	if i := strings.LastIndex(v, "-"); i >= 0 {
		v = v[:i]
	}
	if i := strings.IndexAny(v, "+~"); i >= 0 {
		v = v[:i]
	}
	return v
}

// podmanContainerConf is what Podman needs in any container: no systemd to
// manage cgroups, no journald for events; and the host's network namespace
// (the engine container shares it) is never given bridges or firewall
// rules: nested containers default to the host network.
const podmanContainerConf = `# Podman in a container (repro-matrix): no systemd, no journald.
[containers]
netns = "host"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
`

// podmanStorageConf keeps Podman's store on /var/lib/containers, which the
// engine's starter mounts from a volume: overlay on the container's own
// overlay root would fail.
const podmanStorageConf = `[storage]
driver = "overlay"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
`

// EntrypointScript is the entrypoint of an engine image of kind. It applies
// the fixes of shared/ENVIRONMENT.md that the host it runs on needs, and
// only those, detected the way hack/setup-host.sh does (capability bounding
// set, cgroup layout, hard rlimits), then starts the engine: dockerd on a
// unix socket in EngineSocketDir (with the registry sidecar when
// REPRO_REGISTRY_ADDR is set), or Podman's configuration and an idle init
// for `podman` commands run through `docker exec`.
//
// REPRO_DRY_RUN=1 prints what would be applied and exits; REPRO_PROC_STATUS,
// REPRO_CAP_LAST_CAP, REPRO_CGROUP_ROOT, REPRO_HARD_NOFILE, REPRO_HARD_NPROC
// and REPRO_ETC replace what is detected, for tests.
func EntrypointScript(kind string) string {
	body := podmanEntrypoint
	if kind == "docker" {
		body = dockerEntrypoint
	}
	return entrypointPrelude + body
}

const entrypointPrelude = `#!/bin/bash
# Entrypoint of a repro-matrix engine image (generated by internal/provision).
set -euo pipefail
LIBEXEC=${REPRO_LIBEXEC:-/usr/local/libexec/repro-matrix}
SOCKET_DIR=${REPRO_SOCKET_DIR:-/run/repro-matrix}
PROC_STATUS=${REPRO_PROC_STATUS:-/proc/self/status}
CAP_LAST_CAP=${REPRO_CAP_LAST_CAP:-/proc/sys/kernel/cap_last_cap}
CGROUP_ROOT=${REPRO_CGROUP_ROOT:-/sys/fs/cgroup}
ETC=${REPRO_ETC:-/etc}
DRY_RUN=${REPRO_DRY_RUN:-}

say() { printf 'repro-matrix: %s\n' "$*" >&2; }

# needs_capfilter: privileged containers ask for every capability; a bounding
# set that lacks one needs the repro-runc wrapper (trap 1).
needs_capfilter() {
  local k v bnd="" last want
  while read -r k v; do [ "$k" = CapBnd: ] && bnd=$v; done <"$PROC_STATUS"
  [ -n "$bnd" ] || return 1
  last=$(<"$CAP_LAST_CAP")
  want=$(( (1 << (last + 1)) - 1 ))
  (( (16#$bnd & want) != want ))
}

missing_caps() { "$LIBEXEC/repro-runc" --list-missing 2>/dev/null || echo "some capabilities"; }

cgroup_v2() { [ -f "$CGROUP_ROOT/cgroup.controllers" ]; }

# low_rlimits: Podman asks for nofile/nproc limits above low hard limits (trap 2).
low_rlimits() {
  local n=${REPRO_HARD_NOFILE:-$(ulimit -Hn)} p=${REPRO_HARD_NPROC:-$(ulimit -Hu)}
  if [ "$n" != unlimited ] && [ "$n" -lt 1048576 ]; then return 0; fi
  if [ "$p" != unlimited ] && [ "$p" -lt 4194304 ]; then return 0; fi
  return 1
}

# nest_cgroup_v2: on cgroup v2 the engine container is the root of its own
# cgroup namespace; move this process out of the root group so that the
# engine can enable controllers for its containers (as docker:dind does).
nest_cgroup_v2() {
  cgroup_v2 || return 0
  say "cgroup v2: moving to $CGROUP_ROOT/init and enabling controllers"
  [ -z "$DRY_RUN" ] || return 0
  mkdir -p "$CGROUP_ROOT/init"
  xargs -rn1 <"$CGROUP_ROOT/cgroup.procs" >"$CGROUP_ROOT/init/cgroup.procs" || :
  sed -e 's/ / +/g' -e 's/^/+/' <"$CGROUP_ROOT/cgroup.controllers" >"$CGROUP_ROOT/cgroup.subtree_control" || :
}
`

const dockerEntrypoint = `
args=(dockerd --host "unix://$SOCKET_DIR/docker.sock" --data-root /var/lib/docker)
if needs_capfilter; then
  say "capability bounding set lacks $(missing_caps): default runtime repro-runc"
  args+=(--add-runtime "repro-runc=$LIBEXEC/repro-runc" --default-runtime repro-runc)
fi
registry=()
if [ -n "${REPRO_REGISTRY_ADDR:-}" ]; then
  registry=("$LIBEXEC/repro-registry" -addr "$REPRO_REGISTRY_ADDR" -dir /var/lib/repro-registry)
fi
if [ -n "$DRY_RUN" ]; then
  nest_cgroup_v2
  [ ${#registry[@]} -eq 0 ] || echo "sidecar: ${registry[*]}"
  echo "exec: ${args[*]} $*"
  exit 0
fi
nest_cgroup_v2
if [ ${#registry[@]} -gt 0 ]; then
  say "registry sidecar on $REPRO_REGISTRY_ADDR"
  "${registry[@]}" &
fi
mkdir -p "$SOCKET_DIR"
rm -f "$SOCKET_DIR/docker.sock" /var/run/docker.pid
say "starting: ${args[*]} $*"
exec "${args[@]}" "$@"
`

const podmanEntrypoint = `
conf="$ETC/containers/containers.conf.d/50-repro-matrix.conf"
body=""
if low_rlimits; then
  say "hard rlimits below Podman's defaults: default_ulimits 4096"
  body+=$'[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n'
fi
engine=""
if needs_capfilter; then
  say "capability bounding set lacks $(missing_caps): runtime repro-runc"
  engine+=$'runtime = "repro-runc"\n[engine.runtimes]\nrepro-runc = ["'"$LIBEXEC"$'/repro-runc"]\n'
elif ! cgroup_v2; then
  say "cgroup v1: runtime runc (crun refuses the hybrid layout)"
  engine+=$'runtime = "runc"\n'
fi
[ -z "$engine" ] || body+=$'[engine]\n'"$engine"
if [ -n "$DRY_RUN" ]; then
  nest_cgroup_v2
  printf '%s' "$body"
  exit 0
fi
mkdir -p "$(dirname "$conf")"
if [ -n "$body" ]; then printf '%s' "$body" >"$conf"; else rm -f "$conf"; fi
nest_cgroup_v2
mkdir -p "$SOCKET_DIR"
say "podman $(podman info --format '{{.Version.Version}} runtime={{.Host.OCIRuntime.Name}} storage={{.Store.GraphDriverName}} cgroup={{.Host.CgroupsVersion}}' 2>&1 | tr '\n' ' ')"
say "ready"
touch "$SOCKET_DIR/ready"
exec sleep infinity
`

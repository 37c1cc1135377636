package provision

import (
	"archive/tar"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/mod/semver"
)

// RootlessSuffix ends the tag of a BuildKit release's rootless variant, as
// moby/buildkit publishes it (v0.19.0-rootless).
const RootlessSuffix = "-rootless"

// RootlessKitModule is the Go module of rootlesskit, which runs buildkitd in
// a user namespace of its own in BuildKit's rootless image.
const RootlessKitModule = "github.com/rootless-containers/rootlesskit"

// rootlessUID is the user of BuildKit's rootless image (its Dockerfile's
// rootless stage: adduser -u 1000 user, USER 1000:1000).
const rootlessUID = 1000

// rootlessSubIDs is the image's /etc/subuid and /etc/subgid: the 65536 ids
// from 100000 on that rootlesskit maps into buildkitd's namespace, as in
// BuildKit's Dockerfile. The engine that runs the image must map container
// ids up to 165535 (RootlessIDsNeeded).
const rootlessSubIDs = "user:100000:65536\n"

// RootlessIDsNeeded is how many ids the container of a rootless BuildKit
// must map: 0 to 165535, so that rootlesskit can map the image's
// subordinate ids (rootlessSubIDs). A rootless Podman maps its user's
// /etc/subuid ranges, so that user needs 165535 subordinate ids or more.
const RootlessIDsNeeded = 165536

// buildKitRootlessBase adds newuidmap and newgidmap (Debian's uidmap) to
// BuildKit's base, for rootlesskit.
var buildKitRootlessBase = RootFS{Suite: buildKitBase.Suite, Arch: buildKitBase.Arch,
	Include: append(append([]string{}, buildKitBase.Include...), "uidmap"), Epoch: buildKitBase.Epoch,
	Describe: "buildkit rootless base"}

// BuildKitRootlessFrom provisions the rootless variant of a BuildKit
// release, the offline twin of moby/buildkit:version-rootless: the image of
// BuildKitFrom with rootlesskit (the version BuildKit's Dockerfile names in
// ARG ROOTLESSKIT_VERSION, built from the Go module proxy) and the rootless
// stage of that Dockerfile: user 1000 with subordinate ids 100000-165535,
// its runtime and state folders, and the entrypoint rootlesskit buildkitd.
//
// newuidmap and newgidmap carry file capabilities (cap_setuid, cap_setgid)
// instead of Debian's setuid bit: measured here, a setuid newuidmap in a
// container without CAP_SYS_ADMIN fails with "write to uid_map failed:
// Operation not permitted"; with file capabilities it keeps the caller's
// uid, which owns the new namespace.
func BuildKitRootlessFrom(ctx context.Context, c Cache, module, version string) (Image, error) {
	bins, err := checkedBuildKit(ctx, c, module, version)
	if err != nil {
		return Image{}, err
	}
	rkVersion, err := rootlessKitVersion(ctx, module, version, bins.Dir)
	if err != nil {
		return Image{}, err
	}
	rk, err := buildRootlessKit(ctx, c, rkVersion)
	if err != nil {
		return Image{}, fmt.Errorf("buildkit %s rootless: %w", version, err)
	}
	base, err := buildKitRootlessBase.Build(ctx, c)
	if err != nil {
		return Image{}, fmt.Errorf("buildkit %s rootless: %w", version, err)
	}
	bkLayer, err := buildKitLayer(c, module, version, bins, base)
	if err != nil {
		return Image{}, err
	}
	k := key(module, version, bins.ModuleHash, bins.GoVersion, filepath.Base(base), rk.ModuleHash, rootlessSubIDs)
	layer, err := c.Path("layers", "buildkit-"+version+RootlessSuffix+"-"+k+".tar")
	if err != nil {
		return Image{}, err
	}
	err = Produce(layer, func(tmp string) error {
		return rootlessLayer(tmp, base, filepath.Join(rk.Dir, "rootlesskit"), imageEpoch)
	})
	if err != nil {
		return Image{}, fmt.Errorf("buildkit %s rootless layer: %w", version, err)
	}
	out, err := c.Path("images", "buildkit-"+version+RootlessSuffix+"-"+k+".tar")
	if err != nil {
		return Image{}, err
	}
	home := "/home/user"
	cfg := v1.Config{
		Entrypoint: []string{"rootlesskit", "buildkitd"},
		User:       fmt.Sprintf("%d:%d", rootlessUID, rootlessUID),
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"HOME=" + home, "USER=user", fmt.Sprintf("XDG_RUNTIME_DIR=/run/user/%d", rootlessUID),
			"TMPDIR=" + home + "/.local/tmp", fmt.Sprintf("BUILDKIT_HOST=unix:///run/user/%d/buildkit/buildkitd.sock", rootlessUID)},
		Volumes: map[string]struct{}{home + "/.local/share/buildkit": {}},
		Labels: map[string]string{
			"org.opencontainers.image.version": version,
			"org.repro-matrix.recipe": "go:" + module + "@" + version + " " + bins.ModuleHash + " " + bins.GoVersion +
				" rootless go:" + rk.Module + "@" + rk.Version + " " + rk.ModuleHash,
		},
	}
	return assemble(BuildKitRepo+":"+version+RootlessSuffix, []string{base, bkLayer, layer}, cfg, imageEpoch,
		v1.Platform{OS: "linux", Architecture: "amd64"}, out)
}

// rootlessKitArg is the line of BuildKit's Dockerfile that names the
// rootlesskit release its rootless image carries.
var rootlessKitArg = regexp.MustCompile(`(?m)^ARG ROOTLESSKIT_VERSION=(v\S+)\s*$`)

// rootlessKitVersion reads ARG ROOTLESSKIT_VERSION from the Dockerfile of
// BuildKit module@version, whose throwaway build module binDir/src holds.
func rootlessKitVersion(ctx context.Context, module, version, binDir string) (string, error) {
	prog := goProgram{Module: module, Version: version}
	f, err := prog.sourceFile(ctx, binDir, "Dockerfile")
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(f)
	if err != nil {
		return "", fmt.Errorf("buildkit %s: its Dockerfile: %w", version, err)
	}
	return parseRootlessKitArg(data, version)
}

// parseRootlessKitArg is rootlessKitVersion on the Dockerfile's bytes.
func parseRootlessKitArg(dockerfile []byte, version string) (string, error) {
	m := rootlessKitArg.FindSubmatch(dockerfile)
	if m == nil {
		return "", fmt.Errorf("buildkit %s: its Dockerfile has no ARG ROOTLESSKIT_VERSION=v…: no rootless variant to make", version)
	}
	v := string(m[1])
	if !semver.IsValid(v) {
		return "", fmt.Errorf("buildkit %s: ARG ROOTLESSKIT_VERSION=%s is not a semantic version", version, v)
	}
	return v, nil
}

// rootlessKitModulePath is the module path of rootlesskit at version: from
// v2 on, the major version ends it (Go modules' semantic import versioning).
func rootlessKitModulePath(version string) string {
	if major := semver.Major(version); major != "v0" && major != "v1" {
		return RootlessKitModule + "/" + major
	}
	return RootlessKitModule
}

// rootlessKitBin is a rootlesskit binary in the cache.
type rootlessKitBin struct {
	Dir, Module, Version, ModuleHash string
}

// buildRootlessKit compiles rootlesskit at version from the module proxy
// into the cache and checks that it reports that version.
func buildRootlessKit(ctx context.Context, c Cache, version string) (rootlessKitBin, error) {
	module := rootlessKitModulePath(version)
	dst, err := c.Path("rootlesskit-bin", key(module, version, runtime.Version(), runtime.GOARCH))
	if err != nil {
		return rootlessKitBin{}, err
	}
	prog := goProgram{Module: module, Version: version, Packages: []string{module + "/cmd/rootlesskit"}}
	err = Produce(dst, func(tmp string) error {
		if err := prog.build(ctx, tmp); err != nil {
			return err
		}
		out, err := exec.CommandContext(ctx, filepath.Join(tmp, "rootlesskit"), "--version").CombinedOutput()
		if err != nil {
			return fmt.Errorf("rootlesskit --version: %w: %s", err, tail(out, 3))
		}
		// "rootlesskit version 2.3.2"
		if f := strings.Fields(string(out)); len(f) < 3 || "v"+f[2] != version {
			return fmt.Errorf("rootlesskit built for %s reports %q", version, strings.TrimSpace(string(out)))
		}
		return nil
	})
	if err != nil {
		return rootlessKitBin{}, fmt.Errorf("build rootlesskit %s: %w", version, err)
	}
	return rootlessKitBin{Dir: dst, Module: module, Version: version, ModuleHash: prog.sum(dst)}, nil
}

// capabilityXattr is the security.capability extended attribute that gives
// a file one capability, permitted and effective (VFS_CAP_REVISION_2 of
// linux/capability.h: magic and flags, then permitted and inheritable
// words for capabilities 0-31 and 32-63, little-endian).
func capabilityXattr(capability uint) string {
	b := make([]byte, 20)
	binary.LittleEndian.PutUint32(b[0:], 0x02000000|0x1) // revision 2, effective
	binary.LittleEndian.PutUint32(b[4:], 1<<capability)
	return string(b)
}

// Capability numbers of linux/capability.h.
const (
	capSetgid = 6
	capSetuid = 7
)

// rootlessLayer writes the layer of the rootless stage over base (the root
// filesystem's tar): rootlesskit, newuidmap and newgidmap with file
// capabilities, /etc/passwd and /etc/group with the user, its subordinate
// ids, and the folders it owns. Files and owners are fixed, times are
// mtime, so the same inputs give the same bytes.
func rootlessLayer(out, base, rootlesskit string, mtime time.Time) error {
	fromBase, err := baseFiles(base, "etc/passwd", "etc/group", "usr/bin/newuidmap", "usr/bin/newgidmap")
	if err != nil {
		return err
	}
	rk, err := os.ReadFile(rootlesskit)
	if err != nil {
		return err
	}
	user := fmt.Sprintf("user:x:%d:%d::/home/user:/bin/sh\n", rootlessUID, rootlessUID)
	group := fmt.Sprintf("user:x:%d:\n", rootlessUID)
	capability := func(c uint) map[string]string {
		return map[string]string{"SCHILY.xattr.security.capability": capabilityXattr(c)}
	}
	return writeLayer(out, []entry{
		{name: "etc/group", mode: 0o644, data: append(fromBase["etc/group"], group...)},
		{name: "etc/passwd", mode: 0o644, data: append(fromBase["etc/passwd"], user...)},
		{name: "etc/subgid", mode: 0o644, data: []byte(rootlessSubIDs)},
		{name: "etc/subuid", mode: 0o644, data: []byte(rootlessSubIDs)},
		{name: "home/user", mode: 0o755, uid: rootlessUID},
		{name: "home/user/.local", mode: 0o755, uid: rootlessUID},
		{name: "home/user/.local/share", mode: 0o755, uid: rootlessUID},
		{name: "home/user/.local/share/buildkit", mode: 0o755, uid: rootlessUID},
		{name: "home/user/.local/tmp", mode: 0o755, uid: rootlessUID},
		{name: "run/user", mode: 0o755},
		{name: fmt.Sprintf("run/user/%d", rootlessUID), mode: 0o755, uid: rootlessUID},
		{name: "usr/bin/newgidmap", mode: 0o755, data: fromBase["usr/bin/newgidmap"], pax: capability(capSetgid)},
		{name: "usr/bin/newuidmap", mode: 0o755, data: fromBase["usr/bin/newuidmap"], pax: capability(capSetuid)},
		{name: "usr/bin/rootlesskit", mode: 0o755, data: rk},
	}, mtime)
}

// baseFiles reads regular files of a root filesystem's tar by their paths
// (no leading "./" or "/"); a file it lacks is an error naming it.
func baseFiles(tarball string, names ...string) (map[string][]byte, error) {
	f, err := os.Open(tarball)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	got := map[string][]byte{}
	tr := tar.NewReader(f)
	for len(got) < len(want) {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(tarball), err)
		}
		n := path.Clean(strings.TrimPrefix(h.Name, "/"))
		if !want[n] || h.Typeflag != tar.TypeReg {
			continue
		}
		if got[n], err = io.ReadAll(io.LimitReader(tr, 16<<20)); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", filepath.Base(tarball), n, err)
		}
	}
	for _, n := range names {
		if _, ok := got[n]; !ok {
			return nil, fmt.Errorf("%s has no regular file %s", filepath.Base(tarball), n)
		}
	}
	return got, nil
}

package provision

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/mod/semver"
	"gopkg.in/yaml.v3"
)

// Docker releases that Debian does not carry are built from the Go module
// proxy: the daemon from github.com/moby/moby/v2 (Docker 29's daemon, tagged
// v2.0.0-beta.N), the CLI from github.com/docker/cli (tagged as Docker's
// releases, +incompatible), the buildx plugin from github.com/docker/buildx.

// CLIModule and BuildxModule are the modules of Docker's client parts.
const (
	CLIModule    = "github.com/docker/cli"
	BuildxModule = "github.com/docker/buildx"
)

// releaseFile is where Docker's daemon module names the release a tag was
// cut for: releases/versions.yaml, `docker: {last: 29.8.0, next: 29.8.1}`
// in v2.0.0-beta.24.
const releaseFile = "releases/versions.yaml"

// dockerd builds dockerd and docker-proxy of modVersion ("module@version")
// into the cache, with version as the version string they report, after
// checking that the module was cut for that release (releaseFile's
// docker.next): a beta tag's number says nothing about the Docker release
// it carries. It returns the folder holding both binaries and the recipe
// text that labels the image.
func dockerd(ctx context.Context, c Cache, modVersion, version string) (dir, recipe string, err error) {
	module, modVer, ok := strings.Cut(modVersion, "@")
	if !ok || !semver.IsValid(modVer) {
		return "", "", fmt.Errorf("dockerd module %q: want module@version", modVersion)
	}
	prog := goProgram{Module: module, Version: modVer,
		Packages: []string{module + "/cmd/dockerd", module + "/cmd/docker-proxy"},
		LDFlags:  "-X " + module + "/dockerversion.Version=" + version}
	dir, err = c.Path("dockerd-bin", key(module, modVer, version, prog.mainModule(), runtime.Version(), runtime.GOARCH))
	if err != nil {
		return "", "", err
	}
	err = Produce(dir, func(tmp string) error {
		if err := prog.build(ctx, tmp); err != nil {
			return err
		}
		file, err := prog.sourceFile(ctx, tmp, releaseFile)
		if err != nil {
			return err
		}
		return checkRelease(file, modVersion, version)
	})
	if err != nil {
		return "", "", fmt.Errorf("build dockerd %s from %s: %w", version, modVersion, err)
	}
	return dir, "go:" + modVersion + " " + prog.sum(dir) + " " + runtime.Version(), nil
}

// checkRelease reads a daemon module's releases/versions.yaml and requires
// its docker.next to be version.
func checkRelease(file, modVersion, version string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("%s does not say which Docker release it was cut for: %w", modVersion, err)
	}
	var v struct {
		Docker struct{ Last, Next string }
	}
	if err := yaml.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("%s %s: %w", modVersion, releaseFile, err)
	}
	if v.Docker.Next != version {
		return fmt.Errorf("%s was cut for Docker %q (%s: docker.next), not %s", modVersion, v.Docker.Next, releaseFile, version)
	}
	return nil
}

// Buildx builds the buildx plugin at version (v0.38.2) from the Go module
// proxy into the cache and returns the binary's path.
func Buildx(ctx context.Context, c Cache, version string) (string, error) {
	prog := goProgram{Module: BuildxModule, Version: version, Packages: []string{BuildxModule + "/cmd/buildx"},
		LDFlags: "-X " + BuildxModule + "/version.Version=" + version}
	dir, err := c.Path("buildx-bin", key(BuildxModule, version, prog.mainModule(), runtime.Version(), runtime.GOARCH))
	if err != nil {
		return "", err
	}
	if err := Produce(dir, func(tmp string) error { return prog.build(ctx, tmp) }); err != nil {
		return "", fmt.Errorf("build buildx %s: %w", version, err)
	}
	return filepath.Join(dir, "buildx"), nil
}

// DockerCLI builds the docker CLI at version (v29.8.1) from the Go module
// proxy into the cache and returns the binary's path. docker/cli has no
// go.mod (its versions are calendar versions, served +incompatible): its
// vendor.mod and vendor.sum, which pin its dependencies, become the go.mod
// and go.sum of a copy of its source, as its own hack/with-go-mod.sh does.
func DockerCLI(ctx context.Context, c Cache, version string) (string, error) {
	dir, err := c.Path("docker-cli-bin", key(CLIModule, version, runtime.Version(), runtime.GOARCH))
	if err != nil {
		return "", err
	}
	err = Produce(dir, func(tmp string) error { return buildCLI(ctx, tmp, version) })
	if err != nil {
		return "", fmt.Errorf("build the docker CLI %s: %w", version, err)
	}
	return filepath.Join(dir, "docker"), nil
}

func buildCLI(ctx context.Context, dir, version string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	out, err := goCmd(ctx, dir, "mod", "download", "-json", CLIModule+"@"+version+"+incompatible")
	if err != nil {
		return refused(CLIModule, version, out, err)
	}
	var dl struct{ Dir string }
	if err := json.Unmarshal(out, &dl); err != nil || dl.Dir == "" {
		return fmt.Errorf("go mod download %s@%s: no folder in %q", CLIModule, version, tail(out, 3))
	}
	src := filepath.Join(dir, "src")
	if o, err := exec.CommandContext(ctx, "cp", "-r", dl.Dir, src).CombinedOutput(); err != nil {
		return fmt.Errorf("copy the CLI's source: %w: %s", err, o)
	}
	if o, err := exec.CommandContext(ctx, "chmod", "-R", "u+w", src).CombinedOutput(); err != nil {
		return fmt.Errorf("chmod the CLI's source: %w: %s", err, o)
	}
	for from, to := range map[string]string{"vendor.mod": "go.mod", "vendor.sum": "go.sum"} {
		if err := os.Rename(filepath.Join(src, from), filepath.Join(src, to)); err != nil {
			return fmt.Errorf("docker/cli %s: %w", version, err)
		}
	}
	ldflags := "-s -w -X " + CLIModule + "/cli/version.Version=" + strings.TrimPrefix(version, "v")
	if out, err := goCmd(ctx, src, "build", "-trimpath", "-ldflags", ldflags, "-o", filepath.Join(dir, "docker"), "./cmd/docker"); err != nil {
		return refused(CLIModule, version, out, err)
	}
	return os.RemoveAll(src)
}

// ClientConfig returns a DOCKER_CONFIG folder in the cache whose
// cli-plugins/docker-buildx is the buildx binary at path: the docker CLI
// looks for plugins there before the system's folders.
func ClientConfig(c Cache, buildx string) (string, error) {
	dir, err := c.Path("docker-config", key(buildx))
	if err != nil {
		return "", err
	}
	err = Produce(dir, func(tmp string) error {
		if err := os.MkdirAll(filepath.Join(tmp, "cli-plugins"), 0o755); err != nil {
			return err
		}
		return os.Symlink(buildx, filepath.Join(tmp, "cli-plugins", "docker-buildx"))
	})
	return dir, err
}

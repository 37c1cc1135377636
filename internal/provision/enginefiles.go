package provision

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// The shell and configuration of engine images are files of their own in
// engine/, which `make lint` shellchecks, embedded here. Engine images are
// cached by the bytes of these files: changing one makes new images.
var (
	//go:embed engine/entrypoint.sh
	entrypointCommon string
	//go:embed engine/entrypoint-docker.sh
	entrypointDocker string
	//go:embed engine/entrypoint-podman.sh
	entrypointPodman string
	// podmanContainerConf is what Podman needs in any container: no systemd
	// to manage cgroups, no journald for events; and the host's network
	// namespace (the engine container shares it) is never given bridges or
	// firewall rules: nested containers default to the host network.
	//go:embed engine/podman-containers.conf
	podmanContainerConf string
	// podmanStorageConf keeps Podman's store on /var/lib/containers, which
	// the engine's starter mounts from a volume: overlay on the container's
	// own overlay root would fail.
	//go:embed engine/podman-storage.conf
	podmanStorageConf string
)

// EntrypointScript is the entrypoint of an engine image of kind ("docker";
// any other kind gets Podman's): engine/entrypoint.sh followed by
// engine/entrypoint-<kind>.sh, without their shellcheck directives. It
// applies the fixes of shared/ENVIRONMENT.md that the host it runs on
// needs, and only those, detected the way hack/setup-host.sh does
// (capability bounding set, cgroup layout, hard rlimits), then starts the
// engine: dockerd on a unix socket in EngineSocketDir (with the registry
// sidecar when REPRO_REGISTRY_ADDR is set), or Podman's configuration and
// an idle init for `podman` commands run through `docker exec`.
//
// REPRO_DRY_RUN=1 prints what would be applied and exits; REPRO_PROC_STATUS,
// REPRO_CAP_LAST_CAP, REPRO_CGROUP_ROOT, REPRO_HARD_NOFILE, REPRO_HARD_NPROC
// and REPRO_ETC replace what is detected, for tests.
func EntrypointScript(kind string) string {
	body := entrypointPodman
	if kind == "docker" {
		body = entrypointDocker
	}
	return withoutDirectives(entrypointCommon) + withoutDirectives(body)
}

// shellcheckDirective starts the lines of the embedded scripts that speak
// to shellcheck only: they stay out of the images, whose entrypoint bytes
// are part of their cache key.
const shellcheckDirective = "# shellcheck "

// withoutDirectives drops a script's shellcheck directive lines.
func withoutDirectives(script string) string {
	var b strings.Builder
	for line := range strings.Lines(script) {
		if !strings.HasPrefix(line, shellcheckDirective) {
			b.WriteString(line)
		}
	}
	return b.String()
}

// text is a file of an engine image written from a string.
type text struct {
	dst  string // path in the image, without the leading slash
	body string
	mode int64
}

// engineTexts are the entrypoint and configuration files of an engine
// image of kind, sorted by path (the order of the layer).
func engineTexts(kind string) []text {
	texts := []text{{strings.TrimPrefix(EngineLibexec, "/") + "/entrypoint", EntrypointScript(kind), 0o755}}
	if kind == "podman" {
		texts = append(texts,
			text{"etc/containers/containers.conf.d/40-repro-matrix-container.conf", podmanContainerConf, 0o644},
			text{"etc/containers/storage.conf", podmanStorageConf, 0o644})
	}
	slices.SortFunc(texts, func(a, b text) int { return strings.Compare(a.dst, b.dst) })
	return texts
}

// engineFiles builds the helpers of an engine image into dir, writes its
// texts there, and returns the layer's files: the helpers first, then the
// texts.
func engineFiles(ctx context.Context, r EngineRecipe, dir string) ([]file, error) {
	files, err := buildHelpers(ctx, r, dir)
	if err != nil {
		return nil, err
	}
	for i, t := range engineTexts(r.Kind) {
		p := filepath.Join(dir, fmt.Sprintf("text-%d", i))
		if err := os.WriteFile(p, []byte(t.body), 0o644); err != nil {
			return nil, err
		}
		files = append(files, file{p, t.dst, t.mode})
	}
	return files, nil
}

// buildHelpers compiles repro-runc (and for Docker repro-registry) from
// the recipe's source for linux/amd64 into dir.
func buildHelpers(ctx context.Context, r EngineRecipe, dir string) ([]file, error) {
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

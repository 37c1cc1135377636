package provision

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"

	"golang.org/x/mod/semver"
)

// BuildKitModule is the module BuildKit's daemons are built from.
const BuildKitModule = "github.com/moby/buildkit"

// ErrModuleRefused means the Go module proxy would not serve a module that a
// BuildKit version needs; the error names the version and the module.
var ErrModuleRefused = errors.New("module refused by the Go module proxy")

// refusedRe finds the module the go command could not fetch, in lines like
// "example.com/m@v0.0.0-2020...: reading https://.../m/@v/....zip: 403 Forbidden"
// or "go: example.com/m@v1.2.3: invalid version: unknown revision v1.2.3".
var refusedRe = regexp.MustCompile(`(?m)([a-zA-Z0-9._~/-]+)@(v[0-9][^\s:]*): (.*(?:reading|invalid version|unknown revision|not found|Forbidden|Gone|not available).*)$`)

// binaries are what a BuildKit image needs from BuildKit's module.
type binaries struct {
	Dir        string // holds buildkitd, buildctl, buildctl-daemonless.sh
	Version    string
	GoVersion  string
	ModuleHash string // go.sum line of the module: ties the image to its source
}

// buildBuildKit compiles buildkitd and buildctl at version from the module
// proxy into the cache, with buildctl-daemonless.sh from the module's
// examples.
func buildBuildKit(ctx context.Context, c Cache, module, version string) (binaries, error) {
	if !semver.IsValid(version) {
		return binaries{}, fmt.Errorf("buildkit version %q: not a semantic version like v0.19.0", version)
	}
	dst, err := c.Path("buildkit-bin", key(module, version, runtime.Version(), runtime.GOARCH))
	if err != nil {
		return binaries{}, err
	}
	prog := goProgram{Module: module, Version: version,
		Packages: []string{module + "/cmd/buildkitd", module + "/cmd/buildctl"},
		LDFlags:  "-X " + module + "/version.Version=" + version}
	err = Produce(dst, func(tmp string) error {
		if err := prog.build(ctx, tmp); err != nil {
			return err
		}
		script, err := prog.sourceFile(ctx, tmp, "examples/buildctl-daemonless/buildctl-daemonless.sh")
		if err != nil {
			return err
		}
		data, err := os.ReadFile(script)
		if err != nil {
			return fmt.Errorf("buildctl-daemonless.sh: %w", err)
		}
		return os.WriteFile(filepath.Join(tmp, "buildctl-daemonless.sh"), data, 0o755)
	})
	if err != nil {
		return binaries{}, fmt.Errorf("build buildkit %s: %w", version, err)
	}
	return binaries{Dir: dst, Version: version, GoVersion: runtime.Version(), ModuleHash: prog.sum(dst)}, nil
}

// goCmd runs the go command in dir with cgo off and modules from the proxy.
func goCmd(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off")
	return cmd.CombinedOutput()
}

// refused turns go command output into an error that names the module and
// version being built and, when the proxy refused one, the module it needs.
func refused(module, version string, out []byte, err error) error {
	if m := refusedRe.FindSubmatch(out); m != nil {
		return fmt.Errorf("%s %s needs %s@%s: %w: %s", shortName(module), version, m[1], m[2], ErrModuleRefused, m[3])
	}
	return fmt.Errorf("go: %w\n%s", err, tail(out, 15))
}

// shortName is a module's last path element before any major-version
// suffix: github.com/moby/moby/v2 -> moby, github.com/moby/buildkit -> buildkit.
func shortName(module string) string {
	dir, last := path.Split(module)
	if len(last) > 1 && last[0] == 'v' && strings.Trim(last[1:], "0123456789") == "" {
		return path.Base(dir)
	}
	return last
}

// moduleSum returns the go.sum hash of module at version.
func moduleSum(sum []byte, module, version string) string {
	prefix := module + " " + version + " "
	for _, line := range strings.Split(string(sum), "\n") {
		if strings.HasPrefix(line, prefix) {
			return strings.TrimPrefix(line, prefix)
		}
	}
	return ""
}

// Latest asks the Go module proxy for the newest release of module: what a
// BuildKit version "latest" means offline.
func Latest(ctx context.Context, module string) (string, error) {
	dir, err := os.MkdirTemp("", "repro-matrix-latest-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module latest.local\n"), 0o644); err != nil {
		return "", err
	}
	out, err := goCmd(ctx, dir, "list", "-m", "-f", "{{.Version}}", module+"@latest")
	if err != nil {
		return "", fmt.Errorf("resolve %s@latest: %w: %s", module, err, tail(out, 5))
	}
	v := strings.TrimSpace(string(out))
	if !semver.IsValid(v) {
		return "", fmt.Errorf("resolve %s@latest: proxy answered %q", module, v)
	}
	return v, nil
}

// Versions asks the Go module proxy for every version of module it serves
// (go list -m -versions: tagged versions, pre-releases included, retracted
// ones left out), in the proxy's order: the releases a BuildKit ladder is
// made of offline (matrix.Lister). The go command's GOPROXY, GONOSUMDB and
// GOFLAGS apply. Errors name the module and end with the go command's last
// lines; a module without any version is an error too.
func Versions(ctx context.Context, module string) ([]string, error) {
	dir, err := os.MkdirTemp("", "repro-matrix-versions-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module versions.local\n"), 0o644); err != nil {
		return nil, err
	}
	out, err := goCmd(ctx, dir, "list", "-m", "-versions", "-f", "{{range .Versions}}{{.}} {{end}}", module)
	if err != nil {
		return nil, fmt.Errorf("list the versions of %s: %w: %s", module, err, tail(out, 5))
	}
	versions := strings.Fields(string(out))
	if len(versions) == 0 {
		return nil, fmt.Errorf("list the versions of %s: the proxy serves none", module)
	}
	return versions, nil
}

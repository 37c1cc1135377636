package provision

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
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
// proxy into the cache. go install refuses BuildKit (its go.mod has exclude
// directives), so a throwaway module requires it and builds its commands.
func buildBuildKit(ctx context.Context, c Cache, module, version string) (binaries, error) {
	if !semver.IsValid(version) {
		return binaries{}, fmt.Errorf("buildkit version %q: not a semantic version like v0.19.0", version)
	}
	dst, err := c.Path("buildkit-bin", key(module, version, runtime.Version(), runtime.GOARCH))
	if err != nil {
		return binaries{}, err
	}
	err = Produce(dst, func(tmp string) error { return compileBuildKit(ctx, tmp, module, version) })
	if err != nil {
		return binaries{}, fmt.Errorf("build buildkit %s: %w", version, err)
	}
	sum, _ := os.ReadFile(filepath.Join(dst, "src", "go.sum"))
	return binaries{Dir: dst, Version: version, GoVersion: runtime.Version(), ModuleHash: moduleSum(sum, module, version)}, nil
}

func compileBuildKit(ctx context.Context, dir, module, version string) error {
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	gomod := "module repro-matrix.local/buildkit\n\ngo 1.22\n\nrequire " + module + " " + version + "\n"
	tools := "//go:build tools\n\npackage tools\n\nimport (\n\t_ \"" + module + "/cmd/buildctl\"\n\t_ \"" + module + "/cmd/buildkitd\"\n)\n"
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte(gomod), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(src, "tools.go"), []byte(tools), 0o644); err != nil {
		return err
	}
	if out, err := goCmd(ctx, src, "mod", "tidy"); err != nil {
		return refused(version, out, err)
	}
	ldflags := "-s -w -X " + module + "/version.Version=" + version
	out, err := goCmd(ctx, src, "build", "-trimpath", "-ldflags", ldflags, "-o", dir+"/",
		module+"/cmd/buildkitd", module+"/cmd/buildctl")
	if err != nil {
		return refused(version, out, err)
	}
	modDir, err := goCmd(ctx, src, "list", "-m", "-f", "{{.Dir}}", module)
	if err != nil {
		return fmt.Errorf("locate module source: %w: %s", err, tail(modDir, 5))
	}
	script := filepath.Join(strings.TrimSpace(string(modDir)), "examples", "buildctl-daemonless", "buildctl-daemonless.sh")
	data, err := os.ReadFile(script)
	if err != nil {
		return fmt.Errorf("buildctl-daemonless.sh: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "buildctl-daemonless.sh"), data, 0o755)
}

// goCmd runs the go command in dir with cgo off and modules from the proxy.
func goCmd(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off")
	return cmd.CombinedOutput()
}

// refused turns go command output into an error that names the version and,
// when the proxy refused one, the module.
func refused(version string, out []byte, err error) error {
	if m := refusedRe.FindSubmatch(out); m != nil {
		return fmt.Errorf("buildkit %s needs %s@%s: %w: %s", version, m[1], m[2], ErrModuleRefused, m[3])
	}
	return fmt.Errorf("go: %w\n%s", err, tail(out, 15))
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

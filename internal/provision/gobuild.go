package provision

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// goProgram is a set of commands of one Go module at one version, built
// with cgo off for the host's platform.
type goProgram struct {
	Module   string   // github.com/moby/buildkit
	Version  string   // v0.19.0
	Packages []string // import paths of the commands: github.com/moby/buildkit/cmd/buildctl
	LDFlags  string   // besides -s -w: "-X <module>/version.Version=v0.19.0"
}

// build compiles p into dir (one binary per package, named after its last
// path element) through a throwaway module that requires p.Module: `go
// install pkg@version` refuses modules whose go.mod has replace or exclude
// directives (BuildKit's has). The throwaway module's go.mod and go.sum stay
// in dir/src and tie the binaries to their source. Errors name the version
// and, when the Go module proxy refused one, the module (ErrModuleRefused).
func (p goProgram) build(ctx context.Context, dir string) error {
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	// The main module's path is in every binary's build information: it
	// stays what BuildKit's cached binaries were built with
	// (repro-matrix.local/buildkit), so a fresh build gives the same bytes.
	gomod := "module " + p.mainModule() + "\n\ngo 1.22\n\nrequire " + p.Module + " " + p.Version + "\n"
	var tools strings.Builder
	tools.WriteString("//go:build tools\n\npackage tools\n\nimport (\n")
	for _, pkg := range p.Packages {
		fmt.Fprintf(&tools, "\t_ %q\n", pkg)
	}
	tools.WriteString(")\n")
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte(gomod), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(src, "tools.go"), []byte(tools.String()), 0o644); err != nil {
		return err
	}
	if out, err := goCmd(ctx, src, "mod", "tidy"); err != nil {
		return refused(p.Module, p.Version, out, err)
	}
	args := append([]string{"build", "-trimpath", "-ldflags", strings.TrimSpace("-s -w " + p.LDFlags), "-o", dir + "/"}, p.Packages...)
	if out, err := goCmd(ctx, src, args...); err != nil {
		return refused(p.Module, p.Version, out, err)
	}
	return nil
}

// mainModule is the throwaway module's path, which every binary records:
// part of what a cache key must hold.
func (p goProgram) mainModule() string { return "repro-matrix.local/" + shortName(p.Module) }

// sourceFile is the path of rel in p's module source, as the go command
// resolved it for the throwaway module that dir/src holds.
func (p goProgram) sourceFile(ctx context.Context, dir, rel string) (string, error) {
	out, err := goCmd(ctx, filepath.Join(dir, "src"), "list", "-m", "-f", "{{.Dir}}", p.Module)
	if err != nil {
		return "", fmt.Errorf("locate the source of %s: %w: %s", p.Module, err, tail(out, 5))
	}
	return filepath.Join(strings.TrimSpace(string(out)), rel), nil
}

// sum is the go.sum hash of p's module as built in dir.
func (p goProgram) sum(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "src", "go.sum"))
	return moduleSum(b, p.Module, p.Version)
}

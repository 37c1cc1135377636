package provision

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// RootFS describes a Debian root filesystem made by mmdebstrap.
type RootFS struct {
	Suite    string   // bookworm, trixie, forky
	Arch     string   // Debian architecture: amd64, arm64
	Include  []string // extra packages
	Epoch    int64    // SOURCE_DATE_EPOCH: fixes every timestamp mmdebstrap writes
	Variant  string   // mmdebstrap variant, default minbase
	Describe string   // a word for messages
}

// cleanup removes what differs between two runs of the same recipe: logs,
// caches, machine ids, apt's lists (they carry download dates), and what
// mmdebstrap copies from the machine that runs it: /etc/hostname and
// /etc/resolv.conf, with the host's content and modes (a container runtime
// mounts its own over both). Without it the base image, and so every golden
// digest on it, depends on the machine's name (found by make fresh).
var cleanup = []string{
	`rm -rf "$1"/var/log/* "$1"/var/cache/apt/* "$1"/var/cache/ldconfig/aux-cache "$1"/var/lib/apt/lists/*`,
	`rm -f "$1"/var/cache/debconf/*-old "$1"/var/lib/dpkg/*-old "$1"/etc/ssh/ssh_host_*`,
	`: > "$1"/etc/machine-id; rm -f "$1"/var/lib/dbus/machine-id`,
	`rm -f "$1"/etc/hostname "$1"/etc/resolv.conf; : > "$1"/etc/hostname; : > "$1"/etc/resolv.conf; chmod 0644 "$1"/etc/hostname "$1"/etc/resolv.conf`,
}

// make writes the root filesystem as a tar file. With SOURCE_DATE_EPOCH set,
// mmdebstrap gives the same bytes for the same packages.
func (r RootFS) make(ctx context.Context, out string) error {
	mirror, err := DebianMirror()
	if err != nil {
		return err
	}
	variant := r.Variant
	if variant == "" {
		variant = "minbase"
	}
	args := []string{
		"--variant=" + variant, "--mode=root", "--format=tar", "--architectures=" + r.Arch,
		"--aptopt=Acquire::Check-Valid-Until \"false\"",
		"--customize-hook=" + strings.Join(cleanup, "; "),
	}
	if len(r.Include) > 0 {
		args = append(args, "--include="+strings.Join(r.Include, ","))
	}
	args = append(args, r.Suite, out, mirror)
	cmd := exec.CommandContext(ctx, "mmdebstrap", args...)
	cmd.Env = append(rootfsEnv(os.Environ()), "SOURCE_DATE_EPOCH="+strconv.FormatInt(r.Epoch, 10))
	if o, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("mmdebstrap %s/%s: %w\n%s", r.Suite, r.Arch, err, tail(o, 15))
	}
	return nil
}

// rootfsEnv keeps of the caller's environment what mmdebstrap needs to run
// and reach the mirror, and nothing that maintainer scripts would read: a
// caller's PYTHONDONTWRITEBYTECODE=1 changed five .pyc files that
// python3's postinst writes, and so the python3 base and every golden on it
// (found by make fresh, whose shell has no such variable).
func rootfsEnv(environ []string) []string {
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToLower(k) {
		case "path", "home", "tmpdir", "http_proxy", "https_proxy", "no_proxy", "all_proxy":
			out = append(out, kv)
		}
	}
	return out
}

// rootfsRecipe names what, besides the fields of RootFS, decides a root
// filesystem's bytes: the cleanup hook and the environment mmdebstrap runs
// in (rootfsEnv).
const rootfsRecipe = "env: PATH HOME TMPDIR proxies"

// Build returns the cached rootfs tar, making it on first use.
func (r RootFS) Build(ctx context.Context, c Cache) (string, error) {
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		return "", fmt.Errorf("rootfs %s: mmdebstrap not installed (run make setup): %w", r.Suite, err)
	}
	name := key(r.Suite, r.Arch, r.Variant, strings.Join(r.Include, ","), strconv.FormatInt(r.Epoch, 10), strings.Join(cleanup, ";"), rootfsRecipe)
	dst, err := c.Path("rootfs", r.Suite+"-"+r.Arch+"-"+name+".tar")
	if err != nil {
		return "", err
	}
	return dst, Produce(dst, func(tmp string) error { return r.make(ctx, tmp) })
}

package provision

import (
	"context"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// DebianRepo is the local name of provisioned Debian base images.
const DebianRepo = "localhost/repro-matrix/debian"

// DebianBase provisions a minimal Debian image of suite for a Debian
// architecture (amd64, arm64), with packages besides the minimal set, made
// reproducibly from Debian's archive: the same packages give the same
// digest. Its tag is DebianRepo:suite[-arch], with the packages' names
// between them when there are some.
func DebianBase(ctx context.Context, c Cache, suite, arch string, packages ...string) (Image, error) {
	packages = slices.Sorted(slices.Values(packages))
	fs := RootFS{Suite: suite, Arch: arch, Include: packages, Epoch: imageEpoch.Unix(), Describe: "debian base"}
	rootfs, err := fs.Build(ctx, c)
	if err != nil {
		return Image{}, fmt.Errorf("debian base %s/%s: %w", suite, arch, err)
	}
	out, err := c.Path("images", "debian-"+suite+"-"+arch+"-"+key(rootfs)+".tar")
	if err != nil {
		return Image{}, err
	}
	cfg := v1.Config{
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Cmd: []string{"bash"},
	}
	tag := DebianRepo + ":" + suite
	for _, p := range packages {
		tag += "-" + strings.NewReplacer("+", "p", ".", "_").Replace(p)
	}
	if arch != "amd64" {
		tag += "-" + arch
	}
	return assemble(tag, []string{rootfs}, cfg, imageEpoch, v1.Platform{OS: "linux", Architecture: arch}, out)
}

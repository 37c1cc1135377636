package cell

import (
	"fmt"
	"slices"
	"strings"

	"github.com/containerd/platforms"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// The platforms matrix.yaml may name: the operating systems, and each
// architecture with the variants it may have, as BuildKit spells them.
var (
	knownOS    = []string{"linux", "windows", "darwin", "freebsd"}
	knownArchs = map[string][]string{
		"amd64": {"v1", "v2", "v3", "v4"}, "arm64": {"v8", "v9"}, "arm": {"v5", "v6", "v7", "v8"},
		"386": nil, "ppc64le": nil, "s390x": nil, "riscv64": nil, "mips64le": nil, "loong64": nil,
	}
)

// ParsePlatform reads s, "os/arch[/variant]" in the lowercase spelling
// BuildKit prints (linux/amd64, linux/arm64, linux/arm64/v8, linux/arm/v7),
// with containerd's platforms package. The operating system must be linux,
// windows, darwin or freebsd, the architecture and variant ones BuildKit
// builds for. The error names s and the part at fault.
func ParsePlatform(s string) (specs.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return specs.Platform{}, fmt.Errorf("malformed platform %q: want os/arch or os/arch/variant", s)
	}
	p, err := platforms.Parse(s)
	if err != nil {
		return specs.Platform{}, fmt.Errorf("malformed platform %q: %w", s, err)
	}
	if !slices.Contains(knownOS, parts[0]) {
		return p, fmt.Errorf("platform %q: unknown os %q", s, parts[0])
	}
	variants, ok := knownArchs[parts[1]]
	if !ok {
		return p, fmt.Errorf("platform %q: unknown architecture %q", s, parts[1])
	}
	if len(parts) == 3 && !slices.Contains(variants, parts[2]) {
		return p, fmt.Errorf("platform %q: unknown variant %q for %s", s, parts[2], parts[1])
	}
	return p, nil
}

// ParsePlatforms reads a platform or a platform set: platforms joined by
// ",", as BuildKit's --platform takes them ("linux/amd64,linux/arm64": one
// build for both, exported as one image index). Each is checked by
// ParsePlatform; no two of a set may be the same platform once normalized
// (containerd's platforms.Normalize: linux/arm64/v8 is linux/arm64).
func ParsePlatforms(s string) ([]specs.Platform, error) {
	var out []specs.Platform
	var seen []string
	for _, part := range strings.Split(s, ",") {
		p, err := ParsePlatform(part)
		if err != nil {
			return nil, err
		}
		// containerd's normal form: linux/arm64/v8 is linux/arm64.
		norm := platforms.Format(platforms.Normalize(p))
		if slices.Contains(seen, norm) {
			return nil, fmt.Errorf("platform set %q: %s twice", s, norm)
		}
		seen = append(seen, norm)
		out = append(out, p)
	}
	return out, nil
}

// IsSet reports whether platform (either spelling) is a platform set.
func IsSet(platform string) bool { return strings.ContainsAny(platform, ",+") }

// Slug is a platform as cell names and Ginkgo labels spell it, "/" replaced
// by "-" and a set's "," by "+" (Ginkgo labels cannot hold "/" or ","):
// "linux/arm/v7" becomes "linux-arm-v7", "linux/amd64,linux/arm64"
// becomes "linux-amd64+linux-arm64". A slug stays as it is.
func Slug(platform string) string {
	return strings.NewReplacer("/", "-", ",", "+").Replace(platform)
}

// Unslug is a platform in its slash form, as matrix.yaml, golden.yaml and
// BuildKit spell it: "linux-arm-v7" becomes "linux/arm/v7". No operating
// system, architecture or variant holds a "-" or "+", so Unslug undoes Slug.
func Unslug(platform string) string {
	return strings.NewReplacer("-", "/", "+", ",").Replace(platform)
}

// normalSlug is the slug of platform (either spelling) as containerd
// normalizes it ("linux-arm64-v8" and "linux/arm64" give "linux-arm64"), or
// "" for what is not an os/arch[/variant] platform (a glob, a bare "arm64"
// that containerd would complete with the host's operating system).
func normalSlug(platform string) string {
	s := Unslug(platform)
	if !strings.Contains(s, "/") {
		return ""
	}
	p, err := platforms.Parse(s)
	if err != nil {
		return ""
	}
	return Slug(platforms.Format(platforms.Normalize(p)))
}

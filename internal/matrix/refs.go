package matrix

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Digest is a content digest, "sha256:<64 lowercase hex>". The matrix only
// deals in sha256, as image references and golden digests do.
type Digest string

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ParseDigest checks s and returns it as a Digest.
func ParseDigest(s string) (Digest, error) {
	alg, hex, ok := strings.Cut(s, ":")
	if !ok || alg != "sha256" || !hex64.MatchString(hex) {
		return "", fmt.Errorf("%w %q: want sha256:<64 lowercase hex digits>", ErrMalformedDigest, s)
	}
	return Digest(s), nil
}

// Algorithm is the part before the colon: "sha256".
func (d Digest) Algorithm() string { a, _, _ := strings.Cut(string(d), ":"); return a }

// Hex is the part after the colon.
func (d Digest) Hex() string { _, h, _ := strings.Cut(string(d), ":"); return h }

func (d Digest) String() string { return string(d) }

// ImageRef is an image reference, "[registry/]repository[:tag][@digest]",
// split into its parts.
type ImageRef struct {
	Repository string // with its registry, if any: "docker", "quay.io/podman/stable"
	Tag        string // "" when absent
	Digest     Digest // "" when absent
}

// Pinned reports whether the reference names its content by digest.
func (r ImageRef) Pinned() bool { return r.Digest != "" }

func (r ImageRef) String() string {
	s := r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + string(r.Digest)
	}
	return s
}

var (
	refHost      = regexp.MustCompile(`^(localhost|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+|[A-Za-z0-9.-]+:[0-9]+)$`)
	refComponent = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$`)
	refTag       = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

// ParseImageRef splits s into repository, tag and digest and checks each.
// It does not add a default registry or tag.
func ParseImageRef(s string) (ImageRef, error) {
	var r ImageRef
	if s == "" {
		return r, fmt.Errorf("empty image reference")
	}
	rest, dig, hasDigest := strings.Cut(s, "@")
	if hasDigest {
		d, err := ParseDigest(dig)
		if err != nil {
			return r, err
		}
		r.Digest = d
	}
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		r.Tag = rest[i+1:]
		rest = rest[:i]
		if !refTag.MatchString(r.Tag) {
			return r, fmt.Errorf("malformed tag %q in image reference %q", r.Tag, s)
		}
	}
	r.Repository = rest
	parts := strings.Split(rest, "/")
	if len(parts) > 1 && refHost.MatchString(parts[0]) {
		parts = parts[1:]
	}
	for _, p := range parts {
		if !refComponent.MatchString(p) {
			return r, fmt.Errorf("malformed repository %q in image reference %q", rest, s)
		}
	}
	return r, nil
}

// Platform is "os/arch[/variant]".
type Platform struct {
	OS, Arch, Variant string
}

var (
	knownOS    = map[string]bool{"linux": true, "windows": true, "darwin": true, "freebsd": true}
	knownArchs = map[string][]string{ // architecture -> variants it may have
		"amd64": {"v1", "v2", "v3", "v4"}, "arm64": {"v8", "v9"}, "arm": {"v5", "v6", "v7", "v8"},
		"386": nil, "ppc64le": nil, "s390x": nil, "riscv64": nil, "mips64le": nil, "loong64": nil,
	}
)

// ParsePlatform checks s, "os/arch[/variant]" in the lowercase form BuildKit
// prints (linux/amd64, linux/arm64, linux/arm/v7).
func ParsePlatform(s string) (Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return Platform{}, fmt.Errorf("malformed platform %q: want os/arch or os/arch/variant", s)
	}
	p := Platform{OS: parts[0], Arch: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	if !knownOS[p.OS] {
		return p, fmt.Errorf("platform %q: unknown os %q", s, p.OS)
	}
	variants, ok := knownArchs[p.Arch]
	if !ok {
		return p, fmt.Errorf("platform %q: unknown architecture %q", s, p.Arch)
	}
	if p.Variant != "" && !slices.Contains(variants, p.Variant) {
		return p, fmt.Errorf("platform %q: unknown variant %q for %s", s, p.Variant, p.Arch)
	}
	return p, nil
}

func (p Platform) String() string {
	if p.Variant != "" {
		return p.OS + "/" + p.Arch + "/" + p.Variant
	}
	return p.OS + "/" + p.Arch
}

// PlatformSlug is a platform as it appears in cell names and labels:
// "linux/arm64" becomes "linux-arm64".
func PlatformSlug(platform string) string { return strings.ReplaceAll(platform, "/", "-") }

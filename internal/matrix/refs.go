package matrix

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// ParseDigest checks that s is a digest as image references and golden
// digests write it here, "sha256:<64 lowercase hex>", and returns it. Any
// other is an error wrapping ErrMalformedDigest.
func ParseDigest(s string) (digest.Digest, error) {
	d, err := digest.Parse(s)
	if err != nil || d.Algorithm() != digest.SHA256 {
		return "", fmt.Errorf("%w %q: want sha256:<64 lowercase hex digits>", ErrMalformedDigest, s)
	}
	return d, nil
}

// ImageRef is an image reference, "[registry/]repository[:tag][@digest]",
// split into its parts as written: no default registry or tag is added.
type ImageRef struct {
	Repository string        // with its registry, if any: "docker", "quay.io/podman/stable"
	Tag        string        // "" when absent
	Digest     digest.Digest // "" when absent
}

// Pinned reports whether the reference names its content by digest.
func (r ImageRef) Pinned() bool { return r.Digest != "" }

func (r ImageRef) String() string {
	s := r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest.String()
	}
	return s
}

// tagRE is a tag as the OCI distribution spec defines it; go-containerregistry
// checks only its characters and length.
var tagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// ParseImageRef splits s into repository, tag and digest and checks each:
// the registry and repository by the distribution spec's grammar (as
// github.com/distribution/reference, its reference implementation, checks
// it: go-containerregistry's name package lets "moby//buildkit" through),
// the tag by the distribution spec's grammar, the digest with ParseDigest.
// Errors say which part is malformed.
func ParseImageRef(s string) (ImageRef, error) {
	var r ImageRef
	if s == "" {
		return r, errors.New("empty image reference")
	}
	rest, dig, hasDigest := strings.Cut(s, "@")
	if hasDigest {
		d, err := ParseDigest(dig)
		if err != nil {
			return r, err
		}
		r.Digest = d
	}
	r.Repository = rest
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		r.Repository, r.Tag = rest[:i], rest[i+1:]
		if !tagRE.MatchString(r.Tag) {
			return r, fmt.Errorf("malformed tag %q in image reference %q", r.Tag, s)
		}
	}
	if _, err := reference.Parse(r.Repository); err != nil || r.Repository == "" {
		return r, fmt.Errorf("malformed repository %q in image reference %q: want [registry/]path, lowercase components separated by / (OCI distribution spec)", r.Repository, s)
	}
	return r, nil
}

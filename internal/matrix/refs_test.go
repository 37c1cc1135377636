package matrix

import (
	"errors"
	"strings"
	"testing"
)

func TestParseDigest(t *testing.T) {
	good := "sha256:" + strings.Repeat("0a", 32)
	d, err := ParseDigest(good)
	if err != nil || d.Algorithm() != "sha256" || d.Hex() != strings.Repeat("0a", 32) {
		t.Errorf("ParseDigest(%q) = %q, %v", good, d, err)
	}
	for _, bad := range []string{"", "sha256:", "sha256:abc", "sha512:" + strings.Repeat("a", 64), "sha256:" + strings.Repeat("A", 64), strings.Repeat("a", 64)} {
		if _, err := ParseDigest(bad); !errors.Is(err, ErrMalformedDigest) {
			t.Errorf("ParseDigest(%q) = %v, want ErrMalformedDigest", bad, err)
		}
	}
}

func TestParseImageRef(t *testing.T) {
	hex := strings.Repeat("1", 64)
	for _, tt := range []struct {
		in                     string
		repo, tag, digest, err string
	}{
		{in: "moby/buildkit:v0.19.0@sha256:" + hex, repo: "moby/buildkit", tag: "v0.19.0", digest: "sha256:" + hex},
		{in: "docker:26.1.5-dind", repo: "docker", tag: "26.1.5-dind"},
		{in: "quay.io/podman/stable:v5.4.2@sha256:" + hex, repo: "quay.io/podman/stable", tag: "v5.4.2", digest: "sha256:" + hex},
		{in: "localhost:5000/moby/buildkit@sha256:" + hex, repo: "localhost:5000/moby/buildkit", digest: "sha256:" + hex},
		{in: "moby/buildkit:v19.0@sha256:" + hex, repo: "moby/buildkit", tag: "v19.0", digest: "sha256:" + hex},
		{in: "", err: "empty"},
		{in: "moby/buildkit@sha256:abc", err: "malformed digest"},
		{in: "Moby/BuildKit:v1", err: "malformed repository"},
		{in: "moby/buildkit:-x", err: "malformed tag"},
		{in: "moby//buildkit:v1", err: "malformed repository"},
		{in: "-moby/x:v1", err: "malformed repository"},
		{in: "moby/x-:v1", err: "malformed repository"},
		{in: ":v1", err: "malformed repository"},
	} {
		r, err := ParseImageRef(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseImageRef(%q) = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || r.Repository != tt.repo || r.Tag != tt.tag || string(r.Digest) != tt.digest || r.String() != tt.in {
			t.Errorf("ParseImageRef(%q) = %+v, %v", tt.in, r, err)
		}
	}
}

package images

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// MirrorsEnv names the environment variable that holds mirror settings,
// "docker.io=mirror.example:5000,quay.io=127.0.0.1:5001".
const MirrorsEnv = "REPRO_MATRIX_REGISTRY_MIRRORS"

// Mirrors maps an upstream registry host (docker.io, quay.io) to the host
// to pull its images from instead; repository paths and digests stay.
// Behind a corporate mirror a user sets it once; tests point it at a
// loopback registry standing in for the upstream one.
type Mirrors map[string]string

// ParseMirrors reads "FROM=TO[,FROM=TO...]"; the error names the entry.
// Docker Hub may be spelled docker.io, index.docker.io or
// registry-1.docker.io.
func ParseMirrors(s string) (Mirrors, error) {
	m := Mirrors{}
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		from, to, ok := strings.Cut(entry, "=")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		if !ok || from == "" || to == "" {
			return nil, fmt.Errorf("registry mirror %q: want FROM=TO, e.g. docker.io=127.0.0.1:5000", entry)
		}
		if _, err := name.NewRegistry(to); err != nil {
			return nil, fmt.Errorf("registry mirror %q: %w", entry, err)
		}
		m[canonicalRegistry(from)] = to
	}
	return m, nil
}

// Rewrite returns ref with its registry replaced by its mirror, or ref
// itself when its registry has none.
func (m Mirrors) Rewrite(ref name.Reference) (name.Reference, error) {
	to, ok := m[ref.Context().RegistryStr()]
	if !ok {
		return ref, nil
	}
	repo := to + "/" + ref.Context().RepositoryStr()
	var out name.Reference
	var err error
	switch r := ref.(type) {
	case name.Digest:
		out, err = name.NewDigest(repo + "@" + r.DigestStr())
	default:
		out, err = name.NewTag(repo + ":" + ref.Identifier())
	}
	if err != nil {
		return nil, fmt.Errorf("mirror %s of %s: %w", to, ref, err)
	}
	return out, nil
}

// note is the " (via HOST)" a progress line adds for a mirrored pin.
func (m Mirrors) note(pin string) string {
	ref, err := name.ParseReference(pin)
	if err != nil {
		return ""
	}
	if to, ok := m[ref.Context().RegistryStr()]; ok {
		return " (via " + to + ")"
	}
	return ""
}

func canonicalRegistry(host string) string {
	switch host {
	case "docker.io", "registry-1.docker.io":
		return name.DefaultRegistry
	}
	return host
}

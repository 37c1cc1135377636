package images

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/repro-matrix/repro-matrix/internal/provision"
)

// PulledRepo is the local repository of pulled images: a pulled
// moby/buildkit:v0.19.0@sha256:14aa… is named
// localhost/repro-matrix/pulled/moby/buildkit:v0.19.0-14aa1b4dd92e, never
// the name of the recipe-made twin, so the two cannot be confused in an
// engine's store.
const PulledRepo = "localhost/repro-matrix/pulled"

// ErrDigestMismatch means a registry served content whose digest is not
// the pinned one.
var ErrDigestMismatch = errors.New("digest differs from the pinned one")

// pull fetches r.Pin for its platform, verifies it and caches it as a
// docker-archive tarball. A pin by digest that is already cached costs no
// network; a pin by tag alone asks the registry every time (a tag moves).
// Blobs are verified as they are read: the manifest against the pinned
// digest, the config and each layer against their descriptors
// (go-containerregistry's remote package checks every blob it reads).
func (s *Source) pull(ctx context.Context, r Request) (Image, error) {
	ref, err := name.ParseReference(r.Pin)
	if err != nil {
		return Image{}, fmt.Errorf("reference: %w", err)
	}
	platform, err := v1.ParsePlatform(cmp.Or(r.Platform, "linux/amd64"))
	if err != nil {
		return Image{}, fmt.Errorf("platform %q: %w", r.Platform, err)
	}
	via, err := s.Mirrors.Rewrite(ref)
	if err != nil {
		return Image{}, err
	}
	if pinned, ok := ref.(name.Digest); ok {
		if img, err := s.cached(pinned.DigestStr(), platform); err == nil {
			return img, nil
		}
	}
	desc, err := remote.Get(via, remote.WithContext(ctx), remote.WithPlatform(*platform))
	if err != nil {
		return Image{}, err
	}
	if pinned, ok := ref.(name.Digest); ok && desc.Digest.String() != pinned.DigestStr() {
		return Image{}, fmt.Errorf("%w: %s served %s", ErrDigestMismatch, via.Context().RegistryStr(), desc.Digest)
	}
	img, err := desc.Image()
	if err != nil {
		return Image{}, err
	}
	origin := Origin{Pulled: qualified(ref, r.Pin, desc.Digest)}
	if via.Context().RegistryStr() != ref.Context().RegistryStr() {
		origin.Via = via.Context().RegistryStr()
	}
	return s.store(img, localName(ref, r.Pin, desc.Digest), desc.Digest.String(), platform, origin)
}

// store writes img into the cache under its pinned digest and platform,
// with a description beside it.
func (s *Source) store(img v1.Image, local, pinned string, platform *v1.Platform, origin Origin) (Image, error) {
	tag, err := name.NewTag(local)
	if err != nil {
		return Image{}, err
	}
	out, meta, err := s.paths(pinned, platform)
	if err != nil {
		return Image{}, err
	}
	if err := provision.Produce(out, func(tmp string) error { return tarball.WriteToFile(tmp, tag, img) }); err != nil {
		return Image{}, err
	}
	id, err := img.ConfigName()
	if err != nil {
		return Image{}, err
	}
	dg, err := img.Digest()
	if err != nil {
		return Image{}, err
	}
	got := Image{Image: provision.Image{Ref: local, Tarball: out, ID: id, Digest: dg}, Origin: origin}
	b, err := json.Marshal(got)
	if err != nil {
		return Image{}, err
	}
	err = provision.Produce(meta, func(tmp string) error { return os.WriteFile(tmp, b, 0o644) })
	return got, err
}

// cached returns a pulled image from the cache.
func (s *Source) cached(pinned string, platform *v1.Platform) (Image, error) {
	out, meta, err := s.paths(pinned, platform)
	if err != nil {
		return Image{}, err
	}
	b, err := os.ReadFile(meta)
	if err != nil {
		return Image{}, err
	}
	var img Image
	if err := json.Unmarshal(b, &img); err != nil {
		return Image{}, err
	}
	if img.Tarball != out {
		return Image{}, fmt.Errorf("cache entry %s names another tarball", meta)
	}
	if _, err := os.Stat(out); err != nil {
		return Image{}, err
	}
	return img, nil
}

// paths are the cache paths of a pulled image's tarball and description.
func (s *Source) paths(pinned string, platform *v1.Platform) (string, string, error) {
	hex := strings.TrimPrefix(pinned, "sha256:")
	slug := strings.ReplaceAll(platform.String(), "/", "-")
	out, err := s.Cache.Path("pulled", hex+"-"+slug+".tar")
	if err != nil {
		return "", "", err
	}
	return out, strings.TrimSuffix(out, ".tar") + ".json", nil
}

// qualified is ref with its registry spelled out and pinned to dg,
// keeping the tag the pin spells (the reference users read).
func qualified(ref name.Reference, pin string, dg v1.Hash) string {
	s := ref.Context().Name()
	if tag := explicitTag(pin); tag != "" {
		s += ":" + tag
	}
	return s + "@" + dg.String()
}

// localName is the name a pulled image gets in the run's engines.
func localName(ref name.Reference, pin string, dg v1.Hash) string {
	return PulledRepo + "/" + ref.Context().RepositoryStr() + ":" + cmp.Or(explicitTag(pin), "pinned") + "-" + dg.Hex[:12]
}

// explicitTag returns the tag a reference spells out, "" when it has none
// (a registry's port is not a tag: the tag follows the last slash).
func explicitTag(pin string) string {
	repo, _, _ := strings.Cut(pin, "@")
	_, tag, _ := strings.Cut(repo[strings.LastIndex(repo, "/")+1:], ":")
	return tag
}

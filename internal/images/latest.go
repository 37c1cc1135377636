package images

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/mod/semver"
)

// LatestRelease returns the newest release tag of repo ("moby/buildkit") in
// its registry, through the mirrors: the highest vX.Y.Z tag, pre-releases
// and suffixed tags (v0.19.0-rootless) left out. It is what BuildKit
// "latest" means online; offline it is the Go module proxy's newest version.
func (s *Source) LatestRelease(ctx context.Context, repo string) (string, error) {
	tags, err := s.Tags(ctx, repo)
	if err != nil {
		return "", err
	}
	newest := NewestRelease(tags)
	if newest == "" {
		return "", fmt.Errorf("list the tags of %s: no release tag vX.Y.Z among %d tags", repo, len(tags))
	}
	return newest, nil
}

// NewestRelease returns the highest vX.Y.Z of tags ("" when there is none):
// pre-releases, suffixed tags and tags that are not versions are ignored.
func NewestRelease(tags []string) string {
	newest := ""
	for _, t := range tags {
		if !semver.IsValid(t) || semver.Prerelease(t) != "" || semver.Build(t) != "" || semver.Canonical(t) != t {
			continue
		}
		if newest == "" || semver.Compare(t, newest) > 0 {
			newest = t
		}
	}
	return newest
}

// Tags lists every tag of repo ("moby/buildkit") in its registry, through
// the mirrors, in the registry's order: online, the versions a BuildKit
// ladder is made of (matrix.Lister; the ladder keeps the releases vX.Y.Z).
// Errors name the repository.
func (s *Source) Tags(ctx context.Context, repo string) ([]string, error) {
	r, err := name.NewRepository(repo)
	if err != nil {
		return nil, fmt.Errorf("repository %q: %w", repo, err)
	}
	ref, err := s.Mirrors.Rewrite(r.Tag("latest"))
	if err != nil {
		return nil, err
	}
	tags, err := remote.List(ref.Context(), remote.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("list the tags of %s: %w", repo, err)
	}
	return tags, nil
}

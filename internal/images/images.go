// Package images is the one place a run obtains its images: BuildKit,
// engine and base images. Online, an image with a pinned reference is
// pulled by that reference (the exact one users put in their CI), verified
// and cached; offline, or where matrix.yaml pins nothing, it is made from
// its offline recipe (internal/provision). Either way the run gets a local
// docker-archive tarball, a local name, and an Origin that says where the
// image came from, for the report.
//
// A pin that cannot be pulled is an error naming the reference: an online
// run never falls back to a self-built image in its place.
package images

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/repro-matrix/repro-matrix/internal/progress"
	"github.com/repro-matrix/repro-matrix/internal/provision"
)

// Origin says where an image came from: pulled by its pinned reference, or
// made from its offline recipe. It crosses processes as JSON.
type Origin struct {
	// Pulled is the reference pulled, fully qualified, e.g.
	// "docker.io/moby/buildkit:v0.19.0@sha256:14aa…"; empty for an image
	// made from its recipe. A tag-only reference (a resolved latest) is
	// recorded with the digest the registry served.
	Pulled string `json:"pulled,omitempty"`
	// Via is the registry host the pull went to when a mirror setting
	// rewrote the reference's registry, e.g. "127.0.0.1:5001".
	Via string `json:"via,omitempty"`
	// Recipe is the offline recipe the image was made from, e.g.
	// "go github.com/moby/buildkit@v0.19.0"; empty for a pulled image.
	Recipe string `json:"recipe,omitempty"`
	// Twin is the pinned reference a recipe-made image stands in for
	// (offline runs of a BuildKit that matrix.yaml pins by digest).
	Twin string `json:"twin,omitempty"`
}

// String is the origin in one line, as reports show it.
func (o Origin) String() string {
	switch {
	case o.Pulled != "" && o.Via != "":
		return "pulled " + o.Pulled + " via " + o.Via
	case o.Pulled != "":
		return "pulled " + o.Pulled
	case o.Twin != "":
		return "built from " + o.Recipe + " (offline twin of " + o.Twin + ")"
	case o.Recipe != "":
		return "built from " + o.Recipe
	}
	return "unknown"
}

// Image is an image obtained for a run: a docker-archive tarball in the
// cache, its local name, and where it came from.
type Image struct {
	provision.Image
	Origin Origin `json:"origin"`
}

// Request is one image a run needs.
type Request struct {
	// What names the image in progress lines and errors: "BuildKit v0.19.0".
	What string
	// Pin is the upstream reference, "[registry/]repo[:tag][@sha256:…]";
	// online it is pulled. Empty: the image has no upstream pin and is
	// always made from its recipe.
	Pin string
	// Platform is the platform to pull from a multi-platform pin,
	// "os/arch[/variant]"; default linux/amd64.
	Platform string
	// Recipe makes the image offline; RecipeText describes it for Origin.
	Recipe     func(ctx context.Context) (provision.Image, error)
	RecipeText string
}

// Source obtains images: online (pulling pins) or offline (recipes).
type Source struct {
	Cache  provision.Cache
	Online bool
	// Mirrors rewrites the registry of a pinned reference before pulling:
	// a corporate mirror, or a loopback registry standing in for an
	// upstream one in tests.
	Mirrors Mirrors
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Get obtains one image. Online, a request with a Pin is pulled and never
// made from its recipe instead; otherwise the recipe makes it.
func (s *Source) Get(ctx context.Context, r Request) (Image, error) {
	log := &progress.Log{W: s.Log, Prefix: "images: "}
	if s.Online && r.Pin != "" {
		done := log.Step(fmt.Sprintf("%s: pull %s%s", r.What, r.Pin, s.Mirrors.note(r.Pin)))
		img, err := s.pull(ctx, r)
		if err != nil {
			return Image{}, done(fmt.Errorf("%s: pull %s: %w", r.What, r.Pin, err))
		}
		return img, done(nil)
	}
	if r.Recipe == nil {
		return Image{}, fmt.Errorf("%s: no recipe to make it offline and nothing pinned to pull", r.What)
	}
	done := log.Step(fmt.Sprintf("%s: from %s", r.What, r.RecipeText))
	img, err := r.Recipe(ctx)
	if err != nil {
		return Image{}, done(fmt.Errorf("%s: %w", r.What, err))
	}
	o := Origin{Recipe: r.RecipeText}
	if strings.Contains(r.Pin, "@") {
		o.Twin = r.Pin
	}
	return Image{Image: img, Origin: o}, done(nil)
}

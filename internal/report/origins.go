package report

import (
	"fmt"
	"slices"
	"strings"
)

// Env keys the runner records for where a cell's images came from
// (internal/images.Origin in words): pulled by a pinned digest, or built
// from an offline recipe; "host" for an engine the host runs itself.
const (
	EnvBuildKitOrigin = "buildkit_origin"
	EnvEngineOrigin   = "engine_origin"
	EnvBaseOrigin     = "base_origin" // the fixture's base image, when it has one
)

// origins lists, once per BuildKit, engine and fixture base, where its image
// came from, as "buildkit=v0.19.0: pulled docker.io/moby/buildkit:v0.19.0@sha256:…".
func origins(results []CellResult) []string {
	seen := map[string]bool{}
	var out []string
	add := func(axis, name, origin string) {
		line := fmt.Sprintf("%s=%s: %s", axis, name, origin)
		if origin != "" && !seen[line] {
			seen[line] = true
			out = append(out, line)
		}
	}
	for _, r := range results {
		add("buildkit", r.Axes.BuildKit, r.Env[EnvBuildKitOrigin])
		if o := r.Env[EnvEngineOrigin]; o != "host" {
			add("engine", r.Axes.Engine, o)
		}
		add("base of fixture", r.Axes.Fixture+" ("+r.Axes.Platform+")", r.Env[EnvBaseOrigin])
	}
	slices.Sort(out)
	return out
}

// writeOrigins writes where the run's images came from, when the cells
// recorded it.
func writeOrigins(b *md, results []CellResult) {
	lines := origins(results)
	if len(lines) == 0 {
		return
	}
	b.l("<details><summary>Where the images came from (%d)</summary>", len(lines))
	b.l("")
	for _, l := range lines {
		name, origin, _ := strings.Cut(l, ": ")
		b.l("- %s: %s", code(name), text(origin))
	}
	b.l("")
	b.l("</details>")
	b.l("")
}

// Package cell is the vocabulary of one cell of the matrix, shared by the
// matrix file (internal/matrix), the runner, the reports (internal/report),
// the Ginkgo suite and the CLI: a cell's coordinates, its name, group key,
// Ginkgo labels and golden key, the spelling of platforms, and the one
// pattern language that profiles and known divergences select cells with.
//
// A cell is one build: a fixture on a platform, built by an engine with a
// BuildKit and written by an exporter. Its name spells every coordinate in
// the fixed order of Axes, the platform as its slug:
//
//	fixture=scratch-copy/platform=linux-amd64/engine=docker-26.1.5/buildkit=v0.19.0/exporter=docker
package cell

import (
	"strings"

	"golang.org/x/mod/semver"
)

// Axis is one dimension of the matrix.
type Axis string

// The axes, in the order they appear in cell names.
const (
	Fixture  Axis = "fixture"
	Platform Axis = "platform"
	Engine   Axis = "engine"
	BuildKit Axis = "buildkit"
	Exporter Axis = "exporter"
)

// Axes lists the axes in cell-name order.
var Axes = []Axis{Fixture, Platform, Engine, BuildKit, Exporter}

// groupAxes are the axes of a group: the cells that must agree on one digest.
var groupAxes = []Axis{Fixture, Platform, Exporter}

// Coords are a cell's coordinates: its value on each axis as its name
// spells it (the names of matrix.yaml's entries). The platform may be given
// in either spelling, "linux-amd64" (the slug that names and results.json
// use) or "linux/amd64" (matrix.yaml's); Value, Name and Group always slug
// it. An empty field means the axis is not known.
type Coords struct {
	Fixture  string `json:"fixture"`
	Platform string `json:"platform"`
	Engine   string `json:"engine"`
	BuildKit string `json:"buildkit"`
	Exporter string `json:"exporter"`
	// BuildKitVersion is the concrete version of the cell's BuildKit
	// ("v0.34.2" for a BuildKit named latest, once resolved), which a
	// pattern's version range matches (see Pattern); "" when not known.
	// It is not part of the cell's name.
	BuildKitVersion string `json:"buildkit_version,omitempty"`
}

// Version is the concrete version of the cell's BuildKit: BuildKitVersion,
// else the BuildKit's name when it is a version (v0.19.0), else "".
func (c Coords) Version() string {
	switch {
	case c.BuildKitVersion != "":
		return c.BuildKitVersion
	case semver.IsValid(c.BuildKit):
		return c.BuildKit
	}
	return ""
}

// Value is c's value on axis a as names spell it: the platform as its slug.
func (c Coords) Value(a Axis) string {
	switch a {
	case Fixture:
		return c.Fixture
	case Platform:
		return Slug(c.Platform)
	case Engine:
		return c.Engine
	case BuildKit:
		return c.BuildKit
	case Exporter:
		return c.Exporter
	}
	return ""
}

// Name is the cell's name, "axis=value" for every axis in the order of
// Axes, joined by "/". It is the Ginkgo spec's text and the key of the
// cell's result.
func (c Coords) Name() string { return c.join(Axes) }

// Group is the key of the cell's group, the cells that must build one
// digest: "fixture=x/platform=linux-amd64/exporter=docker".
func (c Coords) Group() string { return c.join(groupAxes) }

func (c Coords) join(axes []Axis) string {
	parts := make([]string, len(axes))
	for i, a := range axes {
		parts[i] = string(a) + "=" + c.Value(a)
	}
	return strings.Join(parts, "/")
}

// Labels are the cell's Ginkgo labels: "axis:value" for every axis, then
// "kind:" and the engine's kind (docker or podman), e.g. "fixture:x",
// "platform:linux-amd64", ..., "kind:docker". None holds a character Ginkgo
// forbids in labels (&|!,()/) as long as the values are matrix.yaml names.
func (c Coords) Labels(kind string) []string {
	labels := make([]string, 0, len(Axes)+1)
	for _, a := range Axes {
		labels = append(labels, string(a)+":"+c.Value(a))
	}
	return append(labels, "kind:"+kind)
}

// GoldenKey is the key of the cell's golden digest in its fixture's
// golden.yaml: the platform in its slash form, then the exporter,
// "linux/amd64/docker".
func (c Coords) GoldenKey() string { return GoldenKey(c.Platform, c.Exporter) }

// GoldenKey is the golden.yaml key of a platform (either spelling) and an
// exporter: "linux/arm64/v8/oci".
func GoldenKey(platform, exporter string) string { return Unslug(platform) + "/" + exporter }

// SplitGoldenKey splits a golden key at its last "/": "linux/arm64/v8/oci"
// gives "linux/arm64/v8" and "oci". A key without "/" has no platform.
func SplitGoldenKey(key string) (platform, exporter string) {
	i := strings.LastIndex(key, "/")
	if i < 0 {
		return "", key
	}
	return key[:i], key[i+1:]
}

// ParseKey reads a cell name or group key back into coordinates: the axes
// it names are set, the others stay empty. The platform keeps the spelling
// of the key ("platform=linux/arm64" gives "linux/arm64"). The syntax is
// that of a Pattern without globs; an error says what is wrong.
func ParseKey(key string) (Coords, error) {
	values, err := split("cell key", key)
	if err != nil {
		return Coords{}, err
	}
	return Coords{Fixture: values[Fixture], Platform: values[Platform], Engine: values[Engine],
		BuildKit: values[BuildKit], Exporter: values[Exporter]}, nil
}

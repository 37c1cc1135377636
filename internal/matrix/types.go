package matrix

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/repro-matrix/repro-matrix/internal/cell"
	"github.com/repro-matrix/repro-matrix/internal/epoch"
)

// Matrix is the whole of matrix.yaml after loading. Names are unique within
// each list and are what profiles, patterns and cell names refer to.
type Matrix struct {
	Engines          []*Engine           `yaml:"engines" json:"engines"`
	BuildKits        []*BuildKit         `yaml:"buildkits" json:"buildkits"`
	Fixtures         []*Fixture          `yaml:"fixtures" json:"fixtures"`
	Exporters        []*Exporter         `yaml:"exporters" json:"exporters"`
	Profiles         map[string]*Profile `yaml:"profiles" json:"profiles"`
	KnownDivergences []*KnownDivergence  `yaml:"knownDivergences,omitempty" json:"knownDivergences,omitempty"`

	// Path is the absolute path of the file the matrix was loaded from, Dir
	// its folder: relative paths in the file are relative to Dir.
	Path string `yaml:"-" json:"path"`
	Dir  string `yaml:"-" json:"-"`

	now    func() time.Time
	limits Limits // as Load was given them; zero: DefaultLimits
	// incomplete marks, while validating, the axes whose names may be
	// wrong because of a problem already reported (see validate).
	incomplete map[cell.Axis]bool
	// ctx is LoadContext's while it loads: validation stops reading files
	// once it is cancelled.
	ctx context.Context
}

// EngineKind is the container engine's command: docker or podman.
type EngineKind string

// The engine kinds.
const (
	Docker EngineKind = "docker"
	Podman EngineKind = "podman"
)

// Where tells where an engine runs.
type Where string

// Where an engine runs.
const (
	// Host is the engine installed on the machine that runs the matrix.
	Host Where = "host"
	// Container is an engine started in a container (Docker in Docker,
	// Podman in a container) from Engine.Image online or from a Debian
	// suite offline.
	Container Where = "container"
)

// Engine is a container engine at an exact version, or a host engine at
// whatever version the host runs.
//
// Fields:
//   - name: optional; defaults to "<kind>-<version>", with "-rootless"
//     appended for rootless engines ("<kind>-found" for an engine taken as
//     found, see below). It is the engine's value in cell names, so two
//     engines with the same name are an error, whatever their "where".
//   - kind: docker or podman (required).
//   - version: required: the exact version, "20.10.24" or "20.10", which
//     the running engine must report (a mismatch fails the engine's cells,
//     naming both versions), or "found" (host engines only): the engine as
//     the host runs it, whatever its version.
//   - where: host or container; defaults to container when image is set and
//     to host otherwise.
//   - image: container engines only, optional: the upstream image pinned by
//     digest, e.g. "docker:28.5.2-dind@sha256:<64 hex>", recorded for online
//     runners (this project provisions every engine from its offline recipe;
//     a digest nobody has checked is worse than none). Its tag
//     must start with the version (a leading "v" and a "-suffix" are
//     allowed: "v5.4.2", "26.1.5-dind").
//   - offline: container engines only, required there: the Debian suite
//     (bookworm, trixie, forky or sid) and package (default docker.io for
//     docker, podman for podman) that the offline provisioner installs.
//   - rootless: run the engine rootless (the host's Podman only, by the
//     user make setup creates); its cells run each BuildKit's rootless
//     variant (BuildKit.RootlessImage) and are not the pin's (Cell.Pinned).
//   - store: Docker in a container only: the image store its daemon runs
//     with, "containerd" (daemon.json features.containerd-snapshotter,
//     the default of fresh Docker 29 installs) or "classic" (graph
//     drivers); unset leaves the daemon's own default.
//   - buildx: Docker only: the buildx plugin the engine's cells build
//     with, a release such as v0.38.2 built from the Go module proxy
//     (github.com/docker/buildx); unset: the host's plugin.
//   - cli: Docker only: the docker CLI, a docker/cli release such as
//     v29.8.1 built from the Go module proxy; unset: the host's CLI. It is
//     not part of the default name: engines that differ only in cli need
//     names of their own. Cells record it (docker_cli_version).
//
// The default name appends "-rootless", then "-<store>", then
// "-buildx-<version>" (without its "v") for what is set:
// docker-29.8.1-classic, docker-20.10.24-buildx-0.38.2.
//
// # version: found
//
// Load turns "version: found" into AsFound, with Version empty: the runner
// passes Version to engine.Start, which checks nothing when it is empty.
// The caller reads the host's version with [Matrix.ResolveFound] before
// expanding cells; it lands in Found and, when the name is the default
// "<kind>-found", in the name: "docker-28.0.4" ("docker-28.0.4-found" when
// another engine is named docker-28.0.4 already). An engine whose version
// could not be read keeps the name "<kind>-found"; starting it then fails
// its cells. Profiles select found engines with "@found" (or "@host", or by
// the name "<kind>-found", which keeps working after the rename), and a cell
// pattern may name them by version ("engine=docker-28.*").
type Engine struct {
	Name     string        `yaml:"name,omitempty" json:"name"`
	Kind     EngineKind    `yaml:"kind" json:"kind"`
	Version  string        `yaml:"version" json:"version"`
	Where    Where         `yaml:"where,omitempty" json:"where"`
	Image    string        `yaml:"image,omitempty" json:"image,omitempty"`
	Offline  *EngineRecipe `yaml:"offline,omitempty" json:"offline,omitempty"`
	Rootless bool          `yaml:"rootless,omitempty" json:"rootless,omitempty"`
	Store    ImageStore    `yaml:"store,omitempty" json:"store,omitempty"`
	Buildx   string        `yaml:"buildx,omitempty" json:"buildx,omitempty"`
	CLI      string        `yaml:"cli,omitempty" json:"cli,omitempty"`

	// AsFound is "version: found": take the host's engine at whatever
	// version it runs. Version is then empty.
	AsFound bool `yaml:"-" json:"asFound,omitempty"`
	// Found is the version the host's engine reported, set by
	// Matrix.ResolveFound; empty until then, and for declared versions.
	Found string `yaml:"-" json:"found,omitempty"`

	// unresolved is the name "<kind>-found" that ResolveFound replaced:
	// profiles and cell patterns may still use it.
	unresolved string
}

// VersionFound is the engine version that takes a host engine as found.
const VersionFound = "found"

// Unresolved reports whether e is taken as found but its version was not
// read (yet): its name is still "<kind>-found".
func (e *Engine) Unresolved() bool { return e.AsFound && e.Found == "" }

// EffectiveVersion is the version e runs with: the declared version, the
// version found, or "found" for an unresolved engine.
func (e *Engine) EffectiveVersion() string {
	switch {
	case !e.AsFound:
		return e.Version
	case e.Found != "":
		return e.Found
	}
	return VersionFound
}

// names are the names e answers to in profiles and patterns: its name and,
// once resolved, the "<kind>-found" it had before.
func (e *Engine) names() []string {
	if e.unresolved != "" && e.unresolved != e.Name {
		return []string{e.Name, e.unresolved}
	}
	return []string{e.Name}
}

// defaultName is "<kind>-<version>", with "-rootless" for a rootless
// engine, "-<store>" for a declared image store and "-buildx-<version>" for
// a buildx of its own.
func (e *Engine) defaultName(version string) string {
	name := string(e.Kind) + "-" + version
	if e.Rootless {
		name += "-rootless"
	}
	if e.Store != "" {
		name += "-" + string(e.Store)
	}
	if e.Buildx != "" {
		name += "-buildx-" + strings.TrimPrefix(e.Buildx, "v")
	}
	return name
}

// ImageStore is how a Docker daemon stores images: the containerd image
// store (snapshotters) or the classic graph drivers.
type ImageStore string

// Image stores of Docker (docs.docker.com/engine/storage/containerd).
const (
	StoreContainerd ImageStore = "containerd"
	StoreClassic    ImageStore = "classic"
)

// EngineRecipe is how an engine image is provisioned offline: the Debian
// suite to install the engine from, and the package; or, for a Docker that
// Debian does not carry, the Go module its daemon is built from,
// "github.com/moby/moby/v2@v2.0.0-beta.24" (Docker 29's daemon; the
// module's releases/versions.yaml must name the engine's version as the
// release it was cut for), with containerd and runc from the suite.
type EngineRecipe struct {
	Suite   string `yaml:"suite" json:"suite"`
	Package string `yaml:"package,omitempty" json:"package,omitempty"`
	Module  string `yaml:"module,omitempty" json:"module,omitempty"`
}

// DefaultBuildKitModule is the Go module BuildKit is built from offline.
const DefaultBuildKitModule = "github.com/moby/buildkit"

// DefaultBuildKitRepository is the image repository BuildKit images come
// from online.
const DefaultBuildKitRepository = "moby/buildkit"

// Latest is the BuildKit version that stands for the newest release.
const Latest = "latest"

// BuildKit is one BuildKit release.
//
// Fields:
//   - name: optional; defaults to the version. The value in cell names.
//   - version: "vX.Y.Z" (a pre-release such as "v0.27.0-rc1" is allowed) or
//     "latest" (required).
//   - image: the upstream image. Defaults to "moby/buildkit:<version>". Its
//     tag must equal the version ("latest" for latest), so
//     "moby/buildkit:v19.0@sha256:..." for v0.19.0 is an error. A digest,
//     when present, must be "sha256:<64 lowercase hex>".
//   - rootlessImage: the upstream image of the release's rootless variant,
//     which rootless engines run (moby/buildkit:<version>-rootless@sha256:...;
//     its tag must be the version with "-rootless", "rootless" for latest).
//     Online it is pulled; without it the variant is made from its recipe
//     (provision.BuildKitRootlessFrom) online too.
//   - pinned: the BuildKit that repro-build pins. Exactly one BuildKit is
//     pinned; its image must carry a tag and a digest; it cannot be latest.
//   - candidate: the release proposed to replace the pinned one (at most one,
//     not latest, not the pinned one). The pr profile selects it with
//     "@candidate".
//   - offline: how BuildKit is built offline: {module, version}. The module
//     defaults to github.com/moby/buildkit and the version to the declared
//     version, which it must equal.
//   - ladder: {from, to} instead of all of the above: a range of releases,
//     one BuildKit per minor release (see Ladder). The entry stands for the
//     BuildKits [Matrix.ResolveLadders] puts in its place.
//
// # latest
//
// "latest" is resolved at run time by the caller, never by Load: online it is
// the image moby/buildkit:latest, offline the newest version that the Go
// module proxy serves for the recipe's module (its @latest). The caller
// records the answer with [Matrix.ResolveLatest], which sets Resolved.
// Cell names keep "buildkit=latest" whether or not it is resolved, so that
// names, labels, known divergences and history stay stable from one night
// to the next; reports show the resolved version next to the name. A
// ladder never counts latest as one of its versions: a ladder up to latest
// and a latest entry may build the same release, under two names.
type BuildKit struct {
	Name    string `yaml:"name,omitempty" json:"name"`
	Version string `yaml:"version" json:"version"`
	Image   string `yaml:"image,omitempty" json:"image,omitempty"`
	// RootlessImage: see the rootlessImage field above.
	RootlessImage string          `yaml:"rootlessImage,omitempty" json:"rootlessImage,omitempty"`
	Pinned        bool            `yaml:"pinned,omitempty" json:"pinned,omitempty"`
	Candidate     bool            `yaml:"candidate,omitempty" json:"candidate,omitempty"`
	Offline       *BuildKitRecipe `yaml:"offline,omitempty" json:"offline,omitempty"`

	// Ladder makes the entry a ladder (see Ladder): until
	// Matrix.ResolveLadders replaces it with its rungs, the entry is a
	// placeholder named "ladder(<from>..<to>)" that no cell can be built
	// with. Every other field is then empty.
	Ladder *Ladder `yaml:"ladder,omitempty" json:"ladder,omitempty"`

	// Resolved is the concrete version that "latest" stood for in this run,
	// set by Matrix.ResolveLatest; empty until then, and for other versions.
	Resolved string `yaml:"-" json:"resolved,omitempty"`

	// Rung is the ladder this BuildKit is a rung of, set by
	// Matrix.ResolveLadders: a BuildKit it added, or an entry of the file at
	// one of its versions, which the ladder does not repeat. Nil otherwise.
	Rung *Ladder `yaml:"-" json:"-"`
	// added marks a BuildKit that a ladder added (not an entry of the file).
	added bool
}

// IsLadder reports whether b is a ladder not resolved yet (see Ladder).
func (b *BuildKit) IsLadder() bool { return b.Ladder != nil }

// AddedByLadder reports whether b is a rung that Matrix.ResolveLadders
// added, rather than an entry of the file.
func (b *BuildKit) AddedByLadder() bool { return b.added }

// BuildKitRecipe is how BuildKit is built offline: from a Go module at a
// version, fetched through the Go module proxy.
type BuildKitRecipe struct {
	Module  string `yaml:"module" json:"module"`
	Version string `yaml:"version" json:"version"`
}

// IsLatest reports whether b stands for the newest release.
func (b *BuildKit) IsLatest() bool { return b.Version == Latest }

// EffectiveVersion is the concrete version b builds with: Resolved for a
// resolved latest, "latest" for an unresolved one, else Version ("" for a
// ladder not resolved yet).
func (b *BuildKit) EffectiveVersion() string {
	if b.IsLatest() && b.Resolved != "" {
		return b.Resolved
	}
	return b.Version
}

// rootlessTag is moby/buildkit's tag of the rootless variant of version:
// "<version>-rootless", "rootless" for latest.
func rootlessTag(version string) string {
	if version == Latest {
		return "rootless"
	}
	return version + "-rootless"
}

// Fixture is one reproducibility trap: a Dockerfile and its context.
//
// Fields:
//   - name: required; the value in cell names.
//   - description: one line on the trap.
//   - dir: the build context, relative to the matrix file (made absolute by
//     Load); defaults to "fixtures/<name>". It must exist and hold the
//     Dockerfile.
//   - dockerfile: the Dockerfile, relative to dir (made absolute by Load);
//     defaults to "Dockerfile".
//   - platforms: "os/arch[/variant]" (linux/amd64, linux/arm64, ...);
//     defaults to [linux/amd64]. An entry may be a platform set,
//     "linux/amd64,linux/arm64": one build for every platform of it
//     (BuildKit's --platform), exported as one image index whose digest is
//     the cell's (as repro-build 2.0 checks a multi-platform build). Cells
//     name it linux-amd64+linux-arm64. A set builds FROM scratch (no base),
//     and only with oci exporters: BuildKit's docker exporter writes no
//     index ("docker exporter does not currently support exporting
//     manifest lists"), so the expansion leaves those cells out.
//   - buildArgs: build arguments; SOURCE_DATE_EPOCH is not one of them.
//   - sourceDateEpoch (seconds, >= 0) or datetime (an ISO 8601 date or
//     date-time, e.g. "2025-01-01" or "2025-01-01T00:00:00Z"; UTC when it has
//     no zone; the forms repro-build's --datetime takes): exactly one; see
//     Epoch.
//   - base: the base image, for Dockerfiles that build FROM ${BASE_IMAGE}
//     (required when the Dockerfile declares ARG BASE_IMAGE); see
//     FixtureBase. The runner passes the image as the build argument
//     BASE_IMAGE, which buildArgs therefore cannot set.
//   - goldens: the golden digests file, relative to dir (made absolute by
//     Load); defaults to "golden.yaml". A missing file means no goldens yet.
//   - vary: variations (Variations: mtime, umask, setgid, order, path, tz,
//     locale) its cells are checked under, added to those of the profile
//     that runs it (see Cell.Vary).
//   - git: build from a git context: the runner commits dir to a
//     repository (one commit, dated at the fixture's SOURCE_DATE_EPOCH)
//     served over HTTP on 127.0.0.1, and BuildKit fetches it, Dockerfile
//     included (so dockerfile stays the default). A git context ignores
//     the checkout's mtimes, modes and order, so the variations, which
//     change the checkout, do not apply to it: vary is refused, and a
//     profile's is not run. Docker in a container cannot reach the host's
//     127.0.0.1 from its own network namespace: expansions leave those
//     cells out (see Buildable).
type Fixture struct {
	Name            string            `yaml:"name" json:"name"`
	Description     string            `yaml:"description,omitempty" json:"description,omitempty"`
	Dir             string            `yaml:"dir,omitempty" json:"dir"`
	Dockerfile      string            `yaml:"dockerfile,omitempty" json:"dockerfile"`
	Platforms       []string          `yaml:"platforms,omitempty" json:"platforms"`
	BuildArgs       map[string]string `yaml:"buildArgs,omitempty" json:"buildArgs,omitempty"`
	SourceDateEpoch *int64            `yaml:"sourceDateEpoch,omitempty" json:"sourceDateEpoch,omitempty"`
	Datetime        string            `yaml:"datetime,omitempty" json:"datetime,omitempty"`
	GoldensFile     string            `yaml:"goldens,omitempty" json:"goldensFile"`
	Base            *FixtureBase      `yaml:"base,omitempty" json:"base,omitempty"`
	Vary            []string          `yaml:"vary,omitempty" json:"vary,omitempty"`
	Git             bool              `yaml:"git,omitempty" json:"git,omitempty"`

	// Goldens holds golden.yaml: "<platform>/<exporter>" (cell.GoldenKey)
	// -> digest. Use Golden to look one up and WriteGoldens to change the
	// file.
	Goldens map[string]digest.Digest `yaml:"-" json:"goldens,omitempty"`
}

// BaseImageArg is the build argument that carries a fixture's base image.
const BaseImageArg = "BASE_IMAGE"

// FixtureBase is the image a fixture builds FROM, passed as the build
// argument BASE_IMAGE.
//
// Fields:
//   - suite: the Debian suite (bookworm, trixie, forky or sid) of the base
//     that the provisioner makes from Debian's archive (required).
//   - image: optional; an upstream image pinned by digest, e.g.
//     "debian:bookworm-slim@sha256:<64 hex>", that online runs may use
//     instead. Without it every run builds on the provisioned base.
//   - packages: optional; Debian packages the provisioned base also holds
//     (python3), installed by mmdebstrap with the base's SOURCE_DATE_EPOCH.
//     Not with image: an upstream image would lack them.
type FixtureBase struct {
	Suite    string   `yaml:"suite" json:"suite"`
	Image    string   `yaml:"image,omitempty" json:"image,omitempty"`
	Packages []string `yaml:"packages,omitempty" json:"packages,omitempty"`
}

// Epoch is the fixture's SOURCE_DATE_EPOCH: sourceDateEpoch, or datetime
// in seconds since the Unix epoch. It is 0 when neither parses; a loaded
// matrix has exactly one that does.
func (f *Fixture) Epoch() int64 {
	if f.SourceDateEpoch != nil {
		return *f.SourceDateEpoch
	}
	if t, err := epoch.ParseDatetime(f.Datetime); err == nil {
		return t.Unix()
	}
	return 0
}

// Golden returns the golden digest of f built for platform with the named
// exporter, if golden.yaml has one.
func (f *Fixture) Golden(platform, exporter string) (digest.Digest, bool) {
	d, ok := f.Goldens[cell.GoldenKey(platform, exporter)]
	return d, ok
}

// ExporterType is BuildKit's exporter: docker or oci.
type ExporterType string

// The exporter types.
const (
	DockerExporter ExporterType = "docker"
	OCIExporter    ExporterType = "oci"
)

// Exporter is a named set of exporter options.
//
// Fields:
//   - name: required; the value in cell names and golden keys.
//   - type: docker or oci (required).
//   - ociMediatypes: BuildKit's oci-mediatypes; omitted means BuildKit's
//     default for the type.
//   - compression: gzip, zstd, estargz or uncompressed; omitted means
//     BuildKit's default (gzip).
type Exporter struct {
	Name          string       `yaml:"name" json:"name"`
	Type          ExporterType `yaml:"type" json:"type"`
	OCIMediatypes *bool        `yaml:"ociMediatypes,omitempty" json:"ociMediatypes,omitempty"`
	Compression   string       `yaml:"compression,omitempty" json:"compression,omitempty"`
}

// Attrs are the exporter's BuildKit output attributes, e.g.
// {"type": "docker", "oci-mediatypes": "true"}. The build core adds its own
// (dest, name, rewrite-timestamp).
func (e *Exporter) Attrs() map[string]string {
	a := map[string]string{"type": string(e.Type)}
	if e.OCIMediatypes != nil {
		if *e.OCIMediatypes {
			a["oci-mediatypes"] = "true"
		} else {
			a["oci-mediatypes"] = "false"
		}
	}
	if e.Compression != "" {
		a["compression"] = e.Compression
	}
	return a
}

// Profile selects cells. A profile is a map entry: its key is its name.
//
// Each axis list (engines, buildkits, fixtures, exporters) holds names,
// path.Match globs over names ("docker-*"; "*" is everything) and role
// selectors: "@host", "@found" (host engines taken as found, see Engine)
// and "@container" for engines, "@pinned", "@candidate" and "@ladder"
// (every rung of every ladder, see Ladder) for BuildKits. An omitted or
// empty list selects everything, except for BuildKits: there it selects
// the entries of the file and no ladder, whose rungs a profile selects
// with "@ladder" (or by name: a name or glob that selects nothing is
// accepted while a ladder that could have such a rung is not resolved).
// A name or glob that selects nothing is an error (a typo must not shrink a
// profile silently); "@candidate" may select nothing, since a candidate is
// optional. platforms lists platforms in "os/arch" form; each fixture is
// built for its platforms that are in the list.
//
// The cells of a profile are the product of its axes, plus every cell of the
// whole matrix that matches an include pattern, minus every cell that matches
// an exclude pattern (exclude wins), as GitHub Actions matrices do. A profile
// that expands to no cells is an error.
//
// procs is a hint for how many cells to run at once (0: the runner decides).
//
// vary lists variations (Variations) that apply to every fixture the
// profile runs; a fixture's own vary adds to them (see Cell.Vary).
type Profile struct {
	Description string   `yaml:"description,omitempty" json:"description,omitempty"`
	Engines     []string `yaml:"engines,omitempty" json:"engines,omitempty"`
	BuildKits   []string `yaml:"buildkits,omitempty" json:"buildkits,omitempty"`
	Fixtures    []string `yaml:"fixtures,omitempty" json:"fixtures,omitempty"`
	Platforms   []string `yaml:"platforms,omitempty" json:"platforms,omitempty"`
	Exporters   []string `yaml:"exporters,omitempty" json:"exporters,omitempty"`
	Include     []string `yaml:"include,omitempty" json:"include,omitempty"`
	Exclude     []string `yaml:"exclude,omitempty" json:"exclude,omitempty"`
	Procs       int      `yaml:"procs,omitempty" json:"procs,omitempty"`
	Vary        []string `yaml:"vary,omitempty" json:"vary,omitempty"`
}

// Role selectors in profile axis lists.
const (
	SelectHost      = "@host"
	SelectFound     = "@found"
	SelectContainer = "@container"
	SelectPinned    = "@pinned"
	SelectCandidate = "@candidate"
	SelectLadder    = "@ladder"
)

// DateLayout is the layout of KnownDivergence.Expires.
const DateLayout = "2006-01-02"

// KnownDivergence is a difference the matrix expects and tolerates for a
// while: cells matching the pattern may disagree with their group and with
// the golden digest; the report marks them as known, with the reason and
// link.
//
// Fields (all required):
//   - cells: a cell pattern, e.g. "engine=podman-4.3.1/exporter=oci"; its
//     buildkit may be a version range, "buildkit>=v0.31.0/exporter=docker",
//     which matches by the BuildKit's concrete version (see cell.Pattern)
//     and must hold a version of the matrix (see the package doc, Cells).
//   - reason: why the cells differ.
//   - link: the upstream issue or pull request (an http or https URL).
//   - expires: "YYYY-MM-DD". From the day after, loading fails, so that
//     somebody looks at the divergence again.
//
// Optional:
//   - variations: names of Variations ([umask, setgid]). The entry then
//     acknowledges those variations of its cells instead of their digests:
//     the rebuild of a matching cell under one of them may give another
//     digest than the cell (the group is not "varies" for it, and says so
//     as known). It excuses no difference between cells (engines,
//     BuildKits, the golden digest), and an entry without variations never
//     excuses a variation. Each name must be one of Variations, once.
type KnownDivergence struct {
	Cells      string   `yaml:"cells" json:"cells"`
	Variations []string `yaml:"variations,omitempty" json:"variations,omitempty"`
	Reason     string   `yaml:"reason" json:"reason"`
	Link       string   `yaml:"link" json:"link"`
	Expires    string   `yaml:"expires" json:"expires"`

	pattern *cell.Pattern
}

// Matches reports whether c is one of the divergence's cells (see
// cell.Pattern; an engine taken as found also matches by its name
// "<kind>-found"). A divergence whose pattern does not parse matches
// nothing (Load reports it).
func (k *KnownDivergence) Matches(c Cell) bool {
	if k.pattern != nil {
		return matches(*k.pattern, c)
	}
	p, err := cell.ParsePattern(k.Cells)
	return err == nil && matches(p, c)
}

// Known is k as the reports judge it, its variations included: its expiry
// day becomes the last second of that day, UTC (a date that does not parse,
// which Load refuses, never expires).
func (k *KnownDivergence) Known() cell.KnownDivergence {
	out := cell.KnownDivergence{Cells: k.Cells, Variations: slices.Clone(k.Variations), Reason: k.Reason, Link: k.Link}
	if d, err := time.Parse(DateLayout, k.Expires); err == nil {
		out.Expires = d.Add(24*time.Hour - time.Second)
	}
	return out
}

// Known returns the known divergences of m as the reports judge them (see
// KnownDivergence.Known), in the order of the file; nil for a nil m.
func (m *Matrix) Known() []cell.KnownDivergence {
	if m == nil {
		return nil
	}
	var out []cell.KnownDivergence
	for _, k := range m.KnownDivergences {
		if k != nil {
			out = append(out, k.Known())
		}
	}
	return out
}

// DefaultProfile is the profile that `make matrix` and the cells command use
// when none is named: what a developer's machine can run offline.
const DefaultProfile = "local"

// DefaultFile is the matrix file the commands read when none is named, in
// the current folder.
const DefaultFile = "matrix.yaml"

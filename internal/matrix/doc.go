// Package matrix is the typed schema of matrix.yaml, its strict loader and
// validator, and the expansion of a profile into cells.
//
// A cell is one build: a fixture on a platform, built by an engine with a
// BuildKit and written by an exporter. Every cell of a group (same fixture,
// platform and exporter) must produce the same image digest, and that digest
// must equal the fixture's golden digest.
//
// # The file
//
//	engines:
//	  - kind: docker                 # docker | podman
//	    version: 20.10.24            # exact: 20.10.24 or 20.10; the running engine must report it
//	    where: host                  # host | container (default: container when image is set)
//	  - kind: docker
//	    version: found               # host engines only: whatever the host runs (see Matrix.ResolveFound)
//	    where: host                  # name: docker-found, docker-28.0.4 once resolved
//	  - kind: docker
//	    version: 26.1.5
//	    where: container
//	    image: docker:26.1.5-dind@sha256:<64 hex>   # online: pulled by digest
//	    offline: {suite: trixie}     # offline: installed from this Debian suite
//	buildkits:
//	  - version: v0.19.0
//	    pinned: true                 # exactly one; its image must be pinned by digest
//	    image: moby/buildkit:v0.19.0@sha256:14aa1b4dd92ea0a4cd03a54d0c6079046ea98cd0c0ae6176bdd7036ba370cbbe
//	    offline: {module: github.com/moby/buildkit, version: v0.19.0}   # the default
//	  - version: v0.26.3             # image defaults to moby/buildkit:v0.26.3
//	    candidate: true              # the release meant to replace the pin (profile selector @candidate)
//	  - version: latest              # newest release; see BuildKit.Resolved
//	fixtures:
//	  - name: scratch-copy
//	    dir: fixtures/scratch-copy   # default fixtures/<name>; relative to matrix.yaml
//	    platforms: [linux/amd64, linux/arm64]
//	    buildArgs: {GREETING: hello}
//	    sourceDateEpoch: 0           # or datetime: "2025-01-01T00:00:00Z", exactly one
//	  - name: debian-run
//	    datetime: "2025-01-01"
//	    base: {suite: bookworm}      # passed as BASE_IMAGE; required when the Dockerfile has ARG BASE_IMAGE
//	exporters:
//	  - {name: docker, type: docker}
//	  - {name: oci, type: oci}
//	  - {name: docker-oci-mediatypes, type: docker, ociMediatypes: true}
//	profiles:
//	  local:
//	    engines: [docker-20.10.24]
//	    platforms: [linux/amd64]
//	    exporters: [docker, oci]
//	  nightly:
//	    engines: ["@found", "@container"]   # @host: every host engine, found or declared
//	  pr:
//	    buildkits: ["@pinned", "@candidate"]
//	    exclude: ["engine=docker-26.1.5/platform=linux-arm64"]   # include: adds cells, exclude: removes them
//	knownDivergences:
//	  - cells: engine=docker-26.1.5/exporter=oci
//	    reason: dockerd 26 writes a different index annotation
//	    link: https://github.com/moby/moby/issues/1
//	    expires: 2027-01-31
//
// Each fixture folder may hold golden.yaml, which maps "<platform>/<exporter>"
// to the expected image digest:
//
//	linux/amd64/docker: sha256:<64 hex>
//	linux/arm64/oci: sha256:<64 hex>
//
// # Loading
//
// [Load] works in one fixed order, like cluster-api's test framework: read the
// file, decode it strictly, apply defaults, make paths absolute, then validate
// (which also reads every golden.yaml). Every problem found on the way is
// collected; the error returned is a [ValidationErrors] that names each
// problem's field path, for example
//
//	buildkits[0].image: tag "v19.0" disagrees with version v0.19.0 (want tag v0.19.0 or v0.19.0-rootless) (line 12)
//
// # Cells
//
// [Matrix.Expand] turns a profile into cells in a deterministic order: the
// declaration order of fixtures, then the fixture's platforms, then engines,
// BuildKits and exporters. A cell's name lists its axes in this fixed order
// (BuildKit's integration tests name their matrix cells the same way):
//
//	fixture=scratch-copy/platform=linux-amd64/engine=docker-26.1.5/buildkit=v0.19.0/exporter=docker
//
// The same axis=value form, with path.Match globs as values and in any order,
// is a cell pattern ([cell.Pattern]), used by include and exclude rules and by
// known divergences. A glob that matches no value of its axis is an error, as is a
// profile entry that selects nothing: a typo must not shrink the matrix
// silently.
//
// [Cell.Group] names the cells that must agree, [Cell.Labels] gives Ginkgo
// labels (engine:docker-20.10.24, kind:docker, ...), [Matrix.Cell] finds a
// cell by name, [Matrix.KnownDivergence] the divergence that covers it and
// [Matrix.Known] the divergences as the reports judge them.
//
// # latest
//
// A BuildKit with version latest keeps the cell name buildkit=latest. The
// caller resolves it at run time with [Matrix.ResolveLatest] and a
// [Resolver] (provision.Latest asks the Go module proxy); the answer is in
// [BuildKit.Resolved] and [BuildKit.EffectiveVersion].
//
// # Host engines as found
//
// A host engine with "version: found" is taken at whatever version the host
// runs; engine.Start checks no version for it (Version is empty). Its cells
// carry the version in their name, so the caller resolves it before
// expanding: [Matrix.ResolveFound] with a [Probe] that asks the host's engine
// renames "docker-found" to "docker-28.0.4" and records the version in
// [Engine.Found]. An engine whose probe fails keeps the name "docker-found",
// and its cells fail when the engine is started; they never disappear.
// Profiles select such engines with "@found", "@host" or "docker-found";
// profile rules and known divergences may name them by version
// ("engine=docker-28.*"), which Load accepts since the version is known only
// at run time.
package matrix

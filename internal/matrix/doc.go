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
//	  - ladder: {from: v0.19.0, to: latest}   # one BuildKit per minor release; see Ladder
//	fixtures:
//	  - name: scratch-copy
//	    dir: fixtures/scratch-copy   # default fixtures/<name>; relative to matrix.yaml
//	    platforms: [linux/amd64, linux/arm64]
//	    buildArgs: {GREETING: hello}
//	    sourceDateEpoch: 0           # or datetime: "2025-01-01T00:00:00Z", exactly one
//	  - name: debian-run
//	    datetime: "2025-01-01"
//	    base: {suite: bookworm}      # passed as BASE_IMAGE; required when the Dockerfile has ARG BASE_IMAGE
//	    vary: [setgid]               # variations, added to the profile's; see Variations
//	exporters:
//	  - {name: docker, type: docker}
//	  - {name: oci, type: oci}
//	  - {name: docker-oci-mediatypes, type: docker, ociMediatypes: true}
//	profiles:
//	  local:
//	    engines: [docker-20.10.24]
//	    platforms: [linux/amd64]
//	    exporters: [docker, oci]
//	    vary: [mtime, umask, setgid, order, path, tz, locale]   # for every fixture it runs
//	  nightly:
//	    engines: ["@found", "@container"]   # @host: every host engine, found or declared
//	  pr:
//	    buildkits: ["@pinned", "@candidate"]   # "@ladder": the rungs of the ladders
//	    exclude: ["engine=docker-26.1.5/platform=linux-arm64"]   # include: adds cells, exclude: removes them
//	knownDivergences:
//	  - cells: engine=docker-26.1.5/exporter=oci
//	    reason: dockerd 26 writes a different index annotation
//	    link: https://github.com/moby/moby/issues/1
//	    expires: 2027-01-31
//	  - cells: buildkit>=v0.31.0/exporter=docker   # a version range, see Cells
//	    reason: BuildKit v0.31 writes OCI media types from the docker exporter
//	    link: https://github.com/moby/buildkit/pull/6824
//	    expires: 2027-05-31
//	  - cells: fixture=scratch-copy
//	    variations: [umask]                # acknowledges a variation, see Variations
//	    reason: COPY without --chmod keeps the checkout's modes
//	    link: https://github.com/freedomofpress/repro-build
//	    expires: 2027-05-31
//
// Each fixture folder may hold golden.yaml, which maps "<platform>/<exporter>"
// to the expected image digest:
//
//	linux/amd64/docker: sha256:<64 hex>
//	linux/arm64/oci: sha256:<64 hex>
//
// # Loading
//
// [Load] and [LoadContext] work in one fixed order, like cluster-api's test
// framework: read the file, parse it, measure it against the [Limits],
// decode it strictly, apply defaults, make paths absolute, then validate
// (which also reads every golden.yaml). Every problem found on the way is
// collected; the error returned is a [ValidationErrors] that names each
// problem once, with its field path and line, for example
//
//	buildkits[0].image: tag "v19.0" disagrees with version v0.19.0 (want tag v0.19.0) (line 12)
//
// A value of the wrong type is reported once and dropped, and nothing under
// it is reported again; a reference (a profile's entry, a known divergence's
// pattern) to an entry whose name that made unknown is not reported either.
// A merge key (<<) must merge a mapping, an alias of one or a list of them
// (https://yaml.org/type/merge.html); anything else is one problem at
// "<path>.<<".
//
// A file that is not UTF-8 (a Latin-1 byte, a UTF-16 file), holds a character
// YAML forbids, or is not YAML is one [SyntaxError] naming the file, the line
// and, for encoding problems, the column; nothing else is reported, so that
// no problem appears that the syntax error made up.
//
// Messages cut long values: a quoted value after 128 characters, any other
// word after 256, a field path's segment after 64, a message after 1024
// bytes, each saying how long it was.
//
// # Integers
//
// Integer fields (fixtures[].sourceDateEpoch, profiles.*.procs) take integers
// as the YAML 1.2 core schema resolves them
// (https://yaml.org/spec/1.2.2/#1032-tag-resolution): 1735689600, +5, -5,
// 0o17 (octal) and 0x1F (hexadecimal), or a value tagged !!int. Nothing is
// truncated or rounded, and each of these is one problem, "want an
// integer": a float (1735689600.9, 1e9, 1735689600.0, .inf); a quoted
// number ("1735689600" is a string in YAML); YAML 1.1's forms that yaml.v3
// partly accepts (1_000, 0b101, 1:30); a decimal with a leading zero (012:
// octal to YAML 1.1 readers, decimal to YAML 1.2 ones, so ambiguous; write 12,
// or 0o12 for octal). A value outside the field's range (int64 for sourceDateEpoch) is
// out of range, never wrapped. A datetime with a fraction of a second is
// refused too: SOURCE_DATE_EPOCH counts whole seconds.
//
// # Limits
//
// Loading is bounded by [Limits], whatever the file holds ([DefaultLimits]):
// the file's size (256 KiB), its aliases (1,000), how deeply it nests (64)
// and how many nodes it has (50,000), both with every alias expanded, and the
// cell checks that expanding every profile takes (1,000,000). Aliases are
// measured without being expanded (each node once), so an alias or merge-key
// bomb of a few hundred bytes that would expand to billions of nodes is
// refused in microseconds, as is an alias that contains itself. A file beyond
// a limit is a [LimitError] naming the limit, the line where it was crossed
// and how to raise it: [WithLimits], the environment variable
// REPRO_MATRIX_LIMITS (e.g. nodes=200000,bytes=1048576) for every command,
// or validate's --max-<limit> flags. golden.yaml files are read under the
// same limits, and a Dockerfile is read for ARG BASE_IMAGE only in its first
// MiB. [LoadContext] returns as soon as its context is cancelled (Ctrl-C).
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
// The buildkit axis of a pattern may be a version range instead of a
// glob: buildkit>=v0.31.0, buildkit>v0.19.0, buildkit<v0.34.0,
// buildkit<=v0.30.0, or a lower and an upper bound as two parts
// ("fixture=copy-link/buildkit>v0.19.0/buildkit<v0.31.0"). It matches the
// cells whose BuildKit's concrete version lies in it: the version of an
// entry or rung, the release a latest resolved to (an unresolved latest
// lies in no range). Versions compare as semantic versions. A range must
// match some BuildKit version of the matrix, like a glob: Load checks
// it against the versions the file declares, the span of each ladder not
// resolved yet (from to to; to latest is open) and, for a latest not
// resolved yet, every version from the newest one the file declares on;
// Matrix.Validate after ResolveLadders and ResolveLatest checks it
// against the concrete versions. A range that can match none is a
// problem at the pattern's field and line, e.g.
//
//	knownDivergences[0].cells: buildkit range buildkit<v0.19.0 matches no BuildKit version of the matrix (versions: v0.19.0, v0.26.3, latest (not resolved: v0.26.3 or newer)) (line 97)
//
// [Cell.Group] names the cells that must agree, [Cell.Labels] gives Ginkgo
// labels (engine:docker-20.10.24, kind:docker, ...), [Matrix.Cell] finds a
// cell by name, [Matrix.KnownDivergence] the divergence that covers it and
// [Matrix.Known] the divergences as the reports judge them.
//
// # Variations
//
// A fixture and a profile may list variations (vary): the build environment
// changed in one aspect, as reprotest varies a build. The cell of each group
// that the runner rebuilds (its self-check's) is rebuilt once per variation
// on its builder, and each rebuild must give the digest of the unvaried
// build; one that gives another makes the group "varies" in the report,
// naming the variation, with the diff of the two images. The names, in
// their canonical order ([Variations]):
//
//	mtime    the context's files and folders get the current time as mtime
//	umask    the context as a checkout under umask 002 makes it (files 0664, executables and folders 0775) instead of 022
//	setgid   the setgid bit on the context's folders (drwxr-sr-x, a checkout inside a setgid folder)
//	order    the context's files created in reverse order (another directory entry order)
//	path     the context at another absolute path
//	tz       TZ of the building process (the engine's CLI) set to another zone (e.g. Pacific/Kiritimati, UTC+14)
//	locale   LANG and LC_ALL of the building process set to another locale (e.g. tr_TR.UTF-8)
//	time     the wall clock of the RUN steps 398 days ahead (libfaketime; linux/amd64 cells only)
//
// A cell's variations ([Cell.Vary]) are its profile's and its fixture's
// together, each once, in that canonical order whatever order the lists
// give; they change neither cell names nor groups. An unknown name, or one
// listed twice in one list, is a problem at its field and line:
//
//	fixtures[2].vary[0]: unknown variation "mtim" (known: mtime, umask, setgid, order, path, tz, locale, time) (line 41)
//
// A known divergence with variations acknowledges variations instead of
// digests: the rebuild of a cell its cells pattern matches, under a
// variation it names, may give another digest than the cell. Such a group
// is not "varies" for it: it takes the verdict it would otherwise have
// (agree becomes known, so that the report still names the variation, with
// the entry's reason and link, and diffs the two images). It covers nothing
// else: a cell's digest, or a difference between engines or BuildKits, is
// judged as without it; and an entry without variations never covers a
// variation. Its names are checked as vary's are:
//
//	knownDivergences[2].variations[0]: unknown variation "umsak" (known: mtime, umask, setgid, order, path, tz, locale, time) (line 104)
//
// Its pattern, reason, link and expiry are those of any known divergence
// (Matrix.KnownDivergence, the divergence that covers a cell's digest,
// leaves it out).
//
// # latest
//
// A BuildKit with version latest keeps the cell name buildkit=latest. The
// caller resolves it at run time with [Matrix.ResolveLatest] and a
// [Resolver] (provision.Latest asks the Go module proxy); the answer is in
// [BuildKit.Resolved] and [BuildKit.EffectiveVersion].
//
// # Ladders
//
// A buildkits entry may name a range of releases instead of one:
//
//	buildkits:
//	  - ladder: {from: v0.19.0, to: latest}   # to: a release vX.Y.Z, or latest
//
// It stands for one BuildKit per minor release from from to to, both
// included: the newest patch of each minor, pre-releases left out (see
// Ladder). from and to must be releases vX.Y.Z (to may be latest), from not
// after to, and the entry sets nothing else; each is a problem at its field
// and line otherwise:
//
//	buildkits[3].ladder.to: v0.18.0 is before from v0.19.0: a ladder goes from the older release to the newer (line 30)
//
// The caller resolves ladders before expanding cells, with
// Matrix.ResolveLadders and a Lister (provision.Versions asks the Go module
// proxy; images.Source.Tags lists the registry's tags online). Each rung
// becomes a BuildKit named after its version, v0.20.2, with the image
// moby/buildkit:v0.20.2 and the module at that version, in the ladder's
// place in the list; a version that the file lists as an entry of its own
// (the pinned v0.19.0, the candidate) is that entry, not repeated. latest
// takes no rung: a ladder to latest and a latest entry may build one
// release under two names, so a profile takes one or the other.
//
// Profiles select a ladder's rungs with "@ladder", or by name or glob
// ("v0.3*"); an omitted buildkits list selects the entries of the file and
// no ladder. Until the ladder is resolved, a profile that uses it does not
// expand: Expand returns ErrUnresolvedLadder, naming the ladder (a silent
// placeholder cell could not be built, and a cell list without the ladder
// would be short), and a name or glob that may be one of its rungs is not
// reported as matching nothing. Profiles that do not use a ladder expand
// without it.
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

package imagediff

import (
	"path"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Annotation keys the comparison knows about.
const (
	annotRewrittenTimestamp = "buildkit/rewritten-timestamp"
	annotContainerdName     = "io.containerd.image.name"
	annotDockerRefType      = "vnd.docker.reference.type"
	annotDockerRefDigest    = "vnd.docker.reference.digest"
)

// hintCtx is what a hint rule may look at beyond the difference itself.
type hintCtx struct {
	epoch       *time.Time
	attestation bool // inside an attestation manifest
	// rewritten tells whether the layer on each side carries the
	// buildkit/rewritten-timestamp annotation.
	rewritten [2]bool
	// docker tells whether the manifest on each side is a docker schema 2
	// manifest, which has no place for annotations.
	docker [2]bool
	// sameBlob: the layer blobs are identical.
	sameBlob bool
	// fsCompared: the manifests' applied filesystems are compared, so the
	// semantic verdict is theirs and not the layers' (explainedByFS).
	fsCompared bool
	// fsView: the difference is in the applied filesystem, whose causes
	// the layers' differences have mostly counted already.
	fsView bool
}

// dockerDropped tells whether an annotation difference is explained by one
// side's docker schema 2 manifest, which cannot carry annotations.
func dockerDropped(d *Difference, c *hintCtx) bool {
	if d.Kind != KindAnnotation || strings.HasPrefix(d.Field, "descriptor.") || strings.Contains(d.Field, ".descriptor.") {
		return false
	}
	return (d.A == nil && c.docker[0] && !c.docker[1]) || (d.B == nil && c.docker[1] && !c.docker[0])
}

// hintRule is one known cause: a matcher over a difference, what it means
// and what normalizes it.
type hintRule struct {
	id    string
	cause string
	fix   string
	match func(d *Difference, c *hintCtx) bool
}

// hintRules is the table of known causes, checked in order; a difference may
// match several. The encoding causes (encodingRules) come first.
var hintRules = append(encodingHints(), contentHintRules...)

// contentHintRules are the known causes that are not encoding.
var contentHintRules = []hintRule{
	{
		id:    "rewrite-timestamp",
		cause: "layer timestamps were rewritten to SOURCE_DATE_EPOCH on one side only (buildkit/rewritten-timestamp annotation)",
		fix:   "exporter option rewrite-timestamp=true with the same SOURCE_DATE_EPOCH on both builds (BuildKit >= v0.13)",
		match: func(d *Difference, c *hintCtx) bool {
			return d.Kind == KindAnnotation && annotKey(d) == annotRewrittenTimestamp && !c.sameBlob && !dockerDropped(d, c)
		},
	},
	{
		id:    "whiteout-mtime",
		cause: "the mtimes of whiteout entries (.wh.NAME, .wh..wh..opq) differ: rewrite-timestamp does not cover the whiteouts a deletion leaves (moby/buildkit#5947); no container sees them, as whiteouts are in no filesystem",
		fix:   "nothing a container sees; to make the layers equal, use a BuildKit whose rewrite-timestamp clamps whiteouts too, or squash the stage (FROM scratch + COPY --from=stage / /) so that no whiteout is written; ignored by --semantic",
		match: func(d *Difference, _ *hintCtx) bool {
			return d.Kind == KindMtime && isWhiteout(canonName(d.Path))
		},
	},
	{
		id:    "mtime-after-epoch",
		cause: "file timestamps newer than SOURCE_DATE_EPOCH: files written during the build in a layer that rewrite-timestamp did not cover",
		fix:   "exporter option rewrite-timestamp=true (BuildKit >= v0.13) with SOURCE_DATE_EPOCH set, or touch -d @$SOURCE_DATE_EPOCH the files in the same RUN",
		match: func(d *Difference, c *hintCtx) bool {
			_, later, ok := mtimeVsEpoch(d, c)
			return ok && (later[0] || later[1])
		},
	},
	{
		id:    "mtime-from-source",
		cause: "file timestamps older than SOURCE_DATE_EPOCH differ: they come from the build context or a download (checkout or unpack time), which rewrite-timestamp only clamps and never raises",
		fix:   "normalize the sources before the build (e.g. git ls-files -z | xargs -0 touch -d @$SOURCE_DATE_EPOCH), or set the mtimes in the RUN that fetches them",
		match: func(d *Difference, c *hintCtx) bool {
			has, later, ok := mtimeVsEpoch(d, c)
			return ok && has[0] && has[1] && !later[0] && !later[1]
		},
	},
	{
		id:    "shadow-lastchange",
		cause: "the last-password-change field of /etc/shadow (days since 1970) records the day of the build",
		fix:   "run useradd/adduser/chpasswd with SOURCE_DATE_EPOCH in the environment (shadow >= 4.13 honours it), or rewrite field 3 to a fixed day (sed -i -E 's/^([^:]*:[^:]*:)[0-9]+/\\1<day>/' /etc/shadow)",
		match: func(d *Difference, _ *hintCtx) bool {
			return d.Kind == KindContent && (d.Path == "/etc/shadow" || d.Path == "/etc/shadow-") &&
				!strings.Contains(d.Note, "other fields")
		},
	},
	{
		id:    "created-epoch",
		cause: "image creation timestamps differ: SOURCE_DATE_EPOCH was not applied, or not the same, on both builds",
		fix:   "build both with the same SOURCE_DATE_EPOCH (--build-arg SOURCE_DATE_EPOCH=<secs>, or the environment variable with buildx >= v0.10)",
		match: func(d *Difference, _ *hintCtx) bool {
			switch {
			case d.Kind == KindCreated:
				return true
			case d.Kind == KindHistory && strings.HasSuffix(d.Field, ".created"):
				return true
			case d.Kind == KindAnnotation && annotKey(d) == ocispec.AnnotationCreated:
				return d.A != nil && d.B != nil
			}
			return false
		},
	},
	{
		id:    "history-created-by",
		cause: "history created_by texts differ: a different Dockerfile frontend or BuildKit version renders the instructions differently",
		fix:   "pin the frontend (# syntax=docker/dockerfile:1.x.y) and the BuildKit version on both sides; history is ignored by --semantic",
		match: func(d *Difference, _ *hintCtx) bool {
			return d.Kind == KindHistory && strings.HasSuffix(d.Field, ".created_by")
		},
	},
	{
		id:    "build-annotation",
		cause: "a moby.buildkit.* or org.opencontainers.image.* annotation is present on one side only: the exporters or their annotation options differ",
		fix:   "pass the same --annotation / exporter annotation.* options (and the same exporter) to both builds",
		match: func(d *Difference, c *hintCtx) bool {
			if d.Kind != KindAnnotation || (d.A != nil && d.B != nil) || dockerDropped(d, c) {
				return false
			}
			key := annotKey(d)
			switch key {
			case ocispec.AnnotationRefName, ocispec.AnnotationBaseImageDigest, ocispec.AnnotationBaseImageName:
				return false // more specific rules name these
			}
			return strings.HasPrefix(key, "moby.buildkit.") || strings.HasPrefix(key, "org.opencontainers.image.")
		},
	},
	{
		id:    "base-image",
		cause: "the builds started from different base images (org.opencontainers.image.base.* annotations differ): a tag that moved, or another registry or mirror",
		fix:   "pin the base image by digest (FROM image@sha256:…) on both sides",
		match: func(d *Difference, _ *hintCtx) bool {
			k := annotKey(d)
			return d.Kind == KindAnnotation && (k == ocispec.AnnotationBaseImageDigest || k == ocispec.AnnotationBaseImageName)
		},
	},
	{
		id:    "image-name",
		cause: "image name or tag annotations differ: they are set at export time from the tag",
		fix:   "export both under the same name; ignored by --semantic",
		match: func(d *Difference, _ *hintCtx) bool {
			return d.Kind == KindAnnotation && (annotKey(d) == annotContainerdName || annotKey(d) == ocispec.AnnotationRefName)
		},
	},
	{
		id:    "platform-spelling",
		cause: "the same platform spelled two ways in the index (linux/arm64/v8 vs linux/arm64, amd64/v1 vs amd64): tools that compare platform strings take them for two",
		fix:   "nothing to normalize for runtimes, which normalize as containerd's platforms package does; spell --platform the same way on both builds for tools that compare strings",
		match: func(d *Difference, _ *hintCtx) bool { return d.Kind == KindPlatform && !d.Semantic && d.Note != "" },
	},
	{
		id:    "entry-order",
		cause: "tar entries are written in a different order (different engine, exporter or filesystem walk order)",
		fix:   "use the same engine and exporter on both sides (BuildKit writes entries sorted); ignored by --semantic",
		match: kindIs(KindOrder),
	},
	{
		id:    "tar-format",
		cause: "tar header formats differ (PAX vs USTAR/GNU): different tar writers, or PAX records needed for sub-second mtimes or long names on one side",
		fix:   "use the same engine and exporter on both sides; rewrite-timestamp=true removes sub-second mtimes; ignored by --semantic",
		match: func(d *Difference, _ *hintCtx) bool { return d.Kind == KindTarFormat || d.Kind == KindPAX },
	},
	{
		id:    "volatile-path",
		cause: "a volatile file (cache, log, bytecode, machine id, dpkg backup) that changes from build to build",
		fix:   "delete it in the RUN step that creates it (rm -rf /var/log/* /var/cache/ldconfig/aux-cache /var/lib/dpkg/*-old /etc/machine-id), and for .pyc set PYTHONDONTWRITEBYTECODE=1 or compile with --invalidation-mode checked-hash",
		match: func(d *Difference, _ *hintCtx) bool {
			if d.Level != LevelEntry || d.Path == "" {
				return false
			}
			switch d.Kind {
			case KindContent, KindSize, KindMtime, KindMissing:
				return isVolatilePath(d.Path)
			}
			return false
		},
	},
	{
		id:    "mode-type-bits",
		cause: "tar mode fields differ only in the S_IFMT file-type bits (BuildKit writes them, the classic builder does not)",
		fix:   "nothing to normalize: the entry type is the same; ignored by --semantic",
		match: kindIs(KindModeBits),
	},
	{
		id:    "owner-names",
		cause: "tar user/group names differ while uid/gid match: the tar writers looked names up in different /etc/passwd files, or not at all",
		fix:   "nothing to normalize: runtimes use the numeric ids; ignored by --semantic",
		match: kindIs(KindOwnerName),
	},
	{
		id:    "name-spelling",
		cause: "tar entry names are spelled differently (./etc vs etc, trailing slashes): different tar writers",
		fix:   "use the same engine and exporter on both sides; ignored by --semantic",
		match: kindIs(KindNameSpelling),
	},
	{
		id:    "builder-metadata",
		cause: "builder metadata that no container sees differs (container_config, docker_version, BuildKit buildinfo)",
		fix:   "build with BuildKit rather than the classic builder; for buildinfo, exporter option buildinfo=false (BuildKit < v0.11); ignored by --semantic",
		match: kindIs(KindMetadata),
	},
	{
		id:    "attestation",
		cause: "provenance/SBOM attestations differ: they record build times, invocation and builder details",
		fix:   "compare the images alone (build with --provenance=false --sbom=false), or accept: ignored by --semantic",
		match: func(_ *Difference, c *hintCtx) bool { return c.attestation },
	},
	{
		id:    "encoding",
		cause: "the bytes differ though every field compares equal: JSON key order or whitespace, tar padding or end-of-archive blocks",
		fix:   "use the same engine and exporter versions on both sides; ignored by --semantic",
		match: kindIs(KindEncoding),
	},
}

// volatilePatterns are paths whose content is known to change on every build.
var volatilePatterns = []string{
	"/var/cache/ldconfig/aux-cache",
	"/etc/machine-id",
	"/var/lib/dbus/machine-id",
	"/var/lib/dpkg/*-old",
	"/var/cache/debconf/*-old",
	"/var/lib/apt/extended_states",
	"/var/cache/apt/*.bin",
	"/var/lib/rpm/__db.*",
}

func isVolatilePath(p string) bool {
	if strings.HasPrefix(p, "/var/log/") || strings.HasSuffix(p, ".pyc") ||
		strings.Contains(p, "/__pycache__/") || strings.HasPrefix(p, "/var/cache/apt/archives/") {
		return true
	}
	for _, pat := range volatilePatterns {
		if ok, _ := path.Match(pat, p); ok {
			return true
		}
	}
	return false
}

// kindIs matches the differences of kind k.
func kindIs(k Kind) func(*Difference, *hintCtx) bool {
	return func(d *Difference, _ *hintCtx) bool { return d.Kind == k }
}

// mtimeVsEpoch places the two times of an mtime difference against the
// epoch: whether each side has one, and whether it is later. ok is false
// for other differences, or without an epoch to judge by.
func mtimeVsEpoch(d *Difference, c *hintCtx) (has, later [2]bool, ok bool) {
	if d.Kind != KindMtime || c.epoch == nil || isWhiteout(canonName(d.Path)) {
		return has, later, false
	}
	for i, v := range []any{d.A, d.B} {
		t, isTime := v.(time.Time)
		has[i], later[i] = isTime, isTime && t.After(*c.epoch)
	}
	return has, later, true
}

// annotKey is the annotation key an annotation difference is about.
func annotKey(d *Difference) string {
	_, rest, ok := strings.Cut(d.Field, "annotations[")
	if !ok {
		return ""
	}
	return strings.TrimSuffix(rest, "]")
}

func strA(d *Difference) string { s, _ := d.A.(string); return s }
func strB(d *Difference) string { s, _ := d.B.(string); return s }

// HintRules lists every known cause a comparison can name, without counts.
func HintRules() []Hint {
	out := make([]Hint, len(hintRules))
	for i, r := range hintRules {
		out[i] = Hint{ID: r.id, Cause: r.cause, Fix: r.fix}
	}
	return out
}

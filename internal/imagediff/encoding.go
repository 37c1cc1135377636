package imagediff

import "strings"

// Annotation key prefixes and keys that describe how a layer blob is
// encoded rather than what it holds.
const (
	// annotZstdChunkedPrefix marks the table-of-contents pointers of a
	// zstd:chunked layer (containers/storage pkg/chunked: manifest-checksum,
	// manifest-position, tarsplit-checksum, tarsplit-position).
	annotZstdChunkedPrefix = "io.github.containers.zstd-chunked."
	// The eStargz equivalents (containerd/stargz-snapshotter estargz).
	annotStargzTOC          = "containerd.io/snapshot/stargz/toc.digest"
	annotEstargzUncompSize  = "io.containers.estargz.uncompressed-size"
	annotEstargzUncompSize2 = "io.github.containers.estargz.uncompressed-size"
)

// encodingRule is one kind of difference that lies in how an image is
// encoded, never in what a container gets: the same filesystem and
// configuration written with another compression, another media-type
// flavour, another gzip header. match says whether a difference is of that
// kind; cause and fix are the hint shown for it.
type encodingRule struct {
	id    string
	cause string
	fix   string
	match func(d *Difference, c *hintCtx) bool
	// alsoHint widens the hint (not the verdict) to differences that this
	// cause usually explains but that may carry content, such as an
	// annotation a docker schema 2 manifest had no room for.
	alsoHint func(d *Difference, c *hintCtx) bool
}

// encodingRules is the one table of what is encoding. The semantic verdict
// (differ.add: a matching difference is never semantic) and the hints (the
// first entries of hintRules) both read it, so that the two never disagree.
// Anything not listed here, unknown annotations included, is judged by the
// comparison that found it.
var encodingRules = []encodingRule{
	{
		id:    "oci-mediatypes",
		cause: "docker vs OCI media types for the same objects: one exporter wrote docker schema 2 types, the other OCI types",
		fix:   "export both with OCI media types: exporter option oci-mediatypes=true (e.g. --output type=image,oci-mediatypes=true; docker's classic store writes docker types)",
		match: func(d *Difference, _ *hintCtx) bool {
			return d.Kind == KindMediaType && relateMediaTypes(strA(d), strB(d)) == mtFlavour
		},
		alsoHint: dockerDropped,
	},
	{
		id:    "layer-compression",
		cause: "same uncompressed layer (equal diff-id) compressed differently: another compression, gzip level or gzip implementation, or other gzip header fields (mtime, OS, file name)",
		fix:   "pin the compression on both sides: exporter options compression=gzip,compression-level=N,force-compression=true",
		match: func(d *Difference, _ *hintCtx) bool {
			return d.Kind == KindCompression ||
				(d.Kind == KindMediaType && relateMediaTypes(strA(d), strB(d)) == mtCompression)
		},
	},
	{
		id:    "zstd-chunked",
		cause: "a layer is zstd:chunked (or eStargz) on one side: the same tar in seekable frames with a table of contents, pointed to by io.github.containers.zstd-chunked.* (or stargz) annotations",
		fix:   "push or export both with the same compression format (podman push --compression-format gzip, or zstd:chunked on both); ignored by --semantic",
		match: func(d *Difference, _ *hintCtx) bool {
			return d.Kind == KindAnnotation && isEncodingAnnotation(annotKey(d))
		},
	},
}

// isEncodingAnnotation tells whether an annotation key only describes the
// encoding of the blob its descriptor points to.
func isEncodingAnnotation(key string) bool {
	switch key {
	case annotStargzTOC, annotEstargzUncompSize, annotEstargzUncompSize2:
		return true
	}
	return strings.HasPrefix(key, annotZstdChunkedPrefix)
}

// isEncoding tells whether a difference is one of encodingRules' kinds.
func isEncoding(d *Difference, c *hintCtx) bool {
	for i := range encodingRules {
		if encodingRules[i].match(d, c) {
			return true
		}
	}
	return false
}

// encodingHints turns encodingRules into the hint rules that lead hintRules.
func encodingHints() []hintRule {
	out := make([]hintRule, 0, len(encodingRules))
	for _, r := range encodingRules {
		match := r.match
		if r.alsoHint != nil {
			m, also := r.match, r.alsoHint
			match = func(d *Difference, c *hintCtx) bool { return m(d, c) || also(d, c) }
		}
		out = append(out, hintRule{id: r.id, cause: r.cause, fix: r.fix, match: match})
	}
	return out
}

// Package imagediff compares two container images level by level — index,
// manifest, config and the entries inside every layer's tar stream — and
// explains each difference: whether it changes what a container sees
// (semantic) or only the bytes (strict), and, when it matches a known cause,
// what normalizes it.
//
// The semantic verdict on layers is the applied filesystem's: each image's
// layers are applied in order as a container runtime applies them
// (whiteouts and opaque folders per the OCI image-spec's layer.md, later
// entries replacing earlier ones, hard links as paths sharing an inode; see
// fsTree) and the two trees are compared path by path. Layer-by-layer
// differences are strict only, and the manifest's node says which the
// filesystems explain. Manifests are paired by platform normalized as
// containerd's platforms package does, and what is only encoding is listed
// in one table (encodingRules).
//
// Layers are streamed: entries are compared in lock-step while both tar
// streams list the same names in the same order; when the order diverges
// only entry metadata and content digests are buffered, never contents, so
// memory grows with the number of entries out of step, not with bytes.
// Work is bounded by the bytes the layers hold: a sparse entry (any GNU
// sparse format) is compared by its data map and stored data, its holes never
// expanded, so a 1 TiB sparse file in a 10 KB layer costs what 10 KB costs.
//
// Nothing is compared before both images are verified whole (Source.Verify,
// the checks of `repro-matrix analyze`): a damaged side is an error naming
// it and its bad blobs (DamageError), never a verdict.
package imagediff

import (
	"context"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Source is an image store to read one image from: an OCI layout or an image
// tarball. *oci.Layout satisfies it, and is the one verifier that both
// `repro-matrix analyze` and `repro-matrix diff` read through; imagediff
// hashes nothing itself to check it.
//
// Verify checks the whole image as `repro-matrix analyze` does (every blob,
// referenced or not, against its digest and size; the manifest graph; the
// layout's own files) and returns nil only when it is sound, else an error
// naming each bad blob. Diff calls it on both sides before comparing
// anything, so that a damaged image is never reported equal (issue 10,
// point 4). Blob must verify what it streams against the descriptor's digest
// and size, and report a mismatch as an error, at the latest when the stream
// ends.
type Source interface {
	Index() ocispec.Index
	IndexDigest() digest.Digest
	Blob(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error)
	Verify(ctx context.Context) error
}

// Options tune a comparison. The zero value is ready to use.
type Options struct {
	// NameA and NameB label the two inputs in reports (file names, say).
	NameA, NameB string
	// SourceDateEpoch is the SOURCE_DATE_EPOCH the builds used. Hints about
	// timestamps compare against it; when nil the configs' "created" time
	// stands in for it (the earlier of the two if they differ).
	SourceDateEpoch *time.Time
	// VerifyDiffIDs streams layers whose diff-ids (as the configs state them)
	// are equal even though their blobs differ, to check the claim, and
	// checks every streamed layer's diff-id against its config. Without it
	// such layers are reported as "compression differs" unread.
	VerifyDiffIDs bool
	// MaxDifferences caps the differences kept per tree node (default
	// 10000); the rest are still counted (Node.Omitted, Result counts).
	MaxDifferences int
	// MaxPending caps the tar entries buffered while two layers list their
	// entries in different orders (default 1<<20 per side); past it the
	// comparison fails rather than grow without bound.
	MaxPending int
}

// Level is where in an image a difference lies.
type Level string

const (
	LevelImage    Level = "image" // the root of the tree
	LevelIndex    Level = "index"
	LevelManifest Level = "manifest"
	LevelConfig   Level = "config"
	LevelLayer    Level = "layer"
	LevelEntry    Level = "entry" // a file, directory, link … inside a layer
)

// Kind says what differs. Hints and the semantic verdict key on it.
type Kind string

const (
	// Any level.
	KindMediaType  Kind = "mediaType"  // the mediaType field of a document or descriptor
	KindAnnotation Kind = "annotation" // one annotation key (Field is "annotations[key]")
	KindField      Kind = "field"      // another field; Field names it
	KindMissing    Kind = "missing"    // present on one side only (manifest, layer, entry)
	KindEncoding   Kind = "encoding"   // digests differ though every compared field is equal

	// Index and manifest.
	KindPlatform   Kind = "platform"   // a manifest's platform
	KindStructure  Kind = "structure"  // nesting of indexes
	KindLayerCount Kind = "layerCount" // number of layers

	// Config.
	KindCreated  Kind = "created"  // the image's creation time
	KindHistory  Kind = "history"  // build history
	KindDiffID   Kind = "diffID"   // rootfs.diff_ids, a consequence of layer differences
	KindMetadata Kind = "metadata" // builder metadata that no container sees (container_config, buildinfo, …)

	// Layer.
	KindCompression  Kind = "compression"  // equal uncompressed content, different blob
	KindOrder        Kind = "order"        // tar entries in a different order
	KindTarFormat    Kind = "tarFormat"    // USTAR vs PAX vs GNU headers
	KindNameSpelling Kind = "nameSpelling" // "./etc" vs "etc"
	KindModeBits     Kind = "modeTypeBits" // S_IFMT bits in the tar mode field

	// Entry.
	KindType      Kind = "type"
	KindMode      Kind = "mode" // permission, setuid/setgid and sticky bits
	KindUID       Kind = "uid"
	KindGID       Kind = "gid"
	KindOwnerName Kind = "ownerName" // uname or gname (Field says which)
	KindMtime     Kind = "mtime"
	KindTime      Kind = "time" // atime or ctime (Field says which)
	KindSize      Kind = "size"
	KindContent   Kind = "content" // content digest
	KindLinkname  Kind = "linkname"
	KindXattr     Kind = "xattr"     // Field is "xattr[name]"
	KindPAX       Kind = "pax"       // other PAX records; Field is "pax[key]"
	KindDevice    Kind = "device"    // device major/minor numbers
	KindHardLinks Kind = "hardLinks" // the paths sharing a file's inode, in the applied filesystem
)

// Difference is one field that differs, with the value on each side. A nil
// value means the field (or object) is absent on that side.
type Difference struct {
	Level Level `json:"level"`
	Kind  Kind  `json:"kind"`
	// Field names what differs in the object, e.g. "mediaType",
	// "annotations[org.opencontainers.image.created]", "config.Env[PATH]",
	// "history[2].created_by", "mtime", "xattr[security.capability]".
	Field string `json:"field"`
	// Path is the entry's path inside the layer ("/etc/passwd") for entry
	// differences, empty otherwise.
	Path string `json:"path,omitempty"`
	A    any    `json:"a"`
	B    any    `json:"b"`
	// Semantic is true when the difference changes what a container run
	// from the image sees: its filesystem (the layers applied, compared
	// under a "filesystem" node) or its runtime configuration.
	// Strict-only differences (history, timestamps of the image, tar order
	// and header format, docker vs OCI media types, compression, digests
	// that merely follow from other differences) have Semantic false.
	Semantic bool   `json:"semantic"`
	Note     string `json:"note,omitempty"`
	// Hints lists the IDs of the hint rules this difference matches.
	Hints []string `json:"hints,omitempty"`
}

// Node is one object compared: the index, a manifest pair, its config, one
// layer pair. Only nodes with differences appear in a result.
type Node struct {
	Level Level  `json:"level"`
	Name  string `json:"name"`
	// A and B are the digests of the object on each side.
	A digest.Digest `json:"a,omitempty"`
	B digest.Digest `json:"b,omitempty"`
	// Note says something about how the object was compared ("1834 vs 1834
	// entries", "not streamed: diff-ids equal").
	Note        string       `json:"note,omitempty"`
	Differences []Difference `json:"differences,omitempty"`
	// Omitted counts differences found but not kept (Options.MaxDifferences).
	Omitted  int     `json:"omitted,omitempty"`
	Children []*Node `json:"children,omitempty"`
}

// Counts counts differences by level. Entry counts differing entries (one
// per path, however many of its fields differ); the others count fields.
type Counts struct {
	Index    int `json:"index"`
	Manifest int `json:"manifest"`
	Config   int `json:"config"`
	Layer    int `json:"layer"`
	Entry    int `json:"entry"`
}

// Total is the sum over all levels.
func (c Counts) Total() int { return c.Index + c.Manifest + c.Config + c.Layer + c.Entry }

func (c *Counts) add(l Level, n int) {
	switch l {
	case LevelIndex, LevelImage:
		c.Index += n
	case LevelManifest:
		c.Manifest += n
	case LevelConfig:
		c.Config += n
	case LevelLayer:
		c.Layer += n
	case LevelEntry:
		c.Entry += n
	}
}

// Hint is a known cause that explains some differences, and what
// normalizes it.
type Hint struct {
	ID    string `json:"id"`
	Cause string `json:"cause"`
	// Fix is the build or exporter option (or step) that removes the
	// difference.
	Fix string `json:"fix"`
	// Count is how many differences the hint explains; Example locates one.
	Count   int    `json:"count"`
	Example string `json:"example"`
}

// Input identifies one compared image.
type Input struct {
	Name        string        `json:"name,omitempty"`
	IndexDigest digest.Digest `json:"indexDigest,omitempty"`
}

// Result is the outcome of a comparison: a tree of differences, the two
// verdicts and the hints that explain them.
type Result struct {
	A Input `json:"a"`
	B Input `json:"b"`
	// Equal is the strict verdict: no byte differs.
	Equal bool `json:"equal"`
	// SemanticEqual is the semantic verdict: a container run from either
	// image sees the same filesystem and configuration.
	SemanticEqual bool `json:"semanticEqual"`
	// Strict counts every difference; Semantic only those that are semantic.
	Strict   Counts `json:"strict"`
	Semantic Counts `json:"semantic"`
	// Tree holds the differences; nil when the images are equal.
	Tree *Node `json:"tree,omitempty"`
	// Matched lists the hints that explain some differences, most
	// explaining first. Hints() returns it.
	Matched []Hint `json:"hints,omitempty"`
	// SourceDateEpoch is the epoch timestamp hints were judged against,
	// and EpochFrom says where it came from ("option", "config created").
	SourceDateEpoch *time.Time `json:"sourceDateEpoch,omitempty"`
	EpochFrom       string     `json:"epochFrom,omitempty"`
	// Warnings are problems met that are not differences (a diff-id that
	// does not match its layer, a media type that does not match the
	// content's compression).
	Warnings []string `json:"warnings,omitempty"`
}

// Hints returns the hints that explain some of the differences.
func (r *Result) Hints() []Hint {
	if r == nil {
		return nil
	}
	return r.Matched
}

// EqualUnder returns the verdict under the semantic or the strict rule.
func (r *Result) EqualUnder(semantic bool) bool {
	if semantic {
		return r.SemanticEqual
	}
	return r.Equal
}

// Walk calls fn for every difference in the tree, in tree order, with the
// names of the nodes leading to it.
func (r *Result) Walk(fn func(path []string, d *Difference)) {
	if r == nil || r.Tree == nil {
		return
	}
	var walk func(n *Node, path []string)
	walk = func(n *Node, path []string) {
		if n.Level != LevelImage {
			path = append(path, n.Name)
		}
		for i := range n.Differences {
			fn(path, &n.Differences[i])
		}
		for _, c := range n.Children {
			walk(c, path)
		}
	}
	walk(r.Tree, nil)
}

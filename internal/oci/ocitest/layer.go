package ocitest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Compression of a layer blob.
type Compression string

const (
	Uncompressed Compression = "none"
	Gzip         Compression = "gzip"
	Zstd         Compression = "zstd"
)

// Layer describes one layer: tar entries, compressed, or an opaque blob.
type Layer struct {
	Entries     []Entry
	Compression Compression // default Gzip
	GzipLevel   int         // default gzip.DefaultCompression
	// Format, if set, is forced on every header (tar.FormatUSTAR, PAX, GNU).
	Format      tar.Format
	MediaType   string // default follows the image flavour and compression
	Annotations map[string]string
	// Raw, if set (Open not nil), is the blob as is: not a tar, corrupt,
	// or too large to keep in memory. The config's diff-id for it is its
	// digest.
	Raw Content
	// RawDigest, if set, is taken as Raw's digest instead of hashing it,
	// for blobs too large to hash in every test; reads of such a blob are
	// not verified.
	RawDigest digest.Digest
}

// Blobs makes opaque layers of contents (Layer.Raw), e.g. Random ones.
func Blobs(contents ...Content) []Layer {
	out := make([]Layer, len(contents))
	for i, c := range contents {
		out[i] = Layer{Raw: c}
	}
	return out
}

// Generated is an uncompressed layer of n regular files of size bytes each
// (data/00000.bin …), generated on every read and never stored, so that
// tests can diff layers larger than they would keep in memory. The files
// whose numbers are listed in vary get other content; salt distinguishes
// the blob digests of layers that otherwise look alike. The digest is
// made up from the parameters, not hashed.
func Generated(n int, size int64, salt string, vary ...int) Layer {
	varies := map[int]bool{}
	for _, v := range vary {
		varies[v] = true
	}
	open := func() io.Reader {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(writeGenerated(pw, n, size, varies)) }()
		return pr
	}
	// The tar stream's exact size: headers, data padded to blocks, and
	// the two-block end marker.
	per := int64(512) + (size+511)/512*512
	desc := fmt.Sprintf("generated:%d:%d:%s:%v", n, size, salt, vary)
	return Layer{
		Raw:         Content{Size: int64(n)*per + 1024, Open: open},
		RawDigest:   digest.FromString(desc),
		Compression: Uncompressed,
	}
}

// writeGenerated writes Generated's tar stream to w.
func writeGenerated(w io.Writer, n int, size int64, varies map[int]bool) error {
	tw := tar.NewWriter(w)
	buf := make([]byte, 64<<10)
	for i := range n {
		hdr := &tar.Header{Name: fmt.Sprintf("data/%05d.bin", i), Typeflag: tar.TypeReg, Mode: 0o644,
			Size: size, ModTime: Epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		// A xorshift stream seeded by the file's number: cheap, and
		// different for every file.
		x := uint64(i)*0x9e3779b97f4a7c15 + 1
		if varies[i] {
			x ^= 0xdeadbeef
		}
		for left := size; left > 0; {
			m := min(int64(len(buf)), left)
			for j := int64(0); j+8 <= m; j += 8 {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				binary.LittleEndian.PutUint64(buf[j:], x)
			}
			if _, err := tw.Write(buf[:m]); err != nil {
				return err
			}
			left -= m
		}
	}
	return tw.Close()
}

// Compress compresses b with c (gzip at gzipLevel, 0 for the default).
func Compress(b []byte, c Compression, gzipLevel int) ([]byte, error) {
	var buf bytes.Buffer
	var zw io.WriteCloser
	var err error
	switch c {
	case Uncompressed:
		return b, nil
	case Gzip, "":
		if gzipLevel == 0 {
			gzipLevel = gzip.DefaultCompression
		}
		zw, err = gzip.NewWriterLevel(&buf, gzipLevel)
	case Zstd:
		zw, err = zstd.NewWriter(&buf)
	default:
		return nil, fmt.Errorf("unknown compression %q", c)
	}
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func layerMediaType(docker bool, c Compression) string {
	switch {
	case docker && c == Uncompressed:
		return string(types.DockerUncompressedLayer)
	case docker:
		return string(types.DockerLayer) // docker has no zstd type of its own
	case c == Uncompressed:
		return ocispec.MediaTypeImageLayer
	case c == Zstd:
		return ocispec.MediaTypeImageLayerZstd
	}
	return ocispec.MediaTypeImageLayerGzip
}

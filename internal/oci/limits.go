package oci

import (
	"fmt"
	"io"
)

// Default caps; see Limits.
const (
	DefaultMaxEntries      = 100_000
	DefaultMaxEntrySize    = 64 << 30  // 64 GiB
	DefaultUnpackRatio     = 100       // decompressed bytes per compressed byte
	DefaultMinUnpackedSize = 256 << 20 // 256 MiB
)

// Limits bound the work and the disk space that an input can cost, so that
// a small hostile file (a gzip bomb, a header claiming a terabyte, millions
// of empty entries) is refused with a clear error rather than obeyed (issue
// 10, point 5). The zero value means the defaults; a negative field means
// no cap. Exceeding a cap is an error wrapping ErrTooLarge, of type
// *LimitError, that names the cap and the repro-matrix flag that raises it.
type Limits struct {
	// MaxEntries caps the entries of a tar archive, layout files or not,
	// and the files under blobs/ of a layout directory. Default 100,000
	// (BuildKit writes a few dozen). Flag --max-entries.
	MaxEntries int64
	// MaxEntrySize caps, in bytes, the size that one tar entry's header
	// claims, checked before its data is read. Default 64 GiB. Flag
	// --max-entry-size.
	MaxEntrySize int64
	// MaxUnpackedSize caps, in bytes, what one decompression may produce:
	// the tar inside a gzip-compressed tarball (unpacked to an unnamed
	// temporary file), and each layer that --verify-diffids decompresses
	// (hashed as it streams, never stored). Default: 100 times the
	// compressed size, and at least 256 MiB. Flag --max-unpacked-size.
	MaxUnpackedSize int64
}

// LimitError says which cap an input exceeded. It wraps ErrTooLarge.
type LimitError struct {
	What  string // what exceeded it: "tar archive", "blob sha256:…", a file name
	Cap   string // "entries", "entry size", "unpacked size"
	Flag  string // the repro-matrix flag that raises it, e.g. "--max-entries"
	Max   int64  // the cap in force (a count, or bytes)
	Claim string // what the input has or claims, e.g. "more than 100000 entries"
	Rule  string // how a default cap was reckoned, "" for a cap given
}

func (e *LimitError) Error() string {
	rule := ""
	if e.Rule != "" {
		rule = ", " + e.Rule
	}
	return fmt.Sprintf("%s: %v: %s, over the %s cap of %d%s (raise it with %s)", e.What, ErrTooLarge, e.Claim, e.Cap, e.Max, rule, e.Flag)
}

// Unwrap gives ErrTooLarge.
func (e *LimitError) Unwrap() error { return ErrTooLarge }

// maxEntries is the entry cap in force.
func (l Limits) maxEntries() int64 { return pick(l.MaxEntries, DefaultMaxEntries) }

// maxEntrySize is the claimed-size cap in force.
func (l Limits) maxEntrySize() int64 { return pick(l.MaxEntrySize, DefaultMaxEntrySize) }

// maxUnpacked is the decompression cap in force for compressed bytes of input.
func (l Limits) maxUnpacked(compressed int64) int64 {
	if l.MaxUnpackedSize != 0 {
		return pick(l.MaxUnpackedSize, 0)
	}
	if compressed > (1<<62)/DefaultUnpackRatio {
		return 1 << 62
	}
	return max(DefaultMinUnpackedSize, DefaultUnpackRatio*compressed)
}

// pick is v, or def when v is 0, or no cap (the largest int64) when v < 0.
func pick(v, def int64) int64 {
	switch {
	case v < 0:
		return 1<<63 - 1
	case v == 0:
		return def
	}
	return v
}

// unpackCap is a reader of decompressed bytes that fails, with a
// *LimitError kept in err, once more than max bytes come out.
type unpackCap struct {
	r    io.Reader
	what string
	max  int64
	rule string // LimitError.Rule
	n    int64
	err  error
}

// newUnpackCap caps r, the decompression of compressed bytes of what, by lim.
func newUnpackCap(r io.Reader, what string, compressed int64, lim Limits) *unpackCap {
	u := &unpackCap{r: r, what: what, max: lim.maxUnpacked(compressed)}
	if lim.MaxUnpackedSize == 0 {
		u.rule = fmt.Sprintf("the default for %d compressed bytes: %d times as many, at least %d", compressed, DefaultUnpackRatio, DefaultMinUnpackedSize)
	}
	return u
}

func (u *unpackCap) Read(p []byte) (int, error) {
	if u.err != nil {
		return 0, u.err
	}
	n, err := u.r.Read(p)
	u.n += int64(n)
	if u.n > u.max {
		u.err = &LimitError{What: u.what, Cap: "unpacked size", Flag: "--max-unpacked-size", Max: u.max,
			Claim: fmt.Sprintf("decompresses to more than %d bytes", u.max), Rule: u.rule}
		return 0, u.err
	}
	return n, err
}

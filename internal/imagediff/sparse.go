package imagediff

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxHeaderBytes bounds what the tap records of one entry's headers: PAX
// records and long names (archive/tar allows 1 MiB each) and a sparse map.
const maxHeaderBytes = 4 << 20

// tap sits between a layer's uncompressed stream and archive/tar. It counts
// the bytes tar takes, records the raw bytes each call of Next reads (the
// headers, where archive/tar keeps a sparse entry's map to itself), and
// routes the stored data of a sparse entry, which Next skips, into that
// entry's hash. Holes are never expanded: the work is bounded by the bytes
// the layer holds, not by the sizes its entries claim (issue 10, point 5).
type tap struct {
	ctx       context.Context
	r         io.Reader
	n         int64 // bytes read so far: the offset in the tar stream
	recording bool
	rec       []byte // bytes read since record, after the sink's
	recAt     int64  // offset of rec[0]
	over      bool   // more than maxHeaderBytes since record
	sink      io.Writer
	sinkLeft  int64 // bytes still due to sink
}

func (t *tap) Read(p []byte) (int, error) {
	if err := t.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := t.r.Read(p)
	t.n += int64(n)
	b := p[:n]
	if t.sinkLeft > 0 {
		k := min(int64(len(b)), t.sinkLeft)
		t.sink.Write(b[:k])
		t.sinkLeft -= k
		b = b[k:]
	}
	if t.recording && len(b) > 0 {
		if len(t.rec)+len(b) > maxHeaderBytes {
			t.over = true
		} else {
			t.rec = append(t.rec, b...)
		}
	}
	return n, err
}

// record starts recording afresh, past the bytes still due to the sink.
func (t *tap) record() {
	t.recording, t.rec, t.over, t.recAt = true, t.rec[:0], false, t.n+t.sinkLeft
}

func (t *tap) stop() { t.recording = false }

// expansionGuard reads an entry that is not known to be sparse and fails as
// soon as it yields more bytes than the layer stores for it: archive/tar
// fills the holes of sparse entries with zeros, and one it recognised but
// sparseFormat did not would otherwise be expanded in full.
type expansionGuard struct {
	r     io.Reader
	tp    *tap
	start int64 // tp.n when the entry's data began
	out   int64
}

func (g *expansionGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	g.out += int64(n)
	if g.out > g.tp.n-g.start {
		return n, fmt.Errorf("%w: a sparse entry in a format this reader does not know; its holes are not expanded", ErrLayer)
	}
	return n, err
}

// fragment is one run of stored data in a sparse file; holes are the rest.
type fragment struct{ off, n int64 }

// sparseFormat names the GNU sparse format of an entry, as archive/tar
// decides it (the old GNU header, PAX 0.0/0.1 or PAX 1.0), "" if it is not
// sparse.
func sparseFormat(h *tar.Header) string {
	if h.Typeflag == tar.TypeGNUSparse {
		return "gnu"
	}
	major, minor := h.PAXRecords["GNU.sparse.major"], h.PAXRecords["GNU.sparse.minor"]
	switch {
	case major == "0" && (minor == "0" || minor == "1"):
		return "0.x"
	case major == "1" && minor == "0":
		return "1.0"
	case major != "" || minor != "":
		return ""
	case h.PAXRecords["GNU.sparse.map"] != "":
		return "0.x"
	}
	return ""
}

// readSparse reads the data map of the sparse entry h from rec, the raw
// bytes Next read for it (starting at stream offset recAt), and checks that
// the bytes stored after the headers are exactly the map's data.
func readSparse(h *tar.Header, rec []byte, recAt int64, over bool) ([]fragment, int64, error) {
	if over {
		return nil, 0, fmt.Errorf("%w: sparse entry: headers longer than %d bytes", ErrLayer, maxHeaderBytes)
	}
	main, tail, err := mainHeader(rec, recAt)
	if err != nil {
		return nil, 0, err
	}
	size, err := storedSize(h, main)
	if err != nil || size < 0 {
		return nil, 0, fmt.Errorf("%w: sparse entry: bad stored size", ErrLayer)
	}
	var frags []fragment
	switch sparseFormat(h) {
	case "gnu":
		frags, err = oldGNUMap(main, tail)
	case "1.0":
		frags, err = pax1Map(tail)
		size -= int64(len(tail))
	default:
		frags, err = pax0Map(h.PAXRecords["GNU.sparse.map"])
	}
	if err != nil {
		return nil, 0, err
	}
	var data int64
	for _, f := range frags {
		if data += f.n; data < 0 {
			return nil, 0, fmt.Errorf("%w: sparse entry: map lengths overflow", ErrLayer)
		}
	}
	if data != size {
		return nil, 0, fmt.Errorf("%w: sparse entry: its map holds %d bytes of data, its header stores %d", ErrLayer, data, size)
	}
	return normalize(frags), size, nil
}

// mainHeader finds, in the raw bytes of one entry's headers, the entry's
// own header block (past PAX records and GNU long names) and what Next read
// after it: old GNU sparse extension blocks or a PAX 1.0 sparse map.
func mainHeader(rec []byte, recAt int64) ([]byte, []byte, error) {
	off := int64((512 - recAt%512) % 512) // the padding of the entry before
	for off+512 <= int64(len(rec)) {
		blk := rec[off : off+512]
		off += 512
		switch blk[156] {
		case tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink:
			n, err := numeric(blk[124:136])
			if err != nil || n > int64(len(rec)) {
				return nil, nil, fmt.Errorf("%w: sparse entry: bad extended header size", ErrLayer)
			}
			off += (n + 511) &^ 511
			continue
		}
		return blk, rec[off:], nil
	}
	return nil, nil, fmt.Errorf("%w: sparse entry: its header was not found", ErrLayer)
}

// storedSize is the size of the entry's data as stored: the PAX size
// record, else the header's size field (archive/tar gives the apparent
// size in Header.Size instead).
func storedSize(h *tar.Header, main []byte) (int64, error) {
	if s, ok := h.PAXRecords["size"]; ok {
		return strconv.ParseInt(s, 10, 64)
	}
	return numeric(main[124:136])
}

// oldGNUMap reads the map of an old GNU sparse header: four entries in the
// header, 21 in each extension block, each a 12-byte offset and length.
func oldGNUMap(main, ext []byte) ([]fragment, error) {
	frags, more, err := gnuEntries(nil, main[386:482], main[482])
	for more && err == nil {
		if len(ext) < 512 {
			return nil, fmt.Errorf("%w: sparse entry: extension block missing", ErrLayer)
		}
		frags, more, err = gnuEntries(frags, ext[:504], ext[504])
		ext = ext[512:]
	}
	return frags, err
}

func gnuEntries(frags []fragment, b []byte, extended byte) ([]fragment, bool, error) {
	for ; len(b) >= 24 && b[0] != 0; b = b[24:] {
		off, err1 := numeric(b[:12])
		n, err2 := numeric(b[12:24])
		if err := errors.Join(err1, err2); err != nil {
			return nil, false, err
		}
		frags = append(frags, fragment{off, n})
	}
	return frags, extended != 0, nil
}

// pax1Map reads the map PAX 1.0 stores before the data: the number of
// entries, then an offset and a length per entry, each a decimal line.
func pax1Map(b []byte) ([]fragment, error) {
	lines := strings.Split(string(b), "\n")
	count, err := strconv.Atoi(lines[0])
	if err != nil || count < 0 || count > (len(lines)-1)/2 {
		return nil, fmt.Errorf("%w: sparse entry: bad PAX 1.0 map", ErrLayer)
	}
	return pairs(lines[1 : 1+2*count])
}

// pax0Map reads the GNU.sparse.map record of PAX 0.0 and 0.1 (archive/tar
// folds 0.0's offset and numbytes records into it): offset,length,….
func pax0Map(s string) ([]fragment, error) {
	if s == "" {
		return nil, nil
	}
	return pairs(strings.Split(s, ","))
}

func pairs(nums []string) ([]fragment, error) {
	if len(nums)%2 != 0 {
		return nil, fmt.Errorf("%w: sparse entry: odd number of map fields", ErrLayer)
	}
	frags := make([]fragment, 0, len(nums)/2)
	for i := 0; i < len(nums); i += 2 {
		off, err1 := strconv.ParseInt(nums[i], 10, 64)
		n, err2 := strconv.ParseInt(nums[i+1], 10, 64)
		if err1 != nil || err2 != nil || off < 0 || n < 0 {
			return nil, fmt.Errorf("%w: sparse entry: bad map field %q,%q", ErrLayer, nums[i], nums[i+1])
		}
		frags = append(frags, fragment{off, n})
	}
	return frags, nil
}

// normalize drops empty fragments and joins adjacent ones, so that two
// spellings of one map compare equal.
func normalize(frags []fragment) []fragment {
	var out []fragment
	for _, f := range frags {
		switch {
		case f.n == 0:
		case len(out) > 0 && out[len(out)-1].off+out[len(out)-1].n == f.off:
			out[len(out)-1].n += f.n
		default:
			out = append(out, f)
		}
	}
	return out
}

// numeric reads a tar number field: octal text, or base-256 when the high
// bit of its first byte is set (negative values are refused).
func numeric(b []byte) (int64, error) {
	if len(b) > 0 && b[0]&0x80 != 0 {
		if b[0]&0x40 != 0 {
			return 0, fmt.Errorf("%w: negative number in a tar header", ErrLayer)
		}
		var v uint64
		for i, c := range b {
			if i == 0 {
				c &= 0x3f
			}
			if v>>55 != 0 {
				return 0, fmt.Errorf("%w: number too large in a tar header", ErrLayer)
			}
			v = v<<8 | uint64(c)
		}
		return int64(v), nil
	}
	s := strings.Trim(string(b), " \x00")
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 8, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%w: bad number %q in a tar header", ErrLayer, s)
	}
	return v, nil
}

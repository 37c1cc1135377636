package imagediff_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/repro-matrix/repro-matrix/internal/imagediff"
	it "github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

// sparseFile is a sparse file as the GNU sparse formats store it: its
// apparent size, the data fragments (offset, length) and their bytes.
type sparseFile struct {
	size  int64
	frags [][2]int64
	data  []byte
}

const tib = int64(1) << 40

// oneTiB is the bad-input campaign's file: 1 TiB, one byte at the end.
var oneTiB = sparseFile{size: tib, frags: [][2]int64{{tib - 1, 1}}, data: []byte("x")}

// sixFragments needs old GNU extension blocks (four fragments per header).
var sixFragments = func() sparseFile {
	f := sparseFile{size: 3 * tib}
	for i := range int64(6) {
		f.frags = append(f.frags, [2]int64{i * tib / 2, 3})
		f.data = append(f.data, fmt.Sprintf("%03d", i)...)
	}
	return f
}()

// putNum writes a tar number field: octal, or base-256 when too large.
func putNum(b []byte, v int64) {
	if v < 1<<(3*(len(b)-1)) {
		copy(b, fmt.Sprintf("%0*o\x00", len(b)-1, v))
		return
	}
	clear(b)
	b[0] = 0x80
	for i := len(b) - 1; i > 0 && v > 0; i-- {
		b[i], v = byte(v), v>>8
	}
}

// header is a tar header block; gnu writes the old GNU magic.
func header(name string, size int64, typ byte, gnu bool, edit func(b []byte)) []byte {
	b := make([]byte, 512)
	copy(b, name)
	copy(b[100:], "0000644\x000000000\x000000000\x00")
	putNum(b[124:136], size)
	putNum(b[136:148], 0)
	b[156] = typ
	copy(b[257:], "ustar\x0000")
	if gnu {
		copy(b[257:], "ustar  \x00")
	}
	if edit != nil {
		edit(b)
	}
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

func padded(b []byte) []byte { return append(b, make([]byte, (512-len(b)%512)%512)...) }

// paxHeader is an extended header entry holding records k=v, in order.
func paxHeader(kv ...string) []byte {
	var recs []byte
	for i := 0; i < len(kv); i += 2 {
		body := " " + kv[i] + "=" + kv[i+1] + "\n"
		n := len(body) + 1
		for len(fmt.Sprint(n))+len(body) != n {
			n++
		}
		recs = append(recs, fmt.Sprintf("%d%s", n, body)...)
	}
	return append(header("PaxHeaders/x", int64(len(recs)), 'x', false, nil), padded(recs)...)
}

// sparseEntry is name written as f in a GNU sparse format: "0.0", "0.1",
// "1.0" (PAX) or "gnu" (the old GNU header).
func sparseEntry(format, name string, f sparseFile) []byte {
	var mapped []string
	for _, fr := range f.frags {
		mapped = append(mapped, fmt.Sprint(fr[0]), fmt.Sprint(fr[1]))
	}
	n, size := fmt.Sprint(len(f.frags)), fmt.Sprint(f.size)
	var out []byte
	switch format {
	case "0.0":
		kv := []string{"GNU.sparse.size", size, "GNU.sparse.numblocks", n}
		for i := 0; i < len(mapped); i += 2 {
			kv = append(kv, "GNU.sparse.offset", mapped[i], "GNU.sparse.numbytes", mapped[i+1])
		}
		out = append(paxHeader(kv...), header(name, int64(len(f.data)), '0', false, nil)...)
	case "0.1":
		out = append(paxHeader("GNU.sparse.major", "0", "GNU.sparse.minor", "1", "GNU.sparse.name", name,
			"GNU.sparse.size", size, "GNU.sparse.numblocks", n, "GNU.sparse.map", strings.Join(mapped, ",")),
			header("GNUSparseFile.0/"+name, int64(len(f.data)), '0', false, nil)...)
	case "1.0":
		m := padded([]byte(n + "\n" + strings.Join(append(mapped, ""), "\n")))
		out = append(paxHeader("GNU.sparse.major", "1", "GNU.sparse.minor", "0", "GNU.sparse.name", name, "GNU.sparse.realsize", size),
			header("GNUSparseFile.0/"+name, int64(len(m)+len(f.data)), '0', false, nil)...)
		out = append(out, m...)
	case "gnu":
		out = oldGNUSparse(name, f)
	}
	return append(out, padded(append([]byte(nil), f.data...))...)
}

func oldGNUSparse(name string, f sparseFile) []byte {
	put := func(b []byte, frags [][2]int64) {
		for i, fr := range frags {
			putNum(b[i*24:i*24+12], fr[0])
			putNum(b[i*24+12:i*24+24], fr[1])
		}
	}
	inHeader := f.frags[:min(4, len(f.frags))]
	rest := f.frags[len(inHeader):]
	out := header(name, int64(len(f.data)), 'S', true, func(b []byte) {
		put(b[386:482], inHeader)
		if len(rest) > 0 {
			b[482] = 1
		}
		putNum(b[483:495], f.size)
	})
	for len(rest) > 0 {
		ext := make([]byte, 512)
		k := min(21, len(rest))
		put(ext, rest[:k])
		if rest = rest[k:]; len(rest) > 0 {
			ext[504] = 1
		}
		out = append(out, ext...)
	}
	return out
}

// sparseLayer is an uncompressed layer: the sparse file big.img, then a
// regular file after it, then the end-of-archive marker.
func sparseLayer(format string, f sparseFile) it.Layer {
	b := sparseEntry(format, "big.img", f)
	b = append(b, header("after.txt", 3, '0', false, nil)...)
	b = append(b, padded([]byte("end"))...)
	b = append(b, make([]byte, 1024)...)
	return it.Layer{Raw: it.Bytes(b), MediaType: ocispec.MediaTypeImageLayer}
}

func diffLayers(t *testing.T, a, b it.Layer) (*imagediff.Result, error) {
	t.Helper()
	start := time.Now()
	res, err := imagediff.Diff(context.Background(), it.MustBuild(single(it.Image{Layers: []it.Layer{a}})),
		it.MustBuild(single(it.Image{Layers: []it.Layer{b}})), imagediff.Options{})
	if el := time.Since(start); el > time.Second {
		t.Errorf("took %s: bounded by the apparent size, not the data", el)
	}
	return res, err
}

// TestSparseFormatsAgree: one sparse file written in each GNU format is
// read by its data, in well under a second however large it claims to be,
// and compares equal in content across formats.
func TestSparseFormatsAgree(t *testing.T) {
	for _, f := range []sparseFile{oneTiB, sixFragments} {
		for _, format := range []string{"0.0", "1.0", "gnu"} {
			t.Run(fmt.Sprintf("%s/%d-fragments", format, len(f.frags)), func(t *testing.T) {
				res, err := diffLayers(t, sparseLayer("0.1", f), sparseLayer(format, f))
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range []imagediff.Kind{imagediff.KindContent, imagediff.KindSize, imagediff.KindType, imagediff.KindMissing} {
					if ds := find(res, k, ""); len(ds) > 0 {
						t.Errorf("%s differs:\n%s", k, dump(res))
					}
				}
				if !res.SemanticEqual {
					t.Errorf("not semantically equal:\n%s", dump(res))
				}
			})
		}
	}
}

// TestSparseContentDiffers: the data and the map are the content.
func TestSparseContentDiffers(t *testing.T) {
	otherData := oneTiB
	otherData.data = []byte("y")
	moved := oneTiB
	moved.frags = [][2]int64{{0, 1}}
	smaller := oneTiB
	smaller.size, smaller.frags = 1<<20, [][2]int64{{1<<20 - 1, 1}}
	dense := it.Layer{Entries: []it.Entry{it.File("big.img", "x"), it.File("after.txt", "end")}, Compression: it.Uncompressed}
	cases := map[string][2]it.Layer{
		"data":    {sparseLayer("0.1", oneTiB), sparseLayer("gnu", otherData)},
		"map":     {sparseLayer("1.0", oneTiB), sparseLayer("0.1", moved)},
		"size":    {sparseLayer("gnu", oneTiB), sparseLayer("gnu", smaller)},
		"dense":   {sparseLayer("0.0", oneTiB), dense},
		"layer B": {sparseLayer("1.0", sixFragments), sparseLayer("1.0", oneTiB)},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := diffLayers(t, c[0], c[1])
			if err != nil {
				t.Fatal(err)
			}
			d := mustFind(t, res, imagediff.KindContent, "/big.img")
			if !d.Semantic || !strings.Contains(d.Note, "sparse") {
				t.Errorf("content difference %+v", d)
			}
			if len(find(res, imagediff.KindContent, "/after.txt")) > 0 {
				t.Errorf("the entry after the sparse one is misread:\n%s", dump(res))
			}
		})
	}
}

// TestSparseMalformed: a map that does not match the stored data is an
// unreadable layer, never a verdict.
func TestSparseMalformed(t *testing.T) {
	short := oneTiB
	short.frags = [][2]int64{{tib - 2, 2}} // two bytes mapped, one stored
	bad := []byte{}
	bad = append(bad, paxHeader("GNU.sparse.major", "1", "GNU.sparse.minor", "0", "GNU.sparse.realsize", "10")...)
	bad = append(bad, header("x", 512, '0', false, nil)...)
	bad = append(bad, padded([]byte("1\n0\n600\n"))...) // 600 bytes mapped, none stored
	bad = append(bad, make([]byte, 1024)...)
	for name, l := range map[string]it.Layer{
		"short data":    sparseLayer("0.1", short),
		"map past size": {Raw: it.Bytes(bad), MediaType: ocispec.MediaTypeImageLayer},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := diffLayers(t, sparseLayer("0.1", oneTiB), l)
			if !errors.Is(err, imagediff.ErrLayer) || !strings.Contains(err.Error(), "image B") {
				t.Errorf("got %v, want an unreadable layer B", err)
			}
		})
	}
}

// TestSparseTrailing: data after the sparse entry's map and before the end
// of the layer is still read, and a sparse last entry is finished.
func TestSparseTrailing(t *testing.T) {
	b := sparseEntry("gnu", "big.img", sixFragments)
	b = append(b, make([]byte, 1024)...)
	l := it.Layer{Raw: it.Bytes(b), MediaType: ocispec.MediaTypeImageLayer}
	res, err := diffLayers(t, l, sparseLayer("gnu", sixFragments))
	if err != nil {
		t.Fatal(err)
	}
	if d := mustFind(t, res, imagediff.KindMissing, "/after.txt"); d.A != nil {
		t.Errorf("after.txt: %+v", d)
	}
	if len(find(res, imagediff.KindContent, "/big.img")) > 0 || !bytes.Contains(b, []byte("005")) {
		t.Errorf("the last sparse entry differs:\n%s", dump(res))
	}
}

package imagediff_test

import (
	"archive/tar"
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/repro-matrix/repro-matrix/internal/imagediff"
	it "github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

func TestEntryDifferences(t *testing.T) {
	hdr := func(name string, fn func(h *tar.Header)) []it.Entry {
		return edit(name, func(e *it.Entry) { fn(&e.Header) })
	}
	cases := []struct {
		name     string
		entries  []it.Entry
		kind     imagediff.Kind
		field    string
		path     string
		a, b     any
		semantic bool
	}{
		{"content", edit("etc/hostname", func(e *it.Entry) { e.Body = []byte("BOX\n") }),
			imagediff.KindContent, "content", "/etc/hostname", nil, nil, true},
		{"size", edit("etc/hostname", func(e *it.Entry) { e.Body = []byte("box2\n") }),
			imagediff.KindSize, "size", "/etc/hostname", int64(4), int64(5), true},
		{"mode", hdr("usr/bin/app", func(h *tar.Header) { h.Mode = 0o750 }),
			imagediff.KindMode, "mode", "/usr/bin/app", "0755", "0750", true},
		{"setuid", hdr("usr/bin/app", func(h *tar.Header) { h.Mode = 0o4755 }),
			imagediff.KindMode, "mode", "/usr/bin/app", "0755", "4755", true},
		{"uid", hdr("etc/passwd", func(h *tar.Header) { h.Uid = 1000 }),
			imagediff.KindUID, "uid", "/etc/passwd", 0, 1000, true},
		{"gid", hdr("etc/shadow", func(h *tar.Header) { h.Gid = 0 }),
			imagediff.KindGID, "gid", "/etc/shadow", 42, 0, true},
		{"uname", hdr("etc/passwd", func(h *tar.Header) { h.Uname = "root" }),
			imagediff.KindOwnerName, "uname", "/etc/passwd", "", "root", false},
		{"gname", hdr("etc/passwd", func(h *tar.Header) { h.Gname = "wheel" }),
			imagediff.KindOwnerName, "gname", "/etc/passwd", "", "wheel", false},
		{"mtime", hdr("etc/passwd", func(h *tar.Header) { h.ModTime = later }),
			imagediff.KindMtime, "mtime", "/etc/passwd", it.Epoch, later, true},
		{"type", edit("etc/hostname", func(e *it.Entry) { *e = it.Symlink("etc/hostname", "/proc/sys/kernel/hostname") }),
			imagediff.KindType, "type", "/etc/hostname", "file", "symlink", true},
		{"symlink target", hdr("usr/bin/app-link", func(h *tar.Header) { h.Linkname = "/usr/bin/app" }),
			imagediff.KindLinkname, "linkname", "/usr/bin/app-link", "app", "/usr/bin/app", true},
		// The applied filesystem compares hard links by the paths that share
		// an inode, not by the link's own target.
		{"hardlink target", hdr("usr/bin/app-hard", func(h *tar.Header) { h.Linkname = "etc/passwd" }),
			imagediff.KindHardLinks, "hard links", "/usr/bin/app-hard", "/usr/bin/app /usr/bin/app-hard", "/etc/passwd /usr/bin/app-hard", true},
		{"xattr", hdr("usr/bin/app", func(h *tar.Header) {
			h.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": "\x01\x00\x00\x02"}
		}), imagediff.KindXattr, "xattr[security.capability]", "/usr/bin/app", nil, "\x01\x00\x00\x02", true},
		{"pax record", hdr("usr/bin/app", func(h *tar.Header) {
			h.PAXRecords = map[string]string{"comment": "built by x"}
		}), imagediff.KindPAX, "pax[comment]", "/usr/bin/app", nil, "built by x", false},
		{"atime", hdr("etc/passwd", func(h *tar.Header) { h.AccessTime = later; h.Format = tar.FormatPAX }),
			imagediff.KindTime, "atime", "/etc/passwd", nil, later, false},
		{"only in B", append(baseEntries(), it.File("etc/motd", "hi\n")),
			imagediff.KindMissing, "entry", "/etc/motd", nil, imagediff.EntrySummary{Type: "file", Mode: "0644", Size: 3}, true},
		{"only in A", baseEntries()[:len(baseEntries())-1],
			imagediff.KindMissing, "entry", "/usr/bin/app-hard", imagediff.EntrySummary{Type: "file", Mode: "0755", Size: 21}, nil, true},
		// A whiteout deletes the lower layer's file: the filesystem lacks it.
		{"whiteout", append(baseEntries(), it.File("var/.wh.base", "")),
			imagediff.KindMissing, "entry", "/var/base", imagediff.EntrySummary{Type: "file", Mode: "0644", Size: 11}, nil, true},
		{"device", append(baseEntries(), it.Entry{Header: tar.Header{Name: "dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 5}}),
			imagediff.KindDevice, "device", "/dev/null", "1:3", "1:5", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			aEntries := baseEntries()
			if tc.kind == imagediff.KindDevice {
				aEntries = append(aEntries, it.Entry{Header: tar.Header{Name: "dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3}})
			}
			res := diff(t, single(withEntries(aEntries)), single(withEntries(tc.entries)))
			d := mustFind(t, res, tc.kind, tc.path)
			if d.Field != tc.field || d.Path != tc.path || d.Level != imagediff.LevelEntry || d.Semantic != tc.semantic {
				t.Fatalf("%+v", d)
			}
			if tc.a != nil || tc.b != nil {
				if !equalValue(d.A, tc.a) || !equalValue(d.B, tc.b) {
					t.Fatalf("values %#v ≠ %#v, want %#v ≠ %#v", d.A, d.B, tc.a, tc.b)
				}
			}
			verdicts(t, res, false, !tc.semantic)
			if res.Strict.Entry != 1 {
				t.Fatalf("entry count %d\n%s", res.Strict.Entry, dump(res))
			}
		})
	}
}

func equalValue(got, want any) bool {
	switch w := want.(type) {
	case time.Time:
		g, ok := got.(time.Time)
		return ok && g.Equal(w)
	case imagediff.EntrySummary:
		g, ok := got.(imagediff.EntrySummary)
		g.Digest = ""
		return ok && g == w
	}
	return got == want
}

func TestContentAndSizeOnOneEntry(t *testing.T) {
	b := edit("etc/hostname", func(e *it.Entry) { e.Body = []byte("a longer host name\n") })
	res := diff(t, single(baseImage()), single(withEntries(b)))
	mustFind(t, res, imagediff.KindSize, "/etc/hostname")
	mustFind(t, res, imagediff.KindContent, "/etc/hostname")
	if res.Strict.Entry != 1 || res.Semantic.Entry != 1 {
		t.Fatalf("an entry counts once: %+v", res.Strict)
	}
}

func TestEntryOrderIsSemanticallyEqual(t *testing.T) {
	es := baseEntries()
	rev := make([]it.Entry, 0, len(es))
	// Keep directories first, reverse the rest.
	for i := len(es) - 1; i >= 0; i-- {
		rev = append(rev, es[i])
	}
	res := diff(t, single(baseImage()), single(withEntries(rev)))
	d := mustFind(t, res, imagediff.KindOrder, "entry order")
	if d.Level != imagediff.LevelLayer || d.Semantic || !hasHint(d, "entry-order") {
		t.Fatalf("%+v", d)
	}
	verdicts(t, res, false, true)
	if res.Strict.Entry != 0 {
		t.Fatal(dump(res))
	}
}

func TestOrderAndMissingTogether(t *testing.T) {
	es := baseEntries()
	// B: swap two entries and drop one; A: add one at the end.
	b := []it.Entry{es[0], es[2], es[1], es[3], es[4], es[5], es[6], es[8]}
	a := append(baseEntries(), it.File("zzz", "z"))
	res := diff(t, single(withEntries(a)), single(withEntries(b)))
	mustFind(t, res, imagediff.KindOrder, "entry order")
	m1 := mustFind(t, res, imagediff.KindMissing, "/usr/bin/app-link")
	m2 := mustFind(t, res, imagediff.KindMissing, "/zzz")
	if m1.A == nil || m2.A == nil || m1.B != nil {
		t.Fatal(dump(res))
	}
	if res.Strict.Entry != 2 {
		t.Fatal(dump(res))
	}
}

func TestMissingOnlyIsNotOrder(t *testing.T) {
	es := baseEntries()
	b := append(append([]it.Entry{}, es[:3]...), es[4:]...)
	res := diff(t, single(baseImage()), single(withEntries(b)))
	if len(find(res, imagediff.KindOrder, "")) != 0 {
		t.Fatalf("a missing entry is not an order difference:\n%s", dump(res))
	}
	mustFind(t, res, imagediff.KindMissing, "/etc/shadow")
}

func TestDuplicateNames(t *testing.T) {
	a := append(baseEntries(), it.File("etc/hostname", "again\n"))
	b := append(baseEntries(), it.File("etc/hostname", "AGAIN\n"))
	res := diff(t, single(withEntries(a)), single(withEntries(b)))
	// One strict difference (the second copies, paired) and one in the
	// applied filesystem, where the last copy wins.
	ds := find(res, imagediff.KindContent, "/etc/hostname")
	if len(ds) != 2 || ds[0].Semantic || !ds[1].Semantic {
		t.Fatalf("the second occurrences pair up:\n%s", dump(res))
	}
}

func TestHeaderFormatIsSemanticallyEqual(t *testing.T) {
	long := "usr/share/" + strings.Repeat("very-long-directory-name/", 12) + "file.txt"
	es := append(baseEntries(), it.File(long, "data\n"))
	a, b := withEntries(es), withEntries(es)
	a.Layers[1].Format = tar.FormatGNU
	b.Layers[1].Format = tar.FormatPAX
	res := diff(t, single(a), single(b))
	d := mustFind(t, res, imagediff.KindTarFormat, "tar header format")
	if d.Semantic || !hasHint(d, "tar-format") || !strings.Contains(d.A.(string), "GNU") || !strings.Contains(d.B.(string), "PAX") {
		t.Fatalf("%+v", d)
	}
	verdicts(t, res, false, true)

	a.Layers[1].Format = tar.FormatUSTAR
	b.Layers[1].Format = tar.FormatGNU
	a.Layers[1].Entries, b.Layers[1].Entries = baseEntries(), baseEntries()
	res = diff(t, single(a), single(b))
	d = mustFind(t, res, imagediff.KindTarFormat, "tar header format")
	if d.A != "USTAR ×9" || d.B != "GNU ×9" {
		t.Fatalf("%+v", d)
	}
	verdicts(t, res, false, true)
}

func TestNameSpellingAndModeBits(t *testing.T) {
	b := baseEntries()
	for i := range b {
		b[i].Header.Name = "./" + b[i].Header.Name
		switch b[i].Header.Typeflag {
		case tar.TypeDir:
			b[i].Header.Mode |= 0o40000
		case tar.TypeReg:
			b[i].Header.Mode |= 0o100000
		}
	}
	res := diff(t, single(baseImage()), single(withEntries(b)))
	sp := mustFind(t, res, imagediff.KindNameSpelling, "entry names")
	if sp.A != "etc/" || sp.B != "./etc/" || sp.Semantic || !hasHint(sp, "name-spelling") {
		t.Fatalf("%+v", sp)
	}
	mb := mustFind(t, res, imagediff.KindModeBits, "mode type bits")
	if mb.Semantic || !hasHint(mb, "mode-type-bits") {
		t.Fatalf("%+v", mb)
	}
	verdicts(t, res, false, true)
}

func TestCompression(t *testing.T) {
	big := bytes.Repeat([]byte("reproducible builds are a matter of discipline\n"), 2000)
	es := append(baseEntries(), it.Entry{Header: tar.Header{Name: "big.txt", Typeflag: tar.TypeReg, Mode: 0o644}, Body: big})
	cases := []struct {
		name       string
		ca, cb     it.Compression
		la, lb     int
		mediaTypes bool
	}{
		{"gzip vs uncompressed", it.Gzip, it.Uncompressed, 0, 0, true},
		{"gzip levels", it.Gzip, it.Gzip, 1, 9, false},
		{"gzip vs zstd", it.Gzip, it.Zstd, 0, 0, true},
	}
	for _, tc := range cases {
		for _, verify := range []bool{false, true} {
			t.Run(tc.name, func(t *testing.T) {
				a, b := withEntries(es), withEntries(es)
				a.Layers[1].Compression, a.Layers[1].GzipLevel = tc.ca, tc.la
				b.Layers[1].Compression, b.Layers[1].GzipLevel = tc.cb, tc.lb
				res := diff(t, single(a), single(b), func(o *imagediff.Options) { o.VerifyDiffIDs = verify })
				d := mustFind(t, res, imagediff.KindCompression, "blob")
				if d.Level != imagediff.LevelLayer || d.Semantic || !hasHint(d, "layer-compression") {
					t.Fatalf("%+v", d)
				}
				if tc.mediaTypes {
					mt := mustFind(t, res, imagediff.KindMediaType, "mediaType")
					if !hasHint(mt, "layer-compression") || mt.Semantic {
						t.Fatalf("%+v", mt)
					}
				}
				verdicts(t, res, false, true)
				if len(res.Warnings) != 0 {
					t.Fatalf("warnings %v", res.Warnings)
				}
			})
		}
	}
}

func TestVerifyDiffIDsWarnsOnFalseClaim(t *testing.T) {
	a, b := baseImage(), baseImage()
	b.Layers[1].Entries = edit("etc/hostname", func(e *it.Entry) { e.Body = []byte("BOX\n") })
	// B's config claims A's diff-id for a layer that is not A's.
	raw, err := it.TarBytes(a.Layers[1].Entries, 0)
	if err != nil {
		t.Fatal(err)
	}
	claimed := digest.FromBytes(raw).String()
	b.Config = func(c map[string]any) { c["rootfs"].(map[string]any)["diff_ids"].([]any)[1] = claimed }
	res := diff(t, single(a), single(b))
	// Trusting the configs, the layer is reported as a compression difference, unread.
	mustFind(t, res, imagediff.KindCompression, "blob")
	res = diff(t, single(a), single(b), func(o *imagediff.Options) { o.VerifyDiffIDs = true })
	mustFind(t, res, imagediff.KindContent, "/etc/hostname")
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "config gives diff-id") {
		t.Fatalf("warnings %v", res.Warnings)
	}
}

func TestLayerAnnotations(t *testing.T) {
	a, b := baseImage(), baseImage()
	b.Layers[1].Annotations = map[string]string{"buildkit/rewritten-timestamp": "1704067200"}
	b.Layers[1].Entries = edit("etc/passwd", func(e *it.Entry) { e.Header.ModTime = later })
	res := diff(t, single(a), single(b))
	d := mustFind(t, res, imagediff.KindAnnotation, "annotations[buildkit/rewritten-timestamp]")
	if d.Level != imagediff.LevelLayer || d.Semantic || !hasHint(d, "rewrite-timestamp") {
		t.Fatalf("%+v", d)
	}
	// The entry says which side was rewritten.
	if d := find(res, imagediff.KindMtime, "/etc/passwd")[0]; d.Semantic || d.Note != "only B's layer has rewritten timestamps" {
		t.Fatalf("%+v", d)
	}

	// The same blob under an annotation on one side only: the timestamps
	// are the same, so this is not a rewrite-timestamp difference.
	b.Layers[1].Entries = baseEntries()
	res = diff(t, single(a), single(b))
	d = mustFind(t, res, imagediff.KindAnnotation, "annotations[buildkit/rewritten-timestamp]")
	if hasHint(d, "rewrite-timestamp") {
		t.Fatalf("%+v", d)
	}
	verdicts(t, res, false, true)

	// A docker schema 2 manifest drops layer annotations.
	a.Docker = true
	res = diff(t, single(a), single(b))
	d = mustFind(t, res, imagediff.KindAnnotation, "annotations[buildkit/rewritten-timestamp]")
	if !hasHint(d, "oci-mediatypes") || hasHint(d, "rewrite-timestamp") || !strings.Contains(d.Note, "no annotations") {
		t.Fatalf("%+v", d)
	}
}

func TestOpaqueLayers(t *testing.T) {
	a, b := baseImage(), baseImage()
	a.Layers = append(a.Layers, it.Layer{Raw: it.Bytes([]byte("blob-a")), MediaType: "application/octet-stream"})
	b.Layers = append(b.Layers, it.Layer{Raw: it.Bytes([]byte("blob-b")), MediaType: "application/octet-stream"})
	res := diff(t, single(a), single(b))
	d := mustFind(t, res, imagediff.KindField, "blob")
	if !d.Semantic {
		t.Fatalf("%+v", d)
	}
}

func TestPlatformOnIndexDescriptorOnly(t *testing.T) {
	// A manifest without a platform in the index is keyed by its config.
	a := baseImage()
	b := baseImage()
	b.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	res := diff(t, single(a), single(b))
	d := mustFind(t, res, imagediff.KindPlatform, "descriptor.platform")
	if d.A != nil || d.B != "linux/amd64" {
		t.Fatalf("%+v", d)
	}
	if res.Tree.Children[0].Name != "linux/amd64" {
		t.Fatalf("node %q", res.Tree.Children[0].Name)
	}
}

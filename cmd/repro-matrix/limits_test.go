package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

// gzBomb is a sound image, gzip-compressed, with an unreferenced file of
// size zero bytes: a few KB that unpack to more than size.
func gzBomb(t *testing.T, size int64) string {
	t.Helper()
	l := ocitest.MustBuildLayout(t, ocitest.Options{}).Append(ocitest.LayoutFile{
		Name: "padding", Mode: 0o644,
		Content: ocitest.Content{Size: size, Open: func() io.Reader { return bytes.NewReader(make([]byte, size)) }},
	})
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := l.WriteTar(zw); err != nil || zw.Close() != nil {
		t.Fatal("write tar.gz", err)
	}
	p := filepath.Join(t.TempDir(), "bomb.tar.gz")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCLILimits: over each cap, analyze and diff exit 2 naming the cap and
// the flag that raises it; raised, the same input is accepted.
func TestCLILimits(t *testing.T) {
	bomb := gzBomb(t, 4<<20)
	good := analyzeTarball(t, ocitest.MustBuildLayout(t, ocitest.Options{}))
	for _, c := range []struct {
		name, flag, low, high, input string
		cap                          string
	}{
		{"unpacked", "--max-unpacked-size", "1MiB", "8MiB", bomb, "unpacked size cap of 1048576"},
		{"entries", "--max-entries", "3", "100", good, "entries cap of 3"},
		{"entry size", "--max-entry-size", "100", "1GiB", good, "entry size cap of 100"},
	} {
		t.Run(c.name, func(t *testing.T) {
			runCLI(t, "analyze", c.flag, c.low, c.input).expect(t, 2, "too large", c.cap, "raise it with "+c.flag)
			runCLI(t, "analyze", c.flag, c.high, c.input).expect(t, 0, "every blob matches")
			runCLI(t, "diff", c.flag, c.low, c.input, c.input).expect(t, 2, "image A", c.cap, "raise it with "+c.flag)
			runCLI(t, "diff", c.flag, c.high, c.input, c.input).expect(t, 0)
		})
	}
	runCLI(t, "analyze", "--max-unpacked-size", "lots", good).expect(t, 2, "want a positive size")
	runCLI(t, "analyze", "--max-entries", "0", good).expect(t, 2, "want a positive count")
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "512MiB": 512 << 20, "2G": 2 << 30, "3KiB": 3 << 10, "1TiB": 1 << 40, "-1": -1} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-2", "1.5G", "MiB", "9999999999TiB", "1XB"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}

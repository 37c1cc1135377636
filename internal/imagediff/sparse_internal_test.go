package imagediff

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestExpansionGuard: an entry that yields more bytes than the layer stores
// for it (holes archive/tar expands) fails at once instead of being read.
func TestExpansionGuard(t *testing.T) {
	tp := &tap{ctx: context.Background(), r: strings.NewReader("abc")}
	io.ReadAll(tp)
	g := &expansionGuard{r: io.LimitReader(zeros{}, 1<<40), tp: tp, start: 0}
	n, err := io.Copy(io.Discard, g)
	if !errors.Is(err, ErrLayer) || n > copyBufSize {
		t.Errorf("read %d bytes, err %v", n, err)
	}
	g = &expansionGuard{r: strings.NewReader("abc"), tp: tp, start: 0}
	if b, err := io.ReadAll(g); err != nil || string(b) != "abc" {
		t.Errorf("a dense entry: %q %v", b, err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestNumeric reads the tar number fields of old GNU sparse headers.
func TestNumeric(t *testing.T) {
	for in, want := range map[string]int64{
		"00000000017\x00": 15, "  17 \x00": 15, "": 0, "\x00\x00": 0,
		"\x80\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00": 1 << 32,
	} {
		if got, err := numeric([]byte(in)); err != nil || got != want {
			t.Errorf("numeric(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", "\x80\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", "12x4"} {
		if _, err := numeric([]byte(in)); !errors.Is(err, ErrLayer) {
			t.Errorf("numeric(%q): %v", in, err)
		}
	}
}

// TestNormalize: two spellings of one map are one map.
func TestNormalize(t *testing.T) {
	got := normalize([]fragment{{0, 2}, {2, 3}, {9, 0}, {10, 1}})
	if len(got) != 2 || got[0] != (fragment{0, 5}) || got[1] != (fragment{10, 1}) {
		t.Errorf("got %v", got)
	}
}

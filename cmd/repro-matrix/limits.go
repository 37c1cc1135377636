package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/repro-matrix/repro-matrix/internal/oci"
)

// addLimitFlags adds the flags that raise oci's caps on hostile input to
// fs (analyze and diff): --max-entries, --max-entry-size and
// --max-unpacked-size. Each fills its field of lim; unset, the field stays
// 0, which is oci's default. "-1" removes a cap.
func addLimitFlags(fs *pflag.FlagSet, lim *oci.Limits) {
	fs.Var(&countFlag{&lim.MaxEntries}, "max-entries",
		fmt.Sprintf("most tar entries (or files under blobs/) an image may have; -1: no cap (default %d)", oci.DefaultMaxEntries))
	fs.Var(&sizeFlag{&lim.MaxEntrySize}, "max-entry-size",
		"largest size a tar entry's header may claim, in bytes or with a KiB/MiB/GiB/TiB suffix; -1: no cap (default 64GiB)")
	fs.Var(&sizeFlag{&lim.MaxUnpackedSize}, "max-unpacked-size",
		"most bytes one decompression may produce (a .tar.gz image; each layer under --verify-diffids), in bytes or with a KiB/MiB/GiB/TiB suffix; -1: no cap (default 100 times the compressed size, at least 256MiB)")
}

// countFlag is a count flag whose zero means oci's default.
type countFlag struct{ v *int64 }

func (f *countFlag) String() string {
	if f.v == nil || *f.v == 0 {
		return ""
	}
	return strconv.FormatInt(*f.v, 10)
}

func (f *countFlag) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n == 0 || n < -1 {
		return fmt.Errorf("want a positive count, or -1 for no cap, not %q", s)
	}
	*f.v = n
	return nil
}

func (f *countFlag) Type() string { return "count" }

// sizeFlag is a byte size flag ("1048576", "512MiB", "2GiB"); zero means
// oci's default.
type sizeFlag struct{ v *int64 }

func (f *sizeFlag) String() string {
	if f.v == nil || *f.v == 0 {
		return ""
	}
	return strconv.FormatInt(*f.v, 10)
}

func (f *sizeFlag) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*f.v = n
	return nil
}

func (f *sizeFlag) Type() string { return "size" }

// parseSize reads a positive byte count with an optional binary suffix (KiB,
// MiB, GiB, TiB; K, M, G, T mean the same), or -1 for no cap.
func parseSize(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	num, mult := strings.TrimSpace(s), int64(1)
	for i, suf := range []string{"K", "M", "G", "T"} {
		for _, full := range []string{suf + "iB", suf} {
			if rest, ok := strings.CutSuffix(num, full); ok {
				num, mult = rest, int64(1)<<(10*(i+1))
				break
			}
		}
		if mult != 1 {
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n <= 0 || n > (1<<63-1)/mult {
		return 0, fmt.Errorf("want a positive size in bytes (e.g. 1048576, 512MiB, 2GiB), or -1 for no cap, not %q", s)
	}
	return n * mult, nil
}

// Command mkimage writes a valid image tarball with large pseudo-random
// layers, in the shape BuildKit's docker exporter writes, for benchmarking
// `repro-matrix analyze`. The same flags always give the same bytes.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"

	"github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

func main() {
	out := flag.String("o", "image.tar", "output tarball")
	sizeMiB := flag.Int64("size", 256, "total layer size in MiB")
	layers := flag.Int("layers", 4, "number of layers")
	flag.Parse()
	if err := write(*out, *sizeMiB<<20, *layers); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func write(path string, total int64, n int) error {
	if n < 1 || total < int64(n) {
		return fmt.Errorf("need at least one layer and one byte per layer")
	}
	var img ocitest.Image
	for i := range n {
		img.Layers = append(img.Layers, ocitest.Blobs(ocitest.Random(uint64(i+1), total/int64(n)))...)
	}
	l, err := ocitest.BuildLayout(ocitest.Options{Docker: true, Images: []ocitest.Image{img}})
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := l.WriteTar(w); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	fmt.Printf("%s: image %s\n", path, l.ImageDigest)
	return f.Close()
}

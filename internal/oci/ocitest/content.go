package ocitest

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
)

// Content is a file's bytes, produced on demand so that large layers never
// have to sit in memory. Open must yield exactly Size bytes, the same bytes
// on every call.
type Content struct {
	Size int64
	Open func() io.Reader
}

// Bytes is Content holding b.
func Bytes(b []byte) Content {
	return Content{Size: int64(len(b)), Open: func() io.Reader { return bytes.NewReader(b) }}
}

// Random is size bytes of a deterministic pseudo-random stream: the same
// seed always gives the same bytes. It stands in for a compressed layer.
func Random(seed uint64, size int64) Content {
	return Content{Size: size, Open: func() io.Reader {
		var s [32]byte
		binary.LittleEndian.PutUint64(s[:], seed)
		return io.LimitReader(rand.NewChaCha8(s), size)
	}}
}

// ReadAll returns the content's bytes; meant for small files.
func (c Content) ReadAll() []byte {
	b, _ := io.ReadAll(c.Open())
	return b
}

package ocitest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"time"
)

// Epoch is the timestamp of everything the package builds, unless a test
// sets another: entries' mtimes, configs' created time and history.
var Epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Entry is one tar entry of a layer: a header and, for regular files, a
// body. Size is filled in from Body; ModTime defaults to Epoch.
type Entry struct {
	Header tar.Header
	Body   []byte
}

// File is a regular file with mode 0644, owned by root.
func File(name, body string) Entry {
	return Entry{Header: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644}, Body: []byte(body)}
}

// Dir is a directory with mode 0755.
func Dir(name string) Entry {
	return Entry{Header: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}}
}

// Symlink is a symbolic link.
func Symlink(name, target string) Entry {
	return Entry{Header: tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}}
}

// Hardlink is a hard link to an earlier entry.
func Hardlink(name, target string) Entry {
	return Entry{Header: tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: target, Mode: 0o644}}
}

// With returns e changed by fn, for one-off header tweaks.
func (e Entry) With(fn func(h *tar.Header)) Entry {
	fn(&e.Header)
	return e
}

// TarBytes writes entries as an uncompressed tar stream, every header in
// format unless it is tar.FormatUnknown. It fails on a header archive/tar
// refuses, naming the entry.
func TarBytes(entries []Entry, format tar.Format) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.Header
		if h.Typeflag == tar.TypeReg || (h.Typeflag == 0 && len(e.Body) > 0) {
			h.Size = int64(len(e.Body))
		}
		if h.ModTime.IsZero() {
			h.ModTime = Epoch
		}
		if format != tar.FormatUnknown {
			h.Format = format
		}
		if err := tw.WriteHeader(&h); err != nil {
			return nil, fmt.Errorf("%s: %w", h.Name, err)
		}
		if _, err := tw.Write(e.Body); err != nil {
			return nil, fmt.Errorf("%s: %w", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

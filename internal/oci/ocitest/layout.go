package ocitest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// LayoutFile is one file of the layout.
type LayoutFile struct {
	Name    string // layout-relative, e.g. "blobs/sha256/ab…"
	Dir     bool
	Mode    int64
	Content Content
}

// Layout is a built image layout and what it contains.
type Layout struct {
	Files    []LayoutFile // in tar order
	DotSlash bool         // tar entries are named "./NAME"
	// IndexDigest is the sha256 of index.json; ImageDigest its manifests[0].
	IndexDigest digest.Digest
	ImageDigest digest.Digest
	Nested      *ocispec.Descriptor  // the nested index, if any
	Manifests   []ocispec.Descriptor // image manifests, in Images order
	Configs     []ocispec.Descriptor
	Layers      []ocispec.Descriptor // all images' layers, in order
}

// BlobPath is where a layout stores the blob with digest d.
func BlobPath(d digest.Digest) string {
	return path.Join(ocispec.ImageBlobsDir, d.Algorithm().String(), d.Encoded())
}

// sortFiles orders files as containerd's archive exporter does: by name.
func sortFiles(files []LayoutFile) {
	slices.SortFunc(files, func(x, y LayoutFile) int { return strings.Compare(x.Name, y.Name) })
}

// WriteTar writes the layout as a tar archive, streaming each file's content.
func (l *Layout) WriteTar(w io.Writer) error {
	tw := tar.NewWriter(w)
	for _, f := range l.Files {
		if err := l.writeEntry(tw, f); err != nil {
			return fmt.Errorf("write %s: %w", f.Name, err)
		}
	}
	return tw.Close()
}

func (l *Layout) writeEntry(tw *tar.Writer, f LayoutFile) error {
	hdr := &tar.Header{Name: f.Name, Mode: f.Mode, ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Size: f.Content.Size}
	if l.DotSlash {
		hdr.Name = "./" + f.Name
	}
	if f.Dir {
		hdr.Typeflag, hdr.Size = tar.TypeDir, 0
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if f.Dir {
		return nil
	}
	_, err := io.Copy(tw, f.Content.Open())
	return err
}

// Tar is the layout as tar archive bytes.
func (l *Layout) Tar() []byte {
	var buf bytes.Buffer
	if err := l.WriteTar(&buf); err != nil {
		// Only a Content yielding other than Size bytes gets here.
		return nil
	}
	return buf.Bytes()
}

// TarGz is the layout as a gzip-compressed tar archive.
func (l *Layout) TarGz() []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := l.WriteTar(zw); err != nil || zw.Close() != nil {
		return nil
	}
	return buf.Bytes()
}

// WriteDir writes the layout as an OCI layout directory under dir.
func (l *Layout) WriteDir(dir string) error {
	for _, f := range l.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if f.Dir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := writeFile(p, f.Content); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(p string, c Content) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	out, err := os.Create(p)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, c.Open()); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Get returns the content of the file name, if the layout has it.
func (l *Layout) Get(name string) (Content, bool) {
	for _, f := range l.Files {
		if f.Name == name && !f.Dir {
			return f.Content, true
		}
	}
	return Content{}, false
}

// Replace returns a copy of the layout with the file name's content set to
// c, adding the file at the end if it is not there.
func (l *Layout) Replace(name string, c Content) *Layout {
	out := l.clone()
	for i, f := range out.Files {
		if f.Name == name {
			out.Files[i].Content = c
			return out
		}
	}
	out.Files = append(out.Files, LayoutFile{Name: name, Mode: 0o444, Content: c})
	return out
}

// Remove returns a copy of the layout without the file name.
func (l *Layout) Remove(name string) *Layout {
	out := l.clone()
	out.Files = slices.DeleteFunc(out.Files, func(f LayoutFile) bool { return f.Name == name })
	return out
}

// Append returns a copy of the layout with f added at the end, even if a
// file of that name exists: a tar with a duplicate entry.
func (l *Layout) Append(f LayoutFile) *Layout {
	out := l.clone()
	out.Files = append(out.Files, f)
	return out
}

func (l *Layout) clone() *Layout {
	out := *l
	out.Files = slices.Clone(l.Files)
	return &out
}

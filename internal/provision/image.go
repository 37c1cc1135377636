package provision

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Image is a provisioned image: a docker-archive tarball that `docker load`
// and `podman load` take, and the name it carries.
type Image struct {
	Ref     string  // local name, e.g. localhost/repro-matrix/buildkit:v0.19.0
	Tarball string  // docker-archive tarball in the cache
	ID      v1.Hash // config digest: what `docker image inspect` calls the ID
	Digest  v1.Hash // manifest digest: what a registry serves it as
}

// file is one regular file of a layer made from host files.
type file struct {
	src, dst string
	mode     int64
}

// fileLayer writes files into an uncompressed tar with fixed owners and
// times, so the same inputs give the same layer.
func fileLayer(out string, files []file, dirs []string, mtime time.Time) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, d := range dirs {
		h := &tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
	}
	for _, fl := range files {
		if err := addFile(tw, fl, mtime); err != nil {
			return fmt.Errorf("layer %s: %w", fl.dst, err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// entry is one entry of a layer written from bytes: a folder when data is
// nil.
type entry struct {
	name string
	mode int64
	uid  int               // owner and group
	data []byte            // nil: a folder
	pax  map[string]string // PAX records, e.g. SCHILY.xattr.security.capability
}

// writeLayer writes entries, in their order, as an uncompressed tar whose
// times are mtime: the same entries give the same bytes.
func writeLayer(out string, entries []entry, mtime time.Time) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, e := range entries {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid,
			Size: int64(len(e.data)), ModTime: mtime, Format: tar.FormatPAX, PAXRecords: e.pax}
		if e.data == nil {
			h.Typeflag, h.Name = tar.TypeDir, strings.TrimSuffix(e.name, "/")+"/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("layer %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return fmt.Errorf("layer %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func addFile(tw *tar.Writer, fl file, mtime time.Time) error {
	src, err := os.Open(fl.src)
	if err != nil {
		return err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return err
	}
	h := &tar.Header{Typeflag: tar.TypeReg, Name: fl.dst, Mode: fl.mode, Size: st.Size(), ModTime: mtime, Format: tar.FormatPAX}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err = io.Copy(tw, src)
	return err
}

// assemble stacks layers (uncompressed tar files) into an image with cfg,
// and writes it as a docker-archive tarball named ref.
func assemble(ref string, layers []string, cfg v1.Config, created time.Time, platform v1.Platform, out string) (Image, error) {
	tag, err := name.NewTag(ref)
	if err != nil {
		return Image{}, fmt.Errorf("image name %q: %w", ref, err)
	}
	img := empty.Image
	for _, l := range layers {
		layer, err := tarball.LayerFromFile(l, tarball.WithCompressionLevel(gzip.BestSpeed))
		if err != nil {
			return Image{}, fmt.Errorf("layer %s: %w", filepath.Base(l), err)
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			return Image{}, err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return Image{}, err
	}
	cf = cf.DeepCopy()
	cf.Config = cfg
	cf.Created = v1.Time{Time: created.UTC()}
	cf.OS, cf.Architecture, cf.Variant = platform.OS, platform.Architecture, platform.Variant
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return Image{}, err
	}
	return writeImage(tag, img, out)
}

// writeImage writes img as a docker-archive tarball tagged tag to out (the
// cache's: once) and returns it with its config and manifest digests.
func writeImage(tag name.Tag, img v1.Image, out string) (Image, error) {
	if err := Produce(out, func(tmp string) error { return tarball.WriteToFile(tmp, tag, img) }); err != nil {
		return Image{}, fmt.Errorf("write %s: %w", tag, err)
	}
	id, err := img.ConfigName()
	if err != nil {
		return Image{}, err
	}
	dg, err := img.Digest()
	if err != nil {
		return Image{}, err
	}
	return Image{Ref: tag.String(), Tarball: out, ID: id, Digest: dg}, nil
}

package oci

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// zstdMaxWindow is the largest zstd window accepted (zstd --long's 128 MiB).
const zstdMaxWindow = 1 << 27

// checkDiffIDs holds a manifest's layers against its config's
// rootfs.diff_ids. The OCI image-spec (config.md, "rootfs"; manifest.md,
// "layers") makes diff_ids[i] the digest of layer i's uncompressed tar, so
// there is one per layer, in order. Their number is always checked; with
// Options.VerifyDiffIDs each layer present and otherwise sound is
// decompressed and hashed too. A mismatch is a problem wrapping
// ErrDiffIDMismatch, naming the layer, the config and both digests.
func (w *walker) checkDiffIDs(m *Manifest, layers []ocispec.Descriptor, config []byte) {
	if config == nil {
		return
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(config, &cfg); err != nil {
		w.problem("", string(m.ConfigDigest), fmt.Errorf("blob %s: %w: config of manifest %s: %v", m.ConfigDigest, ErrMalformed, m.Digest, err))
		return
	}
	ids := cfg.RootFS.DiffIDs
	if len(ids) != len(layers) {
		w.problem("", string(m.ConfigDigest), fmt.Errorf("blob %s: %w: the config lists %d rootfs.diff_ids, manifest %s has %d layers",
			m.ConfigDigest, ErrDiffIDMismatch, len(ids), m.Digest, len(layers)))
		return
	}
	if !w.l.opts.VerifyDiffIDs {
		return
	}
	for i, l := range layers {
		if w.ctx.Err() != nil || w.absent[blobPath(l.Digest)] || w.reported[keyOf(l.Digest)] || keyOf(l.Digest) == "" {
			continue
		}
		if err := w.verifyDiffID(l, ids[i]); err != nil {
			w.problem("", string(l.Digest), fmt.Errorf("%w (layer %d of manifest %s, config %s)", err, i+1, m.Digest, m.ConfigDigest))
		}
	}
}

// verifyDiffID decompresses layer d (gzip, zstd or none, told by its magic
// number, within the unpacked-size cap) and checks that it hashes to want.
func (w *walker) verifyDiffID(d ocispec.Descriptor, want digest.Digest) error {
	if err := validDigest(want); err != nil {
		return fmt.Errorf("blob %s: %w: its diff_id: %w", d.Digest, ErrDiffIDMismatch, err)
	}
	rc, err := w.l.Blob(w.ctx, d)
	if err != nil {
		return err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	plain, done, err := decompress(br)
	if err != nil {
		return fmt.Errorf("blob %s: %w: decompress: %v", d.Digest, ErrDiffIDMismatch, err)
	}
	defer done()
	capped := newUnpackCap(ContextReader(w.ctx, plain), "blob "+d.Digest.String(), d.Size, w.l.opts.Limits)
	h := want.Algorithm().Hash()
	if _, err := io.CopyBuffer(h, capped, make([]byte, 256<<10)); err != nil {
		return layerError(d, capped, err)
	}
	// The compressed stream is read to its end, so Blob checks its digest.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return err
	}
	if got := digest.NewDigest(want.Algorithm(), h); got != want {
		return fmt.Errorf("blob %s: %w: it decompresses to %s, the config's diff_id is %s", d.Digest, ErrDiffIDMismatch, got, want)
	}
	return nil
}

// layerError prefers the cap's error, then the verifier's (which names the
// blob), over what the decompressor made of them.
func layerError(d ocispec.Descriptor, c *unpackCap, err error) error {
	var le *LimitError
	switch {
	case c.err != nil:
		return c.err
	case errors.As(err, &le), errors.Is(err, ErrDigestMismatch), errors.Is(err, ErrSizeMismatch):
		return err
	}
	return fmt.Errorf("blob %s: %w: decompress: %v", d.Digest, ErrDiffIDMismatch, err)
}

// decompress returns br's content uncompressed, by its magic number.
func decompress(br *bufio.Reader) (io.Reader, func(), error) {
	magic, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	}
	return br, func() {}, nil
}

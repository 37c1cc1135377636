package oci

import (
	"context"
	"fmt"
	"hash"
	"io"

	"github.com/opencontainers/go-digest"
)

// verifier streams a blob and checks it against its descriptor: it returns
// the blob's bytes and, instead of the final io.EOF, an error naming the
// digest if the content or its length is not what the descriptor says.
type verifier struct {
	ctx  context.Context
	r    io.Reader // at most want+1 bytes, to notice a longer blob
	c    io.Closer
	d    digest.Digest
	want int64
	n    int64
	h    hash.Hash
	err  error // sticky
}

// newVerifier wraps rc, whose content must be size bytes hashing to d.
// d must be valid (see validDigest).
func newVerifier(ctx context.Context, rc io.ReadCloser, d digest.Digest, size int64) *verifier {
	return &verifier{
		ctx: ctx, r: io.LimitReader(rc, size+1), c: rc,
		d: d, want: size, h: d.Algorithm().Hash(),
	}
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if err := v.ctx.Err(); err != nil {
		v.err = fmt.Errorf("blob %s: %w", v.d, err)
		return 0, v.err
	}
	n, err := v.r.Read(p)
	if v.h != nil {
		v.h.Write(p[:n])
	}
	v.n += int64(n)
	if v.n > v.want {
		v.err = fmt.Errorf("blob %s: %w: more than the %d bytes the descriptor says", v.d, ErrSizeMismatch, v.want)
		return 0, v.err
	}
	switch {
	case err == io.EOF:
		err = v.finish()
	case err != nil:
		err = fmt.Errorf("blob %s: read: %w", v.d, err)
	}
	v.err = err
	return n, err
}

// finish checks length and digest once the content is exhausted.
func (v *verifier) finish() error {
	if v.n != v.want {
		return fmt.Errorf("blob %s: %w: %d bytes, the descriptor says %d", v.d, ErrSizeMismatch, v.n, v.want)
	}
	if v.h == nil {
		return io.EOF // hashed when the tarball was scanned
	}
	if got := digest.NewDigest(v.d.Algorithm(), v.h); got != v.d {
		return fmt.Errorf("blob %s: %w: content hashes to %s", v.d, ErrDigestMismatch, got)
	}
	return io.EOF
}

func (v *verifier) Close() error { return v.c.Close() }

// bufSize picks a read buffer for n bytes of input: large enough to
// amortise calls when hashing big layers, small for small inputs.
func bufSize(n int64) int {
	return int(min(max(n, 4096), 1<<20))
}

// drain reads r to its end in large chunks; io.Copy to io.Discard would use
// small buffers, which hashing large layers does not need.
func drain(r io.Reader, size int64) error {
	buf := make([]byte, bufSize(size+1))
	for {
		_, err := r.Read(buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// ContextReader returns a reader of r that fails with ctx's error, instead
// of reading, once ctx is done: a long copy stops at cancellation even when
// r itself never looks at a context.
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

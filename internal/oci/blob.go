package oci

import (
	"context"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Blob streams the blob d describes. The reader returns the blob's bytes and
// fails, at EOF at the latest, with an error naming d.Digest if the content
// does not hash to d.Digest or is not d.Size bytes long; when the mismatch is
// already known (a tarball's blobs are hashed by Open) Blob fails at once.
// A blob whose hash Open already checked is not hashed again (its size
// still is): a diff reads every layer, and hashing it twice cost a third of
// the time.
// Memory use does not depend on the blob's size, and any number of readers
// may be open at once. Close the reader when done.
//
// A non-distributable layer whose blob is absent, which Analyze and Verify
// accept, cannot be read: its error wraps ErrNotDistributed (and
// ErrBlobMissing), so that a caller can report the layer as not comparable.
func (l *Layout) Blob(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	if l.absentNonDistributable(d) {
		return nil, fmt.Errorf("blob %s: %w (%s; urls %v): %w", d.Digest, ErrNotDistributed, d.MediaType, d.URLs, ErrBlobMissing)
	}
	name, err := l.checkBlob(d)
	if err != nil {
		return nil, err
	}
	rc, err := l.st.open(name)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	v := newVerifier(ctx, rc, d.Digest, d.Size)
	if fi, err := l.st.lookup(name); err == nil && fi.sum == d.Digest {
		v.h = nil
	}
	return v, nil
}

// checkBlob validates d against what is known of its file without reading
// it, and returns the file's name.
func (l *Layout) checkBlob(d ocispec.Descriptor) (string, error) {
	if err := l.live(); err != nil {
		return "", err
	}
	if err := validDigest(d.Digest); err != nil {
		return "", err
	}
	if d.Size < 0 {
		return "", fmt.Errorf("blob %s: %w: negative size %d in descriptor", d.Digest, ErrSizeMismatch, d.Size)
	}
	name := blobPath(d.Digest)
	fi, err := l.st.lookup(name)
	if err != nil {
		return "", fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	if fi.size != d.Size {
		return "", fmt.Errorf("blob %s: %w: %s has %d bytes, the descriptor says %d", d.Digest, ErrSizeMismatch, name, fi.size, d.Size)
	}
	if sum := l.knownSum(name, fi); sum != "" && sum != d.Digest {
		return "", fmt.Errorf("blob %s: %w: content hashes to %s", d.Digest, ErrDigestMismatch, sum)
	}
	return name, nil
}

func (l *Layout) live() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	return nil
}

// knownSum is the digest computed for name so far: by the tar scan, or by
// an earlier verification of a directory's file.
func (l *Layout) knownSum(name string, fi fileInfo) digest.Digest {
	if fi.sum != "" {
		return fi.sum
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sums[name]
}

// verifyFile hashes the blob file name in full (if the store has not done so
// already) and checks that it hashes to the digest its name claims.
func (l *Layout) verifyFile(ctx context.Context, name string) error {
	d, err := digestOfPath(name)
	if err != nil {
		return err
	}
	fi, err := l.st.lookup(name)
	if err != nil {
		return fmt.Errorf("blob %s: %w", d, err)
	}
	if sum := l.knownSum(name, fi); sum != "" {
		if sum != d {
			return fmt.Errorf("blob %s: %w: %s hashes to %s", d, ErrDigestMismatch, name, sum)
		}
		return nil
	}
	return l.hashFile(ctx, name, d, fi.size)
}

// hashFile reads a directory layout's blob through a verifier.
func (l *Layout) hashFile(ctx context.Context, name string, d digest.Digest, size int64) error {
	rc, err := l.st.open(name)
	if err != nil {
		return fmt.Errorf("blob %s: %w", d, err)
	}
	defer rc.Close()
	v := newVerifier(ctx, rc, d, size)
	if err := drain(v, size); err != nil {
		return err
	}
	l.mu.Lock()
	l.sums[name] = d
	l.mu.Unlock()
	return nil
}

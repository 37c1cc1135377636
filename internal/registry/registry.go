// Package registry runs the loopback registry that serves fixtures' base
// images to BuildKit at every nesting level. It is go-containerregistry's
// registry handler on 127.0.0.1, with blobs kept on disk.
package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Registry is a running loopback registry.
type Registry struct {
	Addr  string // host:port on 127.0.0.1
	srv   *http.Server
	done  chan error
	blobs string
	once  sync.Once
	err   error
}

// Start listens on addr, which must be a loopback address ("127.0.0.1:0"
// picks a free port). Blobs go to a temporary folder removed by Close.
//
// With a git root (StartWithGit), it also serves the bare repositories
// there under GitPrefix.
func Start(addr string) (*Registry, error) { return StartWithGit(context.Background(), addr, "") }

// StartWithGit is Start that also serves the git repositories under
// gitRoot (when not empty) at http://ADDR/git/NAME.git, for fixtures built
// from a git context.
func StartWithGit(ctx context.Context, addr, gitRoot string) (*Registry, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("registry address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("registry address %q: only loopback addresses are served", addr)
	}
	blobs, err := os.MkdirTemp("", "repro-matrix-registry-")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		os.RemoveAll(blobs)
		return nil, fmt.Errorf("registry listen: %w", err)
	}
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithBlobHandler(registry.NewDiskBlobHandler(blobs)))
	if gitRoot != "" {
		git, err := gitHandler(ctx, gitRoot)
		if err != nil {
			ln.Close()
			os.RemoveAll(blobs)
			return nil, err
		}
		h = withGit(h, http.TimeoutHandler(git, serveTimeout, "git request timed out"))
	}
	r := &Registry{Addr: ln.Addr().String(), srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, done: make(chan error, 1), blobs: blobs}
	go func() { r.done <- r.srv.Serve(ln) }()
	return r, nil
}

// Close stops the registry and removes its blobs. Clients that keep a
// connection open past a short grace (a keep-alive the client never
// released) are cut off: the run that used the registry is over. Closing
// again returns the first Close's error.
func (r *Registry) Close() error {
	r.once.Do(func() { r.err = r.close() })
	return r.err
}

func (r *Registry) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var err error
	if r.srv.Shutdown(ctx) != nil {
		err = r.srv.Close()
	}
	if serveErr := <-r.done; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	os.RemoveAll(r.blobs)
	return err
}

// PushTarball pushes a docker-archive tarball as repo:tag and returns the
// reference pinned by digest, e.g. 127.0.0.1:5000/library/debian:bookworm@sha256:...
func (r *Registry) PushTarball(ctx context.Context, path, repo, tag string) (string, error) {
	return PushTarball(ctx, r.Addr, r.Addr, path, repo, tag)
}

// Push uploads img as repo:tag and returns the digest-pinned reference.
func (r *Registry) Push(ctx context.Context, img v1.Image, repo, tag string) (string, error) {
	return Push(ctx, r.Addr, r.Addr, img, repo, tag)
}

// PushTarball pushes a docker-archive tarball to the plain-HTTP registry at
// addr and returns its reference pinned by digest as seen through seenAs:
// another address of the same registry (the one BuildKit uses).
func PushTarball(ctx context.Context, addr, seenAs, path, repo, tag string) (string, error) {
	img, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return Push(ctx, addr, seenAs, img, repo, tag)
}

// Push uploads img as repo:tag to the plain-HTTP registry at addr and
// returns its reference pinned by digest as seen through seenAs.
func Push(ctx context.Context, addr, seenAs string, img v1.Image, repo, tag string) (string, error) {
	ref, err := name.NewTag(addr+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		return "", fmt.Errorf("push reference: %w", err)
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	dg, err := img.Digest()
	if err != nil {
		return "", err
	}
	return seenAs + "/" + repo + ":" + tag + "@" + dg.String(), nil
}

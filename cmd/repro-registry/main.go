// Command repro-registry serves an OCI distribution registry
// (go-containerregistry's in-memory manifests, blobs on disk) on one address.
//
// It runs as a sidecar inside the container of a Docker engine that has its
// own network namespace: BuildKit under that engine (network=host, the
// engine container's namespace) reaches it at 127.0.0.1:5000, where the run's
// loopback registry on the host cannot be reached; the host pushes base
// images to it through a port published on the host's 127.0.0.1.
// It is baked into engine images by internal/provision.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5000", "address to listen on")
	dir := flag.String("dir", "/var/lib/repro-registry", "folder for blobs")
	verbose := flag.Bool("v", false, "log every request")
	flag.Parse()
	if err := run(*addr, *dir, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "repro-registry:", err)
		os.Exit(1)
	}
}

func run(addr, dir string, verbose bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	logger := log.New(io.Discard, "", 0)
	if verbose {
		logger = log.New(os.Stderr, "repro-registry: ", log.LstdFlags)
	}
	h := registry.New(registry.Logger(logger), registry.WithBlobHandler(registry.NewDiskBlobHandler(dir)))
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(os.Stderr, "repro-registry: serving on %s, blobs in %s\n", ln.Addr(), dir)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

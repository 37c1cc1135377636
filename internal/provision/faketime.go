package provision

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// FakeTimeRuntime is the OCI runtime, in a BuildKit image with the clock
// layer (WithFakeTime), that the time variation's builder passes to
// buildkitd as --oci-worker-binary: faketimerunc, which preloads
// libfaketime into every RUN step with a clock 398 days ahead.
const FakeTimeRuntime = "/usr/local/bin/repro-faketime-runc"

// FakeTimeSuffix ends the tag of a BuildKit image with the clock layer.
const FakeTimeSuffix = "-faketime"

//go:embed faketimerunc/main.go
var fakeTimeRuncSource []byte

// fakeTimeLib is Debian's libfaketime, the library faketime(1) preloads.
var fakeTimeLib = RootFS{Suite: "bookworm", Arch: "amd64", Include: []string{"libfaketime"}, Epoch: imageEpoch.Unix(), Describe: "libfaketime"}

const fakeTimeLibPath = "usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

// WithFakeTime returns img (a BuildKit image, pulled or made) with the
// clock layer on top: FakeTimeRuntime, built static from this package's
// faketimerunc source, and libfaketime from Debian bookworm (amd64: RUN
// steps of other platforms would not load it). The image is tagged as
// img's with FakeTimeSuffix and cached by img's digest.
func WithFakeTime(ctx context.Context, c Cache, img Image) (Image, error) {
	if runtime.GOARCH != "amd64" {
		return Image{}, fmt.Errorf("the time variation: libfaketime here is amd64's, this host is %s", runtime.GOARCH)
	}
	runc, err := buildFakeTimeRunc(ctx, c)
	if err != nil {
		return Image{}, err
	}
	root, err := fakeTimeLib.Build(ctx, c)
	if err != nil {
		return Image{}, fmt.Errorf("the time variation: %w", err)
	}
	lib, err := baseFiles(root, fakeTimeLibPath)
	if err != nil {
		return Image{}, fmt.Errorf("the time variation: %w", err)
	}
	k := key(img.Digest.String(), runc, filepath.Base(root))
	layer, err := c.Path("layers", "faketime-"+k+".tar")
	if err != nil {
		return Image{}, err
	}
	err = Produce(layer, func(tmp string) error {
		return clockLayer(tmp, runc, lib[fakeTimeLibPath])
	})
	if err != nil {
		return Image{}, fmt.Errorf("the time variation's layer: %w", err)
	}
	ref := img.Ref
	if !strings.Contains(ref[strings.LastIndex(ref, "/")+1:], ":") {
		ref += ":latest"
	}
	tag, err := name.NewTag(ref + FakeTimeSuffix)
	if err != nil {
		return Image{}, fmt.Errorf("image name %q: %w", ref+FakeTimeSuffix, err)
	}
	base, err := tarball.ImageFromPath(img.Tarball, nil)
	if err != nil {
		return Image{}, fmt.Errorf("%s: %w", img.Ref, err)
	}
	l, err := tarball.LayerFromFile(layer)
	if err != nil {
		return Image{}, err
	}
	withClock, err := mutate.AppendLayers(base, l)
	if err != nil {
		return Image{}, err
	}
	out, err := c.Path("images", "buildkit-faketime-"+k+".tar")
	if err != nil {
		return Image{}, err
	}
	return writeImage(tag, withClock, out)
}

// buildFakeTimeRunc compiles the embedded faketimerunc source, static,
// into the cache and returns the binary's path.
func buildFakeTimeRunc(ctx context.Context, c Cache) (string, error) {
	sum := sha256.Sum256(fakeTimeRuncSource)
	dst, err := c.Path("faketime-runc", key(hex.EncodeToString(sum[:]), runtime.Version(), runtime.GOARCH))
	if err != nil {
		return "", err
	}
	err = Produce(dst, func(tmp string) error {
		src := filepath.Join(tmp, "src")
		if err := os.MkdirAll(src, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module repro-matrix.local/faketimerunc\n\ngo 1.22\n"), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(src, "main.go"), fakeTimeRuncSource, 0o644); err != nil {
			return err
		}
		if out, err := goCmd(ctx, src, "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(tmp, "faketimerunc"), "."); err != nil {
			return fmt.Errorf("build faketimerunc: %w: %s", err, tail(out, 10))
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return filepath.Join(dst, "faketimerunc"), nil
}

// clockLayer writes the clock layer: the runtime wrapper and the library.
func clockLayer(out, runc string, lib []byte) error {
	bin, err := os.ReadFile(runc)
	if err != nil {
		return err
	}
	return writeLayer(out, []entry{
		{name: "usr/local/bin", mode: 0o755},
		{name: strings.TrimPrefix(FakeTimeRuntime, "/"), mode: 0o755, data: bin},
		{name: "usr/local/lib/repro-faketime", mode: 0o755},
		{name: "usr/local/lib/repro-faketime/libfaketime.so.1", mode: 0o644, data: lib},
	}, imageEpoch)
}

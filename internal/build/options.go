// Package build is the build core: it builds a Dockerfile reproducibly with
// a pinned BuildKit under Docker (buildx with a docker-container builder) or
// Podman (BuildKit in a privileged container through buildctl-daemonless.sh),
// with SOURCE_DATE_EPOCH, rewrite-timestamp=true and provenance off, and
// exports a docker or OCI tarball. It is the Go port of repro-build's build.
package build

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/repro-matrix/repro-matrix/internal/engine"
)

// DefaultBuildKitImage is the BuildKit repro-build pins.
const DefaultBuildKitImage = "moby/buildkit:v0.19.0@sha256:14aa1b4dd92ea0a4cd03a54d0c6079046ea98cd0c0ae6176bdd7036ba370cbbe"

// Exporter is BuildKit's output type.
type Exporter string

const (
	ExporterDocker Exporter = "docker"
	ExporterOCI    Exporter = "oci"
)

// ErrUnsupported marks an option the chosen runtime cannot honour.
var ErrUnsupported = errors.New("not supported by this runtime")

// Options are the inputs of one build; the zero value of each optional
// field leaves BuildKit's default.
type Options struct {
	Runtime         engine.Kind
	Context         string   // build context folder
	File            string   // Dockerfile; default Context/Dockerfile
	Output          string   // tarball to write
	SourceDateEpoch int64    // SOURCE_DATE_EPOCH for the build and rewrite-timestamp
	BuildKitImage   string   // image of the BuildKit daemon
	NoCache         bool     // build every step anew
	Rootless        bool     // Podman only: rootless BuildKit
	Tag             string   // image name recorded in the tarball
	BuildArgs       []string // KEY=VALUE
	Annotations     []string // KEY=VALUE, on the image manifest
	Platform        string   // e.g. linux/arm64
	Exporter        Exporter // docker (default) or oci
	OCIMediaTypes   *bool    // exporter option oci-mediatypes; nil = BuildKit's default
	BuildKitArgs    []string // Podman only: extra arguments for buildctl build
	BuildxArgs      []string // Docker only: extra arguments for docker buildx build
	BuildkitdConfig string   // buildkitd.toml (registries, mirrors)
	HostNetwork     bool     // run BuildKit on the engine's host network (loopback registry)
	Builder         string   // Docker only: builder name; default derived from image and config
	Labels          []string // KEY=VALUE labels for containers the build starts (Podman)
}

// Validate resolves defaults and refuses what the runtime cannot honour,
// with a message naming the option, as repro-build does.
func (o *Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch o.Runtime {
	case engine.Docker, engine.Podman:
	default:
		bad("--runtime %q: want docker or podman", o.Runtime)
	}
	if o.Context == "" {
		bad("CONTEXT: missing build context")
	} else if st, err := os.Stat(o.Context); err != nil || !st.IsDir() {
		bad("CONTEXT %s: not a folder", o.Context)
	}
	if o.File != "" {
		if st, err := os.Stat(o.File); err != nil || st.IsDir() {
			bad("--file %s: not a file", o.File)
		}
	}
	if o.Output == "" {
		bad("--output: missing")
	} else if st, err := os.Stat(filepath.Dir(o.Output)); err != nil || !st.IsDir() {
		bad("--output %s: its folder does not exist", o.Output)
	}
	if o.SourceDateEpoch < 0 {
		bad("--source-date-epoch %d: must not be negative", o.SourceDateEpoch)
	}
	if o.BuildKitImage == "" {
		o.BuildKitImage = DefaultBuildKitImage
	}
	if _, err := name.ParseReference(o.BuildKitImage); err != nil {
		bad("--buildkit-image %q: %v", o.BuildKitImage, err)
	}
	switch o.Exporter {
	case "":
		o.Exporter = ExporterDocker
	case ExporterDocker, ExporterOCI:
	default:
		bad("--exporter %q: want docker or oci", o.Exporter)
	}
	checkPairs(&errs, "--build-arg", o.BuildArgs)
	checkPairs(&errs, "--annotation", o.Annotations)
	checkPairs(&errs, "--label", o.Labels)
	for _, a := range o.BuildArgs {
		if strings.HasPrefix(a, "SOURCE_DATE_EPOCH=") {
			bad("--build-arg %s: set SOURCE_DATE_EPOCH with --source-date-epoch or --datetime", a)
		}
	}
	if o.BuildkitdConfig != "" {
		if _, err := os.Stat(o.BuildkitdConfig); err != nil {
			bad("--buildkitd-config %s: %v", o.BuildkitdConfig, err)
		}
	}
	errs = append(errs, o.runtimeOnly()...)
	return errors.Join(errs...)
}

// runtimeOnly refuses options of the other runtime.
func (o *Options) runtimeOnly() []error {
	var errs []error
	if o.Runtime == engine.Docker {
		if o.Rootless {
			errs = append(errs, fmt.Errorf("--rootless: %w: rootless mode is only supported with the podman runtime", ErrUnsupported))
		}
		if len(o.BuildKitArgs) > 0 {
			errs = append(errs, fmt.Errorf("--buildkit-args: %w: cannot pass BuildKit arguments with the docker runtime (use --buildx-args)", ErrUnsupported))
		}
		if len(o.Labels) > 0 {
			errs = append(errs, fmt.Errorf("--label: %w: buildx builders cannot carry labels; their names start with repro-matrix", ErrUnsupported))
		}
	}
	if o.Runtime == engine.Podman {
		if len(o.BuildxArgs) > 0 {
			errs = append(errs, fmt.Errorf("--buildx-args: %w: cannot pass Docker Buildx arguments with the podman runtime (use --buildkit-args)", ErrUnsupported))
		}
		if o.Builder != "" {
			errs = append(errs, fmt.Errorf("--builder: %w: podman runs a fresh BuildKit per build", ErrUnsupported))
		}
	}
	return errs
}

func checkPairs(errs *[]error, flag string, pairs []string) {
	for _, p := range pairs {
		if k, _, ok := strings.Cut(p, "="); !ok || k == "" {
			*errs = append(*errs, fmt.Errorf("%s %q: want KEY=VALUE", flag, p))
		}
	}
}

// builderName is the docker-container builder for an image and config: one
// per pair, reused across builds as repro-build does.
func (o *Options) builderName() string {
	if o.Builder != "" {
		return o.Builder
	}
	h := sha256.New()
	h.Write([]byte(o.BuildKitImage))
	if o.BuildkitdConfig != "" {
		cfg, _ := os.ReadFile(o.BuildkitdConfig)
		h.Write([]byte{0})
		h.Write(cfg)
	}
	if o.HostNetwork {
		h.Write([]byte("\x00host"))
	}
	return "repro-matrix-build-" + hex.EncodeToString(h.Sum(nil))[:12]
}

// outputSpec is BuildKit's --output value for a destination path.
func (o *Options) outputSpec(dest string) string {
	parts := []string{"type=" + string(o.Exporter), "dest=" + dest, "rewrite-timestamp=true"}
	if o.OCIMediaTypes != nil {
		parts = append(parts, fmt.Sprintf("oci-mediatypes=%t", *o.OCIMediaTypes))
	}
	return strings.Join(parts, ",")
}

// podmanImage qualifies a short image name for Podman, which would
// otherwise ask which registry to search; names with a registry stay.
// The first component names a registry when it holds a dot or a colon or
// is localhost, as in Docker's reference grammar.
func podmanImage(ref string) string {
	first, _, found := strings.Cut(ref, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return ref
	}
	return "docker.io/" + ref
}

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
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/repro-matrix/repro-matrix/internal/engine"
)

// DefaultBuildKitImage is the BuildKit repro-build pins, and
// DefaultBuildKitRootlessImage its rootless variant, which a rootless build
// runs when it names no image (repro-build's DEFAULT_BUILDKIT_IMAGE and
// DEFAULT_BUILDKIT_IMAGE_ROOTLESS).
const (
	DefaultBuildKitImage         = "moby/buildkit:v0.19.0@sha256:14aa1b4dd92ea0a4cd03a54d0c6079046ea98cd0c0ae6176bdd7036ba370cbbe"
	DefaultBuildKitRootlessImage = "moby/buildkit:v0.19.0-rootless@sha256:e901cffdad753892a7c3afb8b9972549fca02c73888cf340c91ed801fdd96d71"
)

// Exporter is BuildKit's output type.
type Exporter string

const (
	ExporterDocker Exporter = "docker"
	ExporterOCI    Exporter = "oci"
)

// ErrUnsupported marks an option the chosen runtime cannot honour.
var ErrUnsupported = errors.New("not supported by this runtime")

// Option names a build option in the build's own words, as its errors say
// it; front ends map each to their own spelling (the CLI to its flags).
type Option string

// The options of Options that Validate can refuse.
const (
	OptRuntime         Option = "runtime"
	OptContext         Option = "build context"
	OptFile            Option = "Dockerfile"
	OptOutput          Option = "output path"
	OptSourceDateEpoch Option = "SOURCE_DATE_EPOCH"
	OptBuildKitImage   Option = "BuildKit image"
	OptExporter        Option = "exporter"
	OptBuildArg        Option = "build argument"
	OptAnnotation      Option = "annotation"
	OptLabel           Option = "label"
	OptBuildkitdConfig Option = "buildkitd config"
	OptRootless        Option = "rootless"
	OptBuildKitArgs    Option = "BuildKit arguments"
	OptBuildxArgs      Option = "buildx arguments"
)

// OptionError is one option that Validate refuses: "output path: missing",
// "exporter \"tar\": want docker or oci". Err is ErrUnsupported for an
// option the runtime cannot honour, else nil.
type OptionError struct {
	Option Option
	Value  string // the value refused; "" when it is missing or beside the point
	Reason string
	Err    error
}

func (e *OptionError) Error() string { return e.describe(string(e.Option)) }

// Named is the error with the option spelled as name: "--output: missing".
func (e *OptionError) Named(name string) string { return e.describe(name) }

func (e *OptionError) describe(name string) string {
	if e.Value != "" {
		name += fmt.Sprintf(" %q", e.Value)
	}
	if e.Err != nil {
		return fmt.Sprintf("%s: %v: %s", name, e.Err, e.Reason)
	}
	return name + ": " + e.Reason
}

func (e *OptionError) Unwrap() error { return e.Err }

// Output is one tarball a build exports.
type Output struct {
	Path          string   // tarball to write
	Exporter      Exporter // docker (default) or oci
	OCIMediaTypes *bool    // exporter option oci-mediatypes; nil = BuildKit's default
}

// IsGitContext reports whether a build context is a URL (http:// or
// https://) rather than a folder.
func IsGitContext(context string) bool {
	return strings.HasPrefix(context, "http://") || strings.HasPrefix(context, "https://")
}

// loopbackGit checks that a git context is on a loopback host: builds send
// nothing to other addresses.
func loopbackGit(context string) error {
	u, err := url.Parse(context)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("host %q: a git context must be served on loopback (127.0.0.1)", host)
	}
	return nil
}

// Options are the inputs of one build; the zero value of each optional
// field leaves BuildKit's default.
type Options struct {
	Runtime engine.Kind
	// Context is the build context: a folder, or a git repository served
	// over HTTP on loopback, "http://127.0.0.1:PORT/NAME.git[#REF]"
	// (IsGitContext), which BuildKit fetches itself, Dockerfile included.
	Context string
	File    string // Dockerfile; default Context/Dockerfile; empty for a git context
	// Outputs are the tarballs to write. Several are one solve exported
	// several times, which needs BuildKit v0.13 or later (and buildx v0.13
	// under Docker): see SharesSolve.
	Outputs         []Output
	SourceDateEpoch int64    // SOURCE_DATE_EPOCH for the build and rewrite-timestamp
	BuildKitImage   string   // image of the BuildKit daemon
	NoCache         bool     // build every step anew
	Rootless        bool     // Podman only: rootless BuildKit
	Tag             string   // image name recorded in the tarball
	BuildArgs       []string // KEY=VALUE
	Annotations     []string // KEY=VALUE, on the image manifest
	Platform        string   // e.g. linux/arm64
	BuildKitArgs    []string // Podman only: extra arguments for buildctl build
	BuildxArgs      []string // Docker only: extra arguments for docker buildx build
	BuildkitdConfig string   // buildkitd.toml (registries, mirrors)
	HostNetwork     bool     // run BuildKit on the engine's host network (loopback registry)
	// Builder names the BuildKit to build with. Docker: a buildx builder,
	// created when absent; default derived from image and config. Podman: a
	// BuildKit container started by Builder.Start; empty runs a fresh
	// BuildKit for the build (buildctl-daemonless.sh).
	Builder string
	Labels  []string // KEY=VALUE labels for containers the build starts (Podman)
}

// Validate resolves defaults and refuses what the runtime cannot honour. Its
// error joins one *OptionError per problem, each naming the option in the
// build's own words; the CLI names the flag that set it.
func (o *Options) Validate() error {
	var errs []error
	bad := func(opt Option, value, reason string, args ...any) {
		errs = append(errs, &OptionError{Option: opt, Value: value, Reason: fmt.Sprintf(reason, args...)})
	}
	switch o.Runtime {
	case engine.Docker, engine.Podman:
	default:
		bad(OptRuntime, string(o.Runtime), "want docker or podman")
	}
	switch {
	case o.Context == "":
		bad(OptContext, "", "missing")
	case IsGitContext(o.Context):
		if err := loopbackGit(o.Context); err != nil {
			bad(OptContext, o.Context, "%v", err)
		}
		if o.File != "" {
			bad(OptFile, o.File, "a git context brings its own Dockerfile")
		}
		if o.Runtime == engine.Podman && o.Builder == "" {
			bad(OptContext, o.Context, "a git context needs a kept builder under Podman (a one-off build mounts a folder)")
		}
	default:
		if st, err := os.Stat(o.Context); err != nil || !st.IsDir() {
			bad(OptContext, o.Context, "not a folder")
		}
	}
	if o.File != "" {
		if st, err := os.Stat(o.File); err != nil || st.IsDir() {
			bad(OptFile, o.File, "not a file")
		}
	}
	errs = append(errs, o.validateOutputs()...)
	if o.SourceDateEpoch < 0 {
		bad(OptSourceDateEpoch, fmt.Sprint(o.SourceDateEpoch), "must not be negative")
	}
	if o.BuildKitImage == "" {
		o.BuildKitImage = DefaultBuildKitImage
		if o.Rootless {
			o.BuildKitImage = DefaultBuildKitRootlessImage
		}
	}
	if _, err := name.ParseReference(o.BuildKitImage); err != nil {
		bad(OptBuildKitImage, o.BuildKitImage, "%v", err)
	}
	errs = append(errs, checkPairs(OptBuildArg, o.BuildArgs)...)
	errs = append(errs, checkPairs(OptAnnotation, o.Annotations)...)
	errs = append(errs, checkPairs(OptLabel, o.Labels)...)
	for _, a := range o.BuildArgs {
		if strings.HasPrefix(a, "SOURCE_DATE_EPOCH=") {
			bad(OptBuildArg, a, "SOURCE_DATE_EPOCH is the build's own option, not a build argument")
		}
	}
	if o.BuildkitdConfig != "" {
		if _, err := os.Stat(o.BuildkitdConfig); err != nil {
			bad(OptBuildkitdConfig, o.BuildkitdConfig, "%v", err)
		}
	}
	errs = append(errs, o.runtimeOnly()...)
	return errors.Join(errs...)
}

// runtimeOnly refuses options of the other runtime.
func (o *Options) runtimeOnly() []error {
	var errs []error
	unsupported := func(opt Option, reason string) {
		errs = append(errs, &OptionError{Option: opt, Reason: reason, Err: ErrUnsupported})
	}
	if o.Runtime == engine.Docker {
		if o.Rootless {
			unsupported(OptRootless, "rootless mode is only supported with the podman runtime")
		}
		if len(o.BuildKitArgs) > 0 {
			unsupported(OptBuildKitArgs, "cannot pass BuildKit arguments with the docker runtime (pass buildx arguments)")
		}
		if len(o.Labels) > 0 {
			unsupported(OptLabel, "buildx builders cannot carry labels; their names start with repro-matrix")
		}
	}
	if o.Runtime == engine.Podman {
		if len(o.BuildxArgs) > 0 {
			unsupported(OptBuildxArgs, "cannot pass Docker Buildx arguments with the podman runtime (pass BuildKit arguments)")
		}
	}
	return errs
}

// validateOutputs refuses a build without output, an output whose folder
// does not exist, two outputs to one path and an unknown exporter; it sets
// the default exporter.
func (o *Options) validateOutputs() []error {
	if len(o.Outputs) == 0 {
		return []error{&OptionError{Option: OptOutput, Reason: "missing"}}
	}
	var errs []error
	seen := map[string]bool{}
	for i := range o.Outputs {
		out := &o.Outputs[i]
		switch {
		case out.Path == "":
			errs = append(errs, &OptionError{Option: OptOutput, Reason: "missing"})
		case seen[out.Path]:
			errs = append(errs, &OptionError{Option: OptOutput, Value: out.Path, Reason: "written by two outputs"})
		default:
			if st, err := os.Stat(filepath.Dir(out.Path)); err != nil || !st.IsDir() {
				errs = append(errs, &OptionError{Option: OptOutput, Value: out.Path, Reason: "its folder does not exist"})
			}
		}
		seen[out.Path] = true
		switch out.Exporter {
		case "":
			out.Exporter = ExporterDocker
		case ExporterDocker, ExporterOCI:
		default:
			errs = append(errs, &OptionError{Option: OptExporter, Value: string(out.Exporter), Reason: "want docker or oci"})
		}
	}
	return errs
}

func checkPairs(opt Option, pairs []string) []error {
	var errs []error
	for _, p := range pairs {
		if k, _, ok := strings.Cut(p, "="); !ok || k == "" {
			errs = append(errs, &OptionError{Option: opt, Value: p, Reason: "want KEY=VALUE"})
		}
	}
	return errs
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

// spec is BuildKit's --output value for the output written to dest.
func (out Output) spec(dest string) string {
	parts := []string{"type=" + string(out.Exporter), "dest=" + dest, "rewrite-timestamp=true"}
	if out.OCIMediaTypes != nil {
		parts = append(parts, fmt.Sprintf("oci-mediatypes=%t", *out.OCIMediaTypes))
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

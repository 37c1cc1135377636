package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/shlex"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/repro-matrix/repro-matrix/internal/build"
	"github.com/repro-matrix/repro-matrix/internal/engine"
	"github.com/repro-matrix/repro-matrix/internal/epoch"
)

func init() { register(newBuildCmd) }

// buildFlags are repro-build's flags, plus the exporter options.
type buildFlags struct {
	runtime, sde, datetime, file, output string
	buildkitArgs, buildxArgs             string
	exporter, ociMediaTypes              string
	opts                                 build.Options
	dry                                  bool
}

func newBuildCmd() *cobra.Command {
	var f buildFlags
	cmd := &cobra.Command{
		Use:   "build [flags] CONTEXT",
		Short: "Build a Dockerfile reproducibly with a pinned BuildKit (repro-build's build)",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return withCode(exitUsage, fmt.Errorf("want one CONTEXT folder, got %d arguments", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.options(args[0])
			if err != nil {
				return withCode(exitUsage, err)
			}
			if f.dry {
				return withCode(exitUsage, build.DryRun(cmd.OutOrStdout(), o))
			}
			if err := o.Validate(); err != nil {
				return withCode(exitUsage, inFlags(err))
			}
			e, err := engine.Host(cmd.Context(), o.Runtime)
			if err != nil {
				return withCode(exitMismatch, err)
			}
			printContext(cmd, o, e)
			if err := build.Run(cmd.Context(), e, o, cmd.ErrOrStderr()); err != nil {
				return withCode(exitMismatch, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", o.Outputs[0].Path)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.runtime, "runtime", defaultRuntime(), "container runtime: docker or podman (env REPRO_RUNTIME)")
	fl.StringVar(&f.sde, "source-date-epoch", os.Getenv("REPRO_SOURCE_DATE_EPOCH"), "SOURCE_DATE_EPOCH in seconds (env REPRO_SOURCE_DATE_EPOCH)")
	fl.StringVar(&f.datetime, "datetime", os.Getenv("REPRO_DATETIME"), "ISO date or date-time for SOURCE_DATE_EPOCH, UTC unless a zone is given (env REPRO_DATETIME)")
	fl.StringVar(&f.opts.BuildKitImage, "buildkit-image", os.Getenv("REPRO_BUILDKIT_IMAGE"), "BuildKit image (NAME:TAG@DIGEST; default repro-build's pin, with --rootless its rootless variant; env REPRO_BUILDKIT_IMAGE)")
	fl.BoolVar(&f.opts.NoCache, "no-cache", os.Getenv("REPRO_CACHE") == "0", "build every step anew")
	fl.BoolVar(&f.opts.Rootless, "rootless", os.Getenv("REPRO_ROOTLESS") == "1", "run BuildKit's rootless variant, rootlesskit buildkitd as uid 1000 (podman only; env REPRO_ROOTLESS=1)")
	fl.StringVarP(&f.file, "file", "f", "", "Dockerfile (default CONTEXT/Dockerfile)")
	fl.StringVarP(&f.output, "output", "o", "image.tar", "tarball to write")
	fl.StringVarP(&f.opts.Tag, "tag", "t", "", "image name recorded in the tarball")
	fl.StringArrayVar(&f.opts.BuildArgs, "build-arg", nil, "build-time variable KEY=VALUE (repeatable)")
	fl.StringArrayVar(&f.opts.Annotations, "annotation", nil, "manifest annotation KEY=VALUE (repeatable)")
	fl.StringVar(&f.opts.Platform, "platform", "", "target platform, e.g. linux/arm64")
	fl.StringVar(&f.buildkitArgs, "buildkit-args", "", "extra arguments for buildctl build (podman only)")
	fl.StringVar(&f.buildxArgs, "buildx-args", "", "extra arguments for docker buildx build (docker only)")
	fl.StringVar(&f.exporter, "exporter", "docker", "BuildKit exporter: docker or oci")
	fl.StringVar(&f.ociMediaTypes, "oci-mediatypes", "", "exporter option oci-mediatypes: true or false (default: BuildKit's)")
	fl.StringVar(&f.opts.BuildkitdConfig, "buildkitd-config", "", "buildkitd.toml for the BuildKit daemon (registries, mirrors)")
	fl.BoolVar(&f.opts.HostNetwork, "host-network", false, "run BuildKit on the engine's host network (to reach a registry on 127.0.0.1)")
	fl.BoolVar(&f.dry, "dry", false, "print the commands, run nothing")
	fl.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "sde" { // repro-build's short name
			name = "source-date-epoch"
		}
		return pflag.NormalizedName(name)
	})
	return cmd
}

// options turns flags into build options with absolute paths.
func (f *buildFlags) options(context string) (build.Options, error) {
	o := f.opts
	o.Runtime = engine.Kind(f.runtime)
	out := build.Output{Exporter: build.Exporter(f.exporter)}
	sde, err := sourceDateEpoch(f.sde, f.datetime)
	if err != nil {
		return o, err
	}
	o.SourceDateEpoch = sde
	for flag, p := range map[string]*string{"CONTEXT": &context, "--file": &f.file, "--output": &f.output, "--buildkitd-config": &o.BuildkitdConfig} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return o, fmt.Errorf("%s %s: %w", flag, *p, err)
		}
		*p = abs
	}
	o.Context, o.File, out.Path = context, f.file, f.output
	o.Outputs = []build.Output{out}
	if o.BuildKitArgs, err = splitArgs("--buildkit-args", f.buildkitArgs); err != nil {
		return o, err
	}
	if o.BuildxArgs, err = splitArgs("--buildx-args", f.buildxArgs); err != nil {
		return o, err
	}
	switch f.ociMediaTypes {
	case "":
	case "true", "false":
		v := f.ociMediaTypes == "true"
		o.Outputs[0].OCIMediaTypes = &v
	default:
		return o, fmt.Errorf("--oci-mediatypes %q: want true or false", f.ociMediaTypes)
	}
	return o, nil
}

func splitArgs(flag, s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	args, err := shlex.Split(s)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", flag, s, err)
	}
	return args, nil
}

// defaultRuntime is $REPRO_RUNTIME, else docker or podman, whichever is
// installed, as repro-build detects it.
func defaultRuntime() string {
	if r := os.Getenv("REPRO_RUNTIME"); r != "" {
		return r
	}
	for _, r := range []string{"docker", "podman"} {
		if _, err := exec.LookPath(r); err == nil {
			return r
		}
	}
	return ""
}

// printContext tells what the build will use, as repro-build's log does.
func printContext(cmd *cobra.Command, o build.Options, e engine.Engine) {
	w := cmd.ErrOrStderr()
	fmt.Fprintf(w, "Build environment:\n- Engine: %s\n- BuildKit image: %s\n- Rootless: %t\n- Caching enabled: %t\n- Build context: %s\n- Output: %s (%s exporter)\n",
		e.Name(), o.BuildKitImage, o.Rootless, !o.NoCache, o.Context, o.Outputs[0].Path, o.Outputs[0].Exporter)
	fmt.Fprintf(w, "Build parameters:\n- SOURCE_DATE_EPOCH: %d\n- Build args: %s\n- Annotations: %s\n- Tag: %s\n- Platform: %s\n\n",
		o.SourceDateEpoch, orNone(strings.Join(o.BuildArgs, ",")), orNone(strings.Join(o.Annotations, ",")), orNone(o.Tag), orNone(o.Platform))
}

func orNone(s string) string {
	if s == "" {
		return "(not provided)"
	}
	return s
}

// sourceDateEpoch returns SOURCE_DATE_EPOCH from exactly one of
// --source-date-epoch (seconds, as text) and --datetime (an ISO date or
// date-time; one without a zone is UTC), as repro-build takes it.
func sourceDateEpoch(seconds, datetime string) (int64, error) {
	switch {
	case seconds != "" && datetime != "":
		return 0, errors.New("--source-date-epoch and --datetime: give one, not both")
	case seconds == "" && datetime == "":
		return 0, errors.New("give a SOURCE_DATE_EPOCH with --source-date-epoch or a date with --datetime")
	case seconds != "":
		n, err := strconv.ParseInt(seconds, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("--source-date-epoch %q: want a non-negative number of seconds", seconds)
		}
		return n, nil
	}
	t, err := epoch.ParseDatetime(datetime)
	if err != nil {
		return 0, fmt.Errorf("--datetime %w", err)
	}
	if t.Unix() < 0 {
		return 0, fmt.Errorf("--datetime %q: before 1970", datetime)
	}
	return t.Unix(), nil
}

// buildFlagOf names the flag that sets each build option; options without a
// flag keep the build's own words.
var buildFlagOf = map[build.Option]string{
	build.OptRuntime: "--runtime", build.OptContext: "CONTEXT", build.OptFile: "--file",
	build.OptOutput: "--output", build.OptSourceDateEpoch: "--source-date-epoch",
	build.OptBuildKitImage: "--buildkit-image", build.OptExporter: "--exporter",
	build.OptBuildArg: "--build-arg", build.OptAnnotation: "--annotation",
	build.OptBuildkitdConfig: "--buildkitd-config", build.OptRootless: "--rootless",
	build.OptBuildKitArgs: "--buildkit-args", build.OptBuildxArgs: "--buildx-args",
}

// inFlags says the build's option errors with the flags that set them:
// "output path: missing" becomes "--output: missing".
func inFlags(err error) error {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var msgs []string
	for _, e := range errs {
		var oe *build.OptionError
		if errors.As(e, &oe) && buildFlagOf[oe.Option] != "" {
			msgs = append(msgs, oe.Named(buildFlagOf[oe.Option]))
			continue
		}
		msgs = append(msgs, e.Error())
	}
	return errors.New(strings.Join(msgs, "\n"))
}

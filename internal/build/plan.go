package build

import (
	"path/filepath"
	"strconv"
	"strings"
)

// Step is one engine command of a build.
type Step struct {
	Args []string // arguments of the engine CLI (docker or podman)
	// Skip, when set, is a command whose success means Args need not run
	// (a builder that already exists).
	Skip []string
}

// String is the command line a dry run prints.
func (s Step) String(cli string) string {
	return shellJoin(append([]string{cli}, s.Args...))
}

// Plan returns the engine commands of a build that writes its tarball to
// dest (a temporary name beside Options.Output).
func (o *Options) Plan(dest string) []Step {
	if o.Runtime == "podman" {
		return []Step{{Args: o.podmanRun(dest)}}
	}
	builder := o.builderName()
	create := []string{"buildx", "create", "--name", builder, "--driver", "docker-container",
		"--driver-opt", "image=" + o.BuildKitImage}
	if o.HostNetwork {
		create = append(create, "--driver-opt", "network=host")
	}
	if o.BuildkitdConfig != "" {
		create = append(create, "--buildkitd-config", o.BuildkitdConfig)
	}
	return []Step{
		{Args: create, Skip: []string{"buildx", "inspect", builder}},
		{Args: o.buildxBuild(builder, dest)},
	}
}

func (o *Options) buildxBuild(builder, dest string) []string {
	args := []string{"buildx", "--builder", builder, "build",
		"--build-arg", "SOURCE_DATE_EPOCH=" + strconv.FormatInt(o.SourceDateEpoch, 10)}
	for _, a := range o.BuildArgs {
		args = append(args, "--build-arg", a)
	}
	for _, a := range o.Annotations {
		args = append(args, "--annotation", a)
	}
	args = append(args, "--provenance", "false", "--output", o.outputSpec(dest))
	if o.NoCache {
		args = append(args, "--no-cache", "--pull")
	}
	if o.Tag != "" {
		args = append(args, "-t", o.Tag)
	}
	if o.File != "" {
		args = append(args, "-f", o.File)
	}
	if o.Platform != "" {
		args = append(args, "--platform", o.Platform)
	}
	args = append(args, o.BuildxArgs...)
	return append(args, o.Context)
}

// Paths inside the BuildKit container of a Podman build.
const (
	podContext    = "/tmp/work"
	podDockerfile = "/tmp/dockerfile"
	podImage      = "/tmp/image"
	podCache      = "/tmp/cache"
	podConfig     = "/etc/buildkit/buildkitd.toml"
)

// CacheVolume holds BuildKit's local cache between Podman builds.
const CacheVolume = "repro-matrix-buildkit-cache"

func (o *Options) podmanRun(dest string) []string {
	args := []string{"run", "--rm", "--name", containerName(dest)}
	for _, l := range o.Labels {
		args = append(args, "--label", l)
	}
	if o.HostNetwork {
		args = append(args, "--network", "host")
	}
	if !o.NoCache {
		args = append(args, "-v", CacheVolume+":"+podCache)
	}
	args = append(args,
		"-v", filepath.Dir(dest)+":"+podImage,
		"-v", o.Context+":"+podContext+":ro",
		"--entrypoint", "buildctl-daemonless.sh")
	if o.Rootless {
		args = append(args, "--userns", "keep-id:uid=1000,gid=1000",
			"--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
			"-e", "BUILDKITD_FLAGS=--oci-worker-no-process-sandbox")
	} else {
		args = append(args, "--privileged")
	}
	dockerfileDir := podContext
	if o.File != "" {
		// A folder of its own: BuildKit reads the Dockerfile and its
		// .dockerignore from the dockerfile local, nothing else.
		dockerfileDir = podDockerfile
		args = append(args, "-v", o.File+":"+podDockerfile+"/Dockerfile:ro")
	}
	if o.BuildkitdConfig != "" {
		args = append(args, "-v", o.BuildkitdConfig+":"+podConfig+":ro")
	}
	args = append(args, podmanImage(o.BuildKitImage),
		"build", "--frontend", "dockerfile.v0",
		"--local", "context="+podContext,
		"--local", "dockerfile="+dockerfileDir,
		"--opt", "build-arg:SOURCE_DATE_EPOCH="+strconv.FormatInt(o.SourceDateEpoch, 10))
	for _, a := range o.BuildArgs {
		args = append(args, "--opt", "build-arg:"+a)
	}
	out := o.outputSpec(podImage + "/" + filepath.Base(dest))
	if o.Tag != "" {
		out += ",name=" + o.Tag
	}
	for _, a := range o.Annotations {
		out += ",annotation." + a
	}
	args = append(args, "--output", out)
	if !o.NoCache {
		args = append(args, "--export-cache", "type=local,mode=max,dest="+podCache,
			"--import-cache", "type=local,src="+podCache)
	} else {
		args = append(args, "--no-cache")
	}
	if o.Platform != "" {
		args = append(args, "--opt", "platform="+o.Platform)
	}
	return append(args, o.BuildKitArgs...)
}

// containerName names a Podman build's container after its temporary
// output, so a cancelled build's container can be found and removed.
func containerName(dest string) string {
	base := strings.TrimPrefix(filepath.Base(dest), ".")
	return "repro-matrix-build-" + strings.NewReplacer(".", "-", "_", "-").Replace(base)
}

// shellJoin quotes arguments for a shell, for dry runs and error messages.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,@+%", r))
		}) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}

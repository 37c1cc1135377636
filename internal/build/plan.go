package build

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/repro-matrix/repro-matrix/internal/engine"
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

// Plan returns the engine commands of a build that writes its outputs to
// dests (temporary names beside each Options.Outputs path, in order).
func (o *Options) Plan(dests []string) []Step {
	if o.Runtime == engine.Podman {
		if o.Builder != "" {
			return []Step{{Args: o.podmanExec(dests)}}
		}
		return []Step{{Args: o.podmanRun(dests)}}
	}
	b := o.builder()
	return []Step{
		{Args: b.buildxCreate(), Skip: []string{"buildx", "inspect", b.Name}},
		{Args: o.buildxBuild(b.Name, dests)},
	}
}

// builder is the builder the options name (or derive, under Docker).
func (o *Options) builder() Builder {
	return Builder{Name: o.builderName(), Runtime: o.Runtime, BuildKitImage: o.BuildKitImage,
		BuildkitdConfig: o.BuildkitdConfig, HostNetwork: o.HostNetwork, Rootless: o.Rootless, Labels: o.Labels}
}

func (o *Options) buildxBuild(builder string, dests []string) []string {
	args := []string{"buildx", "--builder", builder, "build",
		"--build-arg", "SOURCE_DATE_EPOCH=" + strconv.FormatInt(o.SourceDateEpoch, 10)}
	for _, a := range o.BuildArgs {
		args = append(args, "--build-arg", a)
	}
	for _, a := range o.Annotations {
		args = append(args, "--annotation", a)
	}
	args = append(args, "--provenance", "false")
	for i, out := range o.Outputs {
		args = append(args, "--output", out.spec(dests[i]))
	}
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

// Paths inside the BuildKit container of a one-off Podman build.
const (
	podContext    = "/tmp/work"
	podDockerfile = "/tmp/dockerfile"
	podImage      = "/tmp/image" // + the output's index
	podCache      = "/tmp/cache"
	podConfig     = "/etc/buildkit/buildkitd.toml"
)

// CacheVolume holds BuildKit's local cache between Podman builds.
const CacheVolume = "repro-matrix-buildkit-cache"

// podmanRun is a one-off build: a fresh BuildKit in a container of its own
// (buildctl-daemonless.sh), removed when the build ends, as repro-build runs
// it.
func (o *Options) podmanRun(dests []string) []string {
	args := []string{"run", "--rm", "--name", containerName(dests[0])}
	for _, l := range o.Labels {
		args = append(args, "--label", l)
	}
	if o.HostNetwork {
		args = append(args, "--network", "host")
	}
	if !o.NoCache {
		args = append(args, "-v", CacheVolume+":"+podCache)
	}
	inside := make([]string, len(dests))
	for i, d := range dests {
		dir := podImage + strconv.Itoa(i)
		args = append(args, "-v", filepath.Dir(d)+":"+dir)
		inside[i] = dir + "/" + filepath.Base(d)
	}
	args = append(args, "-v", o.Context+":"+podContext+":ro", "--entrypoint", "buildctl-daemonless.sh")
	if o.Rootless {
		args = append(args, o.builder().isolation()...)
		args = append(args, "-e", "BUILDKITD_FLAGS=--oci-worker-no-process-sandbox")
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
	args = append(args, podmanImage(o.BuildKitImage))
	// The entrypoint is buildctl's wrapper: buildctl's own name is not passed.
	args = append(args, o.buildctlBuild(podContext, dockerfileDir, "", inside)[1:]...)
	if !o.NoCache {
		args = append(args, "--export-cache", "type=local,mode=max,dest="+podCache,
			"--import-cache", "type=local,src="+podCache)
	}
	return append(args, o.BuildKitArgs...)
}

// podmanExec builds on a started Builder (podman exec of its buildctl),
// which sees the context and the outputs' folders at their own paths.
func (o *Options) podmanExec(dests []string) []string {
	dockerfileDir, filename := o.Context, ""
	if o.File != "" {
		dockerfileDir, filename = filepath.Dir(o.File), filepath.Base(o.File)
	}
	args := append([]string{"exec", o.Builder}, o.buildctlBuild(o.Context, dockerfileDir, filename, dests)...)
	return append(args, o.BuildKitArgs...)
}

// buildctlBuild is the buildctl command of a build whose context, Dockerfile
// folder and outputs are at these paths where buildctl runs.
func (o *Options) buildctlBuild(context, dockerfileDir, filename string, dests []string) []string {
	args := []string{"buildctl", "build", "--frontend", "dockerfile.v0"}
	if IsGitContext(context) {
		// The frontend fetches a remote context and reads its Dockerfile
		// from it (BuildKit's README: --opt context=<git URL>).
		args = append(args, "--opt", "context="+context)
	} else {
		args = append(args, "--local", "context="+context, "--local", "dockerfile="+dockerfileDir)
	}
	if filename != "" && filename != "Dockerfile" {
		args = append(args, "--opt", "filename="+filename)
	}
	args = append(args, "--opt", "build-arg:SOURCE_DATE_EPOCH="+strconv.FormatInt(o.SourceDateEpoch, 10))
	for _, a := range o.BuildArgs {
		args = append(args, "--opt", "build-arg:"+a)
	}
	for i, out := range o.Outputs {
		spec := out.spec(dests[i])
		if o.Tag != "" {
			spec += ",name=" + o.Tag
		}
		for _, a := range o.Annotations {
			spec += ",annotation." + a
		}
		args = append(args, "--output", spec)
	}
	if o.NoCache {
		args = append(args, "--no-cache")
	}
	if o.Platform != "" {
		args = append(args, "--opt", "platform="+o.Platform)
	}
	return args
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

package build

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/repro-matrix/repro-matrix/internal/engine"
)

// fixture returns options for a context folder with a Dockerfile.
func fixture(t *testing.T, rt engine.Kind) Options {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644)
	return Options{Runtime: rt, Context: dir, Outputs: []Output{{Path: filepath.Join(dir, "image.tar")}}, SourceDateEpoch: 1700000000,
		BuildKitImage: "moby/buildkit:v0.19.0"}
}

func TestValidateRefusesWhatTheRuntimeCannotHonour(t *testing.T) {
	cases := []struct {
		name   string
		rt     engine.Kind
		change func(*Options)
		want   Option
	}{
		{"rootless docker", engine.Docker, func(o *Options) { o.Rootless = true }, OptRootless},
		{"buildkit args docker", engine.Docker, func(o *Options) { o.BuildKitArgs = []string{"--debug"} }, OptBuildKitArgs},
		{"buildx args podman", engine.Podman, func(o *Options) { o.BuildxArgs = []string{"--debug"} }, OptBuildxArgs},
		{"labels docker", engine.Docker, func(o *Options) { o.Labels = []string{"a=b"} }, OptLabel},
	}
	for _, c := range cases {
		o := fixture(t, c.rt)
		c.change(&o)
		err := o.Validate()
		if !errors.Is(err, ErrUnsupported) || !slices.Equal(refused(err), []Option{c.want}) {
			t.Errorf("%s: err %v, want ErrUnsupported for %s alone", c.name, err, c.want)
		}
	}
}

func TestValidateNamesBadInput(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Options)
		want   Option
	}{
		{"runtime", func(o *Options) { o.Runtime = "rkt" }, OptRuntime},
		{"context", func(o *Options) { o.Context = "/nonexistent" }, OptContext},
		{"file", func(o *Options) { o.File = "/nonexistent/Dockerfile" }, OptFile},
		{"output", func(o *Options) { o.Outputs[0].Path = "/nonexistent/dir/x.tar" }, OptOutput},
		{"no output", func(o *Options) { o.Outputs = nil }, OptOutput},
		{"two outputs to one path", func(o *Options) { o.Outputs = append(o.Outputs, o.Outputs[0]) }, OptOutput},
		{"image", func(o *Options) { o.BuildKitImage = "UPPER/Case::" }, OptBuildKitImage},
		{"exporter", func(o *Options) { o.Outputs[0].Exporter = "tar" }, OptExporter},
		{"build arg", func(o *Options) { o.BuildArgs = []string{"NOEQUALS"} }, OptBuildArg},
		{"sde as build arg", func(o *Options) { o.BuildArgs = []string{"SOURCE_DATE_EPOCH=1"} }, OptBuildArg},
		{"annotation", func(o *Options) { o.Annotations = []string{"=v"} }, OptAnnotation},
		{"config", func(o *Options) { o.BuildkitdConfig = "/nonexistent.toml" }, OptBuildkitdConfig},
	}
	for _, c := range cases {
		o := fixture(t, engine.Docker)
		c.change(&o)
		err := o.Validate()
		if !slices.Equal(refused(err), []Option{c.want}) || !strings.HasPrefix(err.Error(), string(c.want)) {
			t.Errorf("%s: err %v, want one refusing %s", c.name, err, c.want)
		}
	}
}

// refused lists the options a Validate error refuses, in order.
func refused(err error) []Option {
	var out []Option
	for _, e := range unjoin(err) {
		var oe *OptionError
		if errors.As(e, &oe) {
			out = append(out, oe.Option)
		}
	}
	return out
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

func TestDockerPlan(t *testing.T) {
	o := fixture(t, engine.Docker)
	o.Tag, o.Platform, o.NoCache, o.HostNetwork = "app:1", "linux/arm64", true, true
	o.BuildArgs, o.Annotations = []string{"A=1"}, []string{"org.opencontainers.image.title=x"}
	o.Outputs[0].Exporter = ExporterOCI
	yes := true
	o.Outputs[0].OCIMediaTypes = &yes
	o.BuildxArgs = []string{"--progress=plain"}
	var out bytes.Buffer
	if err := DryRun(&out, o); err != nil {
		t.Fatal(err)
	}
	b := o.builderName()
	want := []string{
		"# unless `docker buildx inspect " + b + "` succeeds:",
		"docker buildx create --name " + b + " --driver docker-container --driver-opt image=moby/buildkit:v0.19.0 --driver-opt network=host",
		"docker buildx --builder " + b + " build --build-arg SOURCE_DATE_EPOCH=1700000000 --build-arg A=1 --annotation org.opencontainers.image.title=x" +
			" --provenance false --output type=oci,dest=" + o.Outputs[0].Path + ",rewrite-timestamp=true,oci-mediatypes=true --no-cache --pull -t app:1 --platform linux/arm64 --progress=plain " + o.Context,
	}
	if got := strings.Split(strings.TrimSpace(out.String()), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("dry run:\n%s\nwant:\n%s", out.String(), strings.Join(want, "\n"))
	}
	if !strings.HasPrefix(b, "repro-matrix-build-") {
		t.Errorf("builder %s does not start with repro-matrix", b)
	}
}

func TestBuilderNameFollowsImageAndConfig(t *testing.T) {
	o := fixture(t, engine.Docker)
	a := o.builderName()
	o.BuildKitImage = "moby/buildkit:v0.20.0"
	if o.builderName() == a {
		t.Error("same builder for two images")
	}
	cfg := filepath.Join(t.TempDir(), "buildkitd.toml")
	os.WriteFile(cfg, []byte("[registry.\"x\"]\nhttp = true\n"), 0o644)
	o.BuildkitdConfig = cfg
	b := o.builderName()
	os.WriteFile(cfg, []byte("debug = true\n"), 0o644)
	if o.builderName() == b {
		t.Error("same builder for two configs")
	}
}

func TestPodmanPlan(t *testing.T) {
	o := fixture(t, engine.Podman)
	o.Tag, o.Platform = "app:1", "linux/amd64"
	o.File = filepath.Join(o.Context, "Dockerfile")
	o.BuildArgs, o.Annotations = []string{"A=1"}, []string{"k=v"}
	o.BuildKitArgs = []string{"--progress", "plain"}
	o.Labels = []string{"org.repro-matrix.run=r1"}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	steps := o.Plan([]string{filepath.Join(filepath.Dir(o.Outputs[0].Path), ".image.tar.partial-x")})
	if len(steps) != 1 {
		t.Fatalf("want one step, got %d", len(steps))
	}
	got := steps[0].String("podman")
	for _, want := range []string{
		"podman run --rm --name repro-matrix-build-image-tar-partial-x --label org.repro-matrix.run=r1",
		"-v " + CacheVolume + ":/tmp/cache",
		"-v " + o.Context + ":/tmp/work:ro",
		"--entrypoint buildctl-daemonless.sh --privileged",
		"-v " + o.File + ":/tmp/dockerfile/Dockerfile:ro",
		"docker.io/moby/buildkit:v0.19.0 build --frontend dockerfile.v0 --local context=/tmp/work --local dockerfile=/tmp/dockerfile",
		"--opt build-arg:SOURCE_DATE_EPOCH=1700000000 --opt build-arg:A=1",
		"--output type=docker,dest=/tmp/image0/.image.tar.partial-x,rewrite-timestamp=true,name=app:1,annotation.k=v",
		"--opt platform=linux/amd64 --export-cache type=local,mode=max,dest=/tmp/cache --import-cache type=local,src=/tmp/cache --progress plain",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("podman command lacks %q:\n%s", want, got)
		}
	}
}

func TestPodmanRootlessAndNoCache(t *testing.T) {
	o := fixture(t, engine.Podman)
	o.Rootless, o.NoCache = true, true
	o.BuildKitImage = "localhost/repro-matrix/buildkit:v0.19.0-rootless"
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	got := o.Plan([]string{"/out/.x"})[0].String("podman")
	for _, want := range []string{"--userns keep-id:uid=1000,gid=1000", "seccomp=unconfined", "BUILDKITD_FLAGS=--oci-worker-no-process-sandbox",
		" localhost/repro-matrix/buildkit:v0.19.0-rootless build", "--no-cache"} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q:\n%s", want, got)
		}
	}
	for _, not := range []string{"--privileged", CacheVolume} {
		if strings.Contains(got, not) {
			t.Errorf("has %q:\n%s", not, got)
		}
	}
}

// TestRootlessDefaultsToTheRootlessVariant: a rootless build that names no
// image runs repro-build's rootless pin, a rootful one its pin.
func TestRootlessDefaultsToTheRootlessVariant(t *testing.T) {
	for rootless, want := range map[bool]string{false: DefaultBuildKitImage, true: DefaultBuildKitRootlessImage} {
		o := fixture(t, engine.Podman)
		o.Rootless, o.BuildKitImage = rootless, ""
		if err := o.Validate(); err != nil || o.BuildKitImage != want {
			t.Errorf("rootless %v: image %q (%v), want %s", rootless, o.BuildKitImage, err, want)
		}
	}
}

func TestPodmanImage(t *testing.T) {
	for in, want := range map[string]string{
		"moby/buildkit:v0.19.0":                   "docker.io/moby/buildkit:v0.19.0",
		"docker.io/moby/buildkit:v0.19.0":         "docker.io/moby/buildkit:v0.19.0",
		"localhost/repro-matrix/buildkit:v1":      "localhost/repro-matrix/buildkit:v1",
		"127.0.0.1:5000/buildkit:v1":              "127.0.0.1:5000/buildkit:v1",
		"quay.io/x/buildkit@sha256:" + hex64('a'): "quay.io/x/buildkit@sha256:" + hex64('a'),
		"buildkit": "docker.io/buildkit",
	} {
		if got := podmanImage(in); got != want {
			t.Errorf("podmanImage(%s) = %s, want %s", in, got, want)
		}
	}
}

func hex64(c byte) string { return strings.Repeat(string(c), 64) }

func TestShellJoin(t *testing.T) {
	got := shellJoin([]string{"a", "b c", "it's", "", "x=1,y=2"})
	if want := `a 'b c' 'it'\''s' '' x=1,y=2`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestOneSolveSeveralOutputs(t *testing.T) {
	for _, rt := range []engine.Kind{engine.Docker, engine.Podman} {
		o := fixture(t, rt)
		o.Builder = "repro-matrix-run-x"
		no := false
		o.Outputs = append(o.Outputs, Output{Path: filepath.Join(o.Context, "oci.tar"), Exporter: ExporterOCI, OCIMediaTypes: &no})
		if err := o.Validate(); err != nil {
			t.Fatal(err)
		}
		steps := o.Plan([]string{"/w/a/.image.tar.p", "/w/b/.oci.tar.p"})
		got := steps[len(steps)-1].String(string(rt))
		for _, want := range []string{
			"--output type=docker,dest=/w/a/.image.tar.p,rewrite-timestamp=true --output type=oci,dest=/w/b/.oci.tar.p,rewrite-timestamp=true,oci-mediatypes=false",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("%s: lacks %q:\n%s", rt, want, got)
			}
		}
		if rt == engine.Podman && !strings.HasPrefix(got, "podman exec repro-matrix-run-x buildctl build --frontend dockerfile.v0 --local context="+o.Context+" --local dockerfile="+o.Context+" ") {
			t.Errorf("a podman build on a started builder runs its buildctl:\n%s", got)
		}
	}
}

func TestBuilderStartsBuildKit(t *testing.T) {
	b := Builder{Name: "bk", Runtime: engine.Podman, BuildKitImage: "moby/buildkit:v0.19.0", HostNetwork: true,
		Labels: []string{"org.repro-matrix.run=r1"}, Mounts: []string{"/work", "/fixtures"}}
	want := "run -d --name bk --label org.repro-matrix.run=r1 --network host -v /work:/work -v /fixtures:/fixtures --privileged docker.io/moby/buildkit:v0.19.0"
	if got := strings.Join(b.podmanRun(), " "); got != want {
		t.Errorf("podman builder:\n%s\nwant:\n%s", got, want)
	}
	b.Rootless = true
	if got := strings.Join(b.podmanRun(), " "); !strings.Contains(got, "--userns keep-id:uid=1000,gid=1000") || !strings.HasSuffix(got, " --oci-worker-no-process-sandbox") {
		t.Errorf("rootless podman builder: %s", got)
	}
	d := Builder{Name: "bk", Runtime: engine.Docker, BuildKitImage: "moby/buildkit:v0.19.0", HostNetwork: true}
	if got := strings.Join(d.buildxCreate(), " "); got != "buildx create --name bk --driver docker-container --driver-opt image=moby/buildkit:v0.19.0 --driver-opt network=host" {
		t.Errorf("docker builder: %s", got)
	}
	b.BuildkitdFlags, d.BuildkitdFlags = []string{"--oci-worker-binary=/x"}, []string{"--oci-worker-binary=/x"}
	if got := strings.Join(b.podmanRun(), " "); !strings.HasSuffix(got, " --oci-worker-no-process-sandbox --oci-worker-binary=/x") {
		t.Errorf("podman builder with flags: %s", got)
	}
	if got := d.buildxCreate(); !slices.Equal(got[len(got)-2:], []string{"--buildkitd-flags", "--allow-insecure-entitlement=network.host --oci-worker-binary=/x"}) {
		t.Errorf("docker builder with flags: %q", got)
	}
}

func TestSharesSolve(t *testing.T) {
	for _, c := range []struct {
		rt         engine.Kind
		bk, buildx string
		want       bool
	}{
		{engine.Docker, "v0.19.0", "0.29.1+ds1", true},
		{engine.Docker, "v0.19.0", "v0.13.1", true},
		{engine.Docker, "v0.19.0", "0.12.1", false},
		{engine.Docker, "v0.12.5", "0.29.1", false},
		{engine.Docker, "v0.19.0", "", false},
		{engine.Podman, "v0.13.0", "", true},
		{engine.Podman, "v0.12.5", "", false},
		{engine.Podman, "latest", "", false},
	} {
		if got := SharesSolve(c.rt, c.bk, c.buildx); got != c.want {
			t.Errorf("SharesSolve(%s, %s, %q) = %t", c.rt, c.bk, c.buildx, got)
		}
	}
}

// TestGitContext: a git context on loopback reaches buildx as the context
// argument and buildctl as the frontend's context option, with no local
// folders; a non-loopback host, a Dockerfile beside it or a one-off Podman
// build is refused.
func TestGitContext(t *testing.T) {
	const url = "http://127.0.0.1:34567/git-context.git#main"
	o := fixture(t, engine.Docker)
	o.Context = url
	if err := o.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	steps := o.Plan([]string{"/tmp/x.tar"})
	args := steps[len(steps)-1].Args
	if args[len(args)-1] != url || slices.Contains(args, "-f") {
		t.Errorf("buildx: %q", args)
	}
	p := fixture(t, engine.Podman)
	p.Context, p.Builder = url, "repro-matrix-kept"
	if err := p.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	args = p.Plan([]string{"/tmp/x.tar"})[0].Args
	if !slices.Contains(args, "context="+url) || slices.Contains(args, "--local") {
		t.Errorf("buildctl: %q", args)
	}
	for _, bad := range []func(*Options){
		func(o *Options) { o.Context = "http://10.0.0.1/x.git" },
		func(o *Options) { o.Context = "https://github.com/moby/buildkit.git" },
		func(o *Options) { o.File = filepath.Join(t.TempDir(), "Dockerfile"); os.WriteFile(o.File, nil, 0o644) },
		func(o *Options) { o.Runtime, o.Builder = engine.Podman, "" },
	} {
		o := fixture(t, engine.Docker)
		o.Context = url
		bad(&o)
		var oe *OptionError
		if err := o.Validate(); !errors.As(err, &oe) {
			t.Errorf("Validate accepted %s (file %q, runtime %s): %v", o.Context, o.File, o.Runtime, err)
		}
	}
}

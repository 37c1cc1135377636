package engine

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestCheckVersion(t *testing.T) {
	s := Spec{Name: "docker-26.1", Kind: Docker, Version: "26.1"}
	for running, ok := range map[string]bool{"26.1.5": true, "26.1": true, "26.10.1": false, "26.2.0": false, "": false} {
		if err := checkVersion(s, running); (err == nil) != ok {
			t.Errorf("declared 26.1, running %q: %v", running, err)
		}
	}
	err := checkVersion(Spec{Name: "podman-5.4.2", Kind: Podman, Version: "5.4.2"}, "5.8.6")
	if err == nil || !strings.Contains(err.Error(), "podman-5.4.2") || !strings.Contains(err.Error(), "5.8.6") {
		t.Errorf("mismatch error does not name the engine and versions: %v", err)
	}
}

func TestHandleJSONRoundTrip(t *testing.T) {
	for _, h := range []Handle{
		{Name: "docker-20.10.24", Kind: Docker, Version: "20.10.24", Host: true},
		{Name: "docker-26.1.5", Kind: Docker, Version: "26.1.5", Container: "repro-matrix-r1-docker-26.1.5",
			Socket: "/tmp/run/engines/docker-26.1.5/docker.sock", Dir: "/tmp/run/engines/docker-26.1.5",
			Image: "localhost/repro-matrix/docker:26.1.5-trixie", Registry: "127.0.0.1:5000", RegistryPush: "127.0.0.1:41234"},
		{Name: "podman-5.4.2", Kind: Podman, Version: "5.4.2", Container: "repro-matrix-r1-podman-5.4.2", Dir: "/tmp/run/engines/podman-5.4.2"},
	} {
		b, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		var got Handle
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, h) {
			t.Errorf("round trip of %s: %+v, want %+v (%s)", h.Name, got, h, b)
		}
		if h.Host && strings.Contains(string(b), "socket") {
			t.Errorf("a host handle carries container fields: %s", b)
		}
	}
}

func TestConnectRefusesIncompleteHandle(t *testing.T) {
	_, err := Connect(context.Background(), Handle{Name: "docker-26.1.5", Kind: Docker, Version: "26.1.5", Container: "c"})
	if err == nil || !strings.Contains(err.Error(), "docker-26.1.5") {
		t.Errorf("a docker handle without socket: %v", err)
	}
}

func TestResourceNames(t *testing.T) {
	r, err := resourceNames(Spec{Name: "docker-26.1.5", Kind: Docker, RunID: "20261127-052100-abcdef", Dir: "/tmp/run"})
	if err != nil {
		t.Fatal(err)
	}
	want := resources{
		Container: "repro-matrix-20261127-052100-abcdef-docker-26.1.5",
		Network:   "repro-matrix-20261127-052100-abcdef-docker-26.1.5",
		Volume:    "repro-matrix-20261127-052100-abcdef-docker-26.1.5-store",
		Dir:       "/tmp/run/engines/docker-26.1.5",
	}
	if r != want {
		t.Errorf("docker: %+v, want %+v", r, want)
	}
	r, err = resourceNames(Spec{Name: "podman 5.4/x", Kind: Podman, RunID: "r1", Dir: "/tmp/run"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Network != "" || r.Container != "repro-matrix-r1-podman-5.4-x" {
		t.Errorf("podman: %+v", r)
	}
	if _, err := resourceNames(Spec{Name: "x", Kind: Docker, Dir: "/tmp"}); err == nil {
		t.Error("no run id accepted")
	}
	if _, err := resourceNames(Spec{Name: "x", Kind: Docker, RunID: "r"}); err == nil {
		t.Error("no folder accepted")
	}
}

func TestSocketPathLength(t *testing.T) {
	if _, err := socketPath("/tmp/run/engines/docker-26.1.5"); err != nil {
		t.Error(err)
	}
	long := "/" + strings.Repeat("x", 100)
	if _, err := socketPath(long); err == nil || !strings.Contains(err.Error(), "shorter run folder") {
		t.Errorf("long path: %v", err)
	}
}

func TestStartInContainerNeedsRunID(t *testing.T) {
	e, _, err := Start(context.Background(), Spec{Name: "docker-26.1.5", Kind: Docker, Version: "26.1.5", InContainer: true, Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "run id") {
		t.Errorf("no run id: %v", err)
	}
	if e != nil {
		t.Errorf("nothing was created, got an engine %v", e)
	}
}

func TestSameMounts(t *testing.T) {
	got := sameMounts(Spec{Kind: Podman, Dir: "/run/x", Mounts: []string{"/fixtures", "/run/x", "", "/fixtures/"}})
	if want := []string{"/run/x", "/fixtures"}; !slices.Equal(got, want) {
		t.Errorf("podman: %v, want %v", got, want)
	}
	if got := sameMounts(Spec{Kind: Docker, Dir: "/run/x"}); len(got) != 0 {
		t.Errorf("docker needs no run folder inside: %v", got)
	}
}

func TestCommandLines(t *testing.T) {
	p := &containerEngine{h: Handle{Name: "podman-5.4.2", Kind: Podman, Container: "repro-matrix-r-podman-5.4.2"}}
	name, args, _ := p.commandLine([]string{"run", "--rm", "x"})
	if got := name + " " + strings.Join(args, " "); got != "docker exec -i repro-matrix-r-podman-5.4.2 podman run --rm x" {
		t.Errorf("podman: %s", got)
	}
	d := &containerEngine{h: Handle{Name: "docker-26.1.5", Kind: Docker, Socket: "/r/e/docker.sock", Dir: "/r/e"}}
	name, args, env := d.commandLine([]string{"buildx", "ls"})
	if name != "docker" || !slices.Equal(args, []string{"buildx", "ls"}) {
		t.Errorf("docker: %s %v", name, args)
	}
	if !slices.Contains(env, "DOCKER_HOST=unix:///r/e/docker.sock") || !slices.Contains(env, "BUILDX_CONFIG=/r/e/buildx") {
		t.Errorf("docker env lacks the socket or buildx config")
	}
}

func TestDockerEnvDropsOtherEngines(t *testing.T) {
	env := dockerEnv([]string{"PATH=/bin", "DOCKER_HOST=tcp://1.2.3.4:2375", "DOCKER_CONTEXT=laptop", "DOCKER_TLS_VERIFY=1", "HOME=/root"}, "/s/docker.sock", "/s/buildx")
	want := []string{"PATH=/bin", "HOME=/root", "DOCKER_HOST=unix:///s/docker.sock", "BUILDX_CONFIG=/s/buildx"}
	if !slices.Equal(env, want) {
		t.Errorf("dockerEnv = %v, want %v", env, want)
	}
	// A cell's own buildx folder (WithEnv) comes after and wins.
	cmd := WithEnv(&containerEngine{h: Handle{Kind: Docker, Socket: "/s/docker.sock", Dir: "/s"}}, "BUILDX_CONFIG=/cell/buildx").Command(context.Background(), "version")
	if last := cmd.Env[len(cmd.Env)-1]; last != "BUILDX_CONFIG=/cell/buildx" {
		t.Errorf("cell env not last: %s", last)
	}
}

func TestLocalRef(t *testing.T) {
	h := Handle{Name: "docker-26.1.5", Registry: "127.0.0.1:5000", RegistryPush: "127.0.0.1:41234"}
	ref := "127.0.0.1:39999/library/debian:bookworm-amd64@sha256:abc"
	if got := h.LocalRef(ref, "127.0.0.1:39999"); got != "127.0.0.1:5000/library/debian:bookworm-amd64@sha256:abc" {
		t.Errorf("LocalRef = %s", got)
	}
	if got := h.LocalRef("docker.io/library/debian:12", "127.0.0.1:39999"); got != "docker.io/library/debian:12" {
		t.Errorf("other registry rewritten: %s", got)
	}
	if got := (Handle{}).LocalRef(ref, "127.0.0.1:39999"); got != ref {
		t.Errorf("engine without registry rewrote: %s", got)
	}
	if _, err := (Handle{Name: "podman-5.4.2"}).Push(context.Background(), "x.tar", "r", "t"); err == nil || !strings.Contains(err.Error(), "podman-5.4.2") {
		t.Errorf("push without registry: %v", err)
	}
}

func TestSameID(t *testing.T) {
	id := "sha256:c435ffb56e3f0000000000000000000000000000000000000000000000000000"
	for got, ok := range map[string]bool{id + "\n": true, strings.TrimPrefix(id, "sha256:") + "\n": true, "": false, "sha256:00": false} {
		if sameID(got, id) != ok {
			t.Errorf("sameID(%q) != %v", got, ok)
		}
	}
}

func TestContainerStateString(t *testing.T) {
	s := containerState{Status: "exited", ExitCode: 137}
	if got := s.String(); got != "exited (exit code 137, killed)" {
		t.Errorf("state: %s", got)
	}
}

// deadEngine is an engine whose container died.
type deadEngine struct{ Engine }

func (deadEngine) Name() string { return "docker-26.1.5" }
func (deadEngine) Alive(context.Context) error {
	return errors.New("engine docker-26.1.5: engine does not answer: container c is exited (exit code 137, killed)")
}
func (deadEngine) Logs(context.Context, int) (string, error) {
	return "level=info msg=\"Processing signal 'terminated'\"", nil
}

type liveEngine struct{ Engine }

func (liveEngine) Alive(context.Context) error { return nil }

func TestExplain(t *testing.T) {
	buildErr := errors.New("docker buildx build: exit status 1: EOF")
	err := Explain(context.Background(), deadEngine{}, buildErr)
	if !errors.Is(err, ErrEngineDied) || !errors.Is(err, buildErr) {
		t.Errorf("Explain does not wrap both: %v", err)
	}
	for _, want := range []string{"engine docker-26.1.5 died", "exit code 137", "Processing signal", "EOF"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Explain lacks %q: %v", want, err)
		}
	}
	if got := Explain(context.Background(), liveEngine{}, buildErr); got != buildErr {
		t.Errorf("alive engine: %v", got)
	}
	if Explain(context.Background(), deadEngine{}, nil) != nil {
		t.Error("nil error explained")
	}
}

func TestHostLogsTail(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	var b strings.Builder
	for i := range 100 {
		b.WriteString("line " + string(rune('a'+i%26)) + "\n")
	}
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := readTail(p, 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	if got := lastLines(string(data), 3); got != "line t\nline u\nline v" {
		t.Errorf("tail: %q", got)
	}
}

func TestBuildxVersion(t *testing.T) {
	for out, want := range map[string]string{
		"github.com/docker/buildx 0.29.1+ds1 0.29.1+ds1-4\n":   "0.29.1+ds1",
		"github.com/docker/buildx v0.13.1 788433953af10f2a6\n": "v0.13.1",
		"weird": "weird",
	} {
		if got := buildxVersion(out); got != want {
			t.Errorf("buildxVersion(%q) = %q, want %q", out, got, want)
		}
	}
}

func TestRootlessPodmanRunsAsItsUser(t *testing.T) {
	u := &user.User{Username: "rl", HomeDir: "/home/rl"}
	h := &host{kind: Podman, version: "4.3.1", user: u}
	cmd := h.Command(context.Background(), "info")
	if want := []string{"runuser", "-u", "rl", "--", "podman", "info"}; !slices.Equal(cmd.Args, want) {
		t.Errorf("args %v, want %v", cmd.Args, want)
	}
	if cmd.Dir != "/home/rl" || !slices.Contains(cmd.Env, "HOME=/home/rl") || slices.Contains(cmd.Env, "HOME="+os.Getenv("HOME")) {
		t.Errorf("dir %s, env %v", cmd.Dir, cmd.Env)
	}
	if h.Name() != "podman-4.3.1-rootless" {
		t.Errorf("name %s", h.Name())
	}
	if _, err := HostAs(context.Background(), Docker, "rl"); err == nil {
		t.Error("rootless Docker accepted")
	}
}

func TestClientEnvironment(t *testing.T) {
	environ := []string{"PATH=/bin", "DOCKER_CONFIG=/root/.docker", "HOME=/root"}
	if got := (Client{}).env(environ); !slices.Equal(got, environ) {
		t.Errorf("the host's client changed the environment: %q", got)
	}
	got := Client{Config: "/cache/docker-config/x"}.env(environ)
	want := []string{"PATH=/bin", "HOME=/root", "DOCKER_CONFIG=/cache/docker-config/x"}
	if !slices.Equal(got, want) {
		t.Errorf("env = %q, want %q", got, want)
	}
	if environ[1] != "DOCKER_CONFIG=/root/.docker" {
		t.Error("env changed its argument")
	}
	if p := (Client{}).program(); p != "docker" {
		t.Errorf("program = %q, want docker", p)
	}
	if p := (Client{Docker: "/cache/docker"}).program(); p != "/cache/docker" {
		t.Errorf("program = %q", p)
	}
}

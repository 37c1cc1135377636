package provision

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestDebianUpstream(t *testing.T) {
	for in, want := range map[string]string{
		"26.1.5+dfsg1-9+deb13u1+b1": "26.1.5",
		"5.4.2+ds1-2+b2":            "5.4.2",
		"28.5.2+dfsg4-5":            "28.5.2",
		"1:2.3~rc1-1":               "2.3",
		"20.10.24+dfsg1-1+deb12u1":  "20.10.24",
		"1.0":                       "1.0",
	} {
		if got := debianUpstream(in); got != want {
			t.Errorf("debianUpstream(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStatusVersion(t *testing.T) {
	status := `Package: docker.io-doc
Status: install ok installed
Version: 1.0

Package: docker.io
Status: deinstall ok config-files
Version: 20.10.24+dfsg1-1

Package: docker.io
Status: install ok installed
Priority: optional
Version: 26.1.5+dfsg1-9+deb13u1+b1
Description: Linux container runtime
 docker.io: a continuation line

Package: podman
Status: install ok installed
Version: 5.4.2+ds1-2+b2`
	for pkg, want := range map[string]string{"docker.io": "26.1.5+dfsg1-9+deb13u1+b1", "podman": "5.4.2+ds1-2+b2"} {
		got, ok := statusVersion(strings.NewReader(status), pkg)
		if !ok || got != want {
			t.Errorf("statusVersion(%s) = %q, %v; want %q", pkg, got, ok, want)
		}
	}
	if v, ok := statusVersion(strings.NewReader(status), "runc"); ok {
		t.Errorf("runc is not installed, got %q", v)
	}
}

func TestEngineSuite(t *testing.T) {
	if s, err := EngineSuite("docker", "26.1.5"); err != nil || s != "trixie" {
		t.Errorf("docker 26.1.5: %q, %v", s, err)
	}
	if s, err := EngineSuite("podman", "5.8.6"); err != nil || s != "forky" {
		t.Errorf("podman 5.8.6: %q, %v", s, err)
	}
	if _, err := EngineSuite("docker", "99.0.0"); err == nil || !strings.Contains(err.Error(), "offline.suite") {
		t.Errorf("unknown version: %v", err)
	}
}

func TestEngineRecipeDefaults(t *testing.T) {
	r := EngineRecipe{Kind: "docker", Suite: "trixie"}
	if err := r.defaults(); err != nil || r.Package != "docker.io" {
		t.Errorf("docker defaults: %+v, %v", r, err)
	}
	r = EngineRecipe{Kind: "podman", Suite: "forky"}
	if err := r.defaults(); err != nil || r.Package != "podman" {
		t.Errorf("podman defaults: %+v, %v", r, err)
	}
	if err := (&EngineRecipe{Kind: "lxc", Suite: "trixie"}).defaults(); err == nil {
		t.Error("kind lxc accepted")
	}
	if err := (&EngineRecipe{Kind: "docker"}).defaults(); err == nil {
		t.Error("no suite accepted")
	}
}

// fakeHost is what an entrypoint detects, for a dry run.
type fakeHost struct {
	capBnd  string // CapBnd of /proc/self/status
	lastCap string
	v2      bool
	nofile  string
	nproc   string
}

// dryRun runs an engine image's entrypoint in dry-run mode against a fake
// host and returns its output (stdout) and messages (stderr).
func dryRun(t *testing.T, kind string, h fakeHost, env ...string) (string, string) {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "entrypoint")
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(script, EntrypointScript(kind))
	write(filepath.Join(dir, "status"), "Name:\tbash\nCapInh:\t0000000000000000\nCapBnd:\t"+h.capBnd+"\nCapAmb:\t0000000000000000\n")
	write(filepath.Join(dir, "cap_last_cap"), h.lastCap+"\n")
	cg := filepath.Join(dir, "cgroup")
	if err := os.MkdirAll(cg, 0o755); err != nil {
		t.Fatal(err)
	}
	if h.v2 {
		write(filepath.Join(cg, "cgroup.controllers"), "cpu io memory pids\n")
	}
	// repro-runc --list-missing, faked.
	write(filepath.Join(dir, "libexec", "repro-runc"), "#!/bin/sh\necho CAP_SYS_RESOURCE\n")
	cmd := exec.Command("bash", script, "--debug")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "REPRO_DRY_RUN=1",
		"REPRO_PROC_STATUS=" + filepath.Join(dir, "status"), "REPRO_CAP_LAST_CAP=" + filepath.Join(dir, "cap_last_cap"),
		"REPRO_CGROUP_ROOT=" + cg, "REPRO_HARD_NOFILE=" + h.nofile, "REPRO_HARD_NPROC=" + h.nproc,
		"REPRO_LIBEXEC=" + filepath.Join(dir, "libexec"), "REPRO_ETC=" + filepath.Join(dir, "etc")}, env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s entrypoint: %v\n%s", kind, err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

var (
	// thisHost: CAP_SYS_RESOURCE (24) missing, cgroup v1, nofile 20000.
	thisHost = fakeHost{capBnd: "000001fffeffffff", lastCap: "40", nofile: "20000", nproc: "96365"}
	// ciHost: every capability, cgroup v2, high limits.
	ciHost = fakeHost{capBnd: "000001ffffffffff", lastCap: "40", v2: true, nofile: "1048576", nproc: "unlimited"}
)

func TestDockerEntrypointAppliesOnlyNeededFixes(t *testing.T) {
	out, msg := dryRun(t, "docker", thisHost, "REPRO_REGISTRY_ADDR=0.0.0.0:5000")
	for _, want := range []string{
		"--add-runtime repro-runc=", "/libexec/repro-runc --default-runtime repro-runc",
		"exec: dockerd --host unix:///run/repro-matrix/docker.sock --data-root /var/lib/docker",
		"sidecar: ", "repro-registry -addr 0.0.0.0:5000 -dir /var/lib/repro-registry",
		" --debug\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("this host: output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(msg, "lacks CAP_SYS_RESOURCE") {
		t.Errorf("this host: messages do not name the missing capability:\n%s", msg)
	}
	if strings.Contains(msg, "cgroup v2") {
		t.Errorf("this host is cgroup v1, got:\n%s", msg)
	}

	out, msg = dryRun(t, "docker", ciHost)
	if strings.Contains(out, "repro-runc") || strings.Contains(out, "sidecar") {
		t.Errorf("a CI host needs no wrapper and no registry was asked for:\n%s", out)
	}
	if !strings.Contains(msg, "cgroup v2: moving") {
		t.Errorf("cgroup v2 host: no nesting:\n%s", msg)
	}
}

func TestPodmanEntrypointAppliesOnlyNeededFixes(t *testing.T) {
	out, _ := dryRun(t, "podman", thisHost)
	want := "[containers]\ndefault_ulimits = [\"nofile=4096:4096\", \"nproc=4096:4096\"]\n" +
		"[engine]\nruntime = \"repro-runc\"\n[engine.runtimes]\nrepro-runc = [\""
	if !strings.HasPrefix(out, want) || !strings.HasSuffix(out, "/libexec/repro-runc\"]\n") {
		t.Errorf("this host: config\n%s\nwant prefix\n%s", out, want)
	}

	// All capabilities, cgroup v1, enough limits: only runc instead of crun.
	v1Host := fakeHost{capBnd: "000001ffffffffff", lastCap: "40", nofile: "1048576", nproc: "4194304"}
	out, _ = dryRun(t, "podman", v1Host)
	if out != "[engine]\nruntime = \"runc\"\n" {
		t.Errorf("cgroup v1 host: config\n%q", out)
	}

	out, msg := dryRun(t, "podman", ciHost)
	if out != "" {
		t.Errorf("a CI host needs no fix, got:\n%s", out)
	}
	if !strings.Contains(msg, "cgroup v2") {
		t.Errorf("cgroup v2 host: no nesting:\n%s", msg)
	}
}

func TestEntrypointScriptsParse(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	for _, kind := range []string{"docker", "podman"} {
		cmd := exec.Command("bash", "-n")
		cmd.Stdin = strings.NewReader(EntrypointScript(kind))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s entrypoint: %v\n%s", kind, err, out)
		}
	}
}

func TestSourceRoot(t *testing.T) {
	root, err := SourceRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "repro-runc", "main.go")); err != nil {
		t.Errorf("source root %s: %v", root, err)
	}
}

// TestEntrypointWithoutDirectives: the embedded scripts' shellcheck
// directives stay out of the images; everything else is kept.
func TestEntrypointWithoutDirectives(t *testing.T) {
	for _, kind := range []string{"docker", "podman"} {
		s := EntrypointScript(kind)
		if !strings.HasPrefix(s, "#!/bin/bash\n") || strings.Contains(s, shellcheckDirective) {
			t.Errorf("%s entrypoint: shebang or directives:\n%s", kind, s)
		}
	}
	in := "#!/bin/bash\n# shellcheck disable=SC2034 # why\nA=1\n\nB=2"
	if got, want := withoutDirectives(in), "#!/bin/bash\nA=1\n\nB=2"; got != want {
		t.Errorf("withoutDirectives = %q, want %q", got, want)
	}
}

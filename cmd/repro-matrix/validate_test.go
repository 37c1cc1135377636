package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// matrixCLI builds the repro-matrix binary once per top-level test, into
// the test's temporary folder. (No TestMain: several files of this package
// are written by different people, and a package has only one TestMain.)
func matrixCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "repro-matrix")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runMatrixCLI runs the binary in dir and returns its stdout, stderr and
// exit code.
func runMatrixCLI(t *testing.T, bin, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	}
	t.Fatalf("run %v: %v", args, err)
	return "", "", -1
}

const cliTestPin = `"moby/buildkit:v0.19.0@sha256:14aa1b4dd92ea0a4cd03a54d0c6079046ea98cd0c0ae6176bdd7036ba370cbbe"`

// cliTestMatrix is a valid matrix for a folder made by writeCLIMatrix:
// 2 host engines x 2 BuildKits x fixture f on 2 platforms x 2 exporters.
const cliTestMatrix = `engines:
  - {kind: docker, version: 20.10.24}
  - {kind: podman, version: 4.3.1}
buildkits:
  - {version: v0.19.0, pinned: true, image: ` + cliTestPin + `}
  - {version: latest}
fixtures:
  - {name: f, sourceDateEpoch: 7, platforms: [linux/amd64, linux/arm64]}
exporters:
  - {name: docker, type: docker}
  - {name: oci, type: oci}
profiles:
  local: {platforms: [linux/amd64]}
  all: {}
  smoke: {buildkits: ["@pinned"], platforms: [linux/amd64], exporters: [docker]}
`

// writeCLIMatrix writes matrix.yaml with the given text and a fixture
// folder fixtures/f into a new folder, and returns the folder.
func writeCLIMatrix(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "fixtures", "f"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "fixtures", "f", "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "matrix.yaml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestValidateCommand(t *testing.T) {
	bin := matrixCLI(t)

	t.Run("the repository's matrix.yaml", func(t *testing.T) {
		stdout, stderr, code := runMatrixCLI(t, bin, ".", "validate", "../../matrix.yaml")
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if !strings.Contains(stdout, "profile smoke: 2 cells") {
			t.Errorf("stdout:\n%s", stdout)
		}
	})

	t.Run("default file in the current folder", func(t *testing.T) {
		dir := writeCLIMatrix(t, cliTestMatrix)
		stdout, stderr, code := runMatrixCLI(t, bin, dir, "validate")
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		for _, want := range []string{"matrix.yaml: valid: 2 engines, 2 BuildKits, 1 fixtures, 2 exporters", "profile all: 16 cells", "profile local: 8 cells"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, stdout)
			}
		}
	})

	t.Run("every problem, with its field path", func(t *testing.T) {
		text := strings.NewReplacer(
			"buildkit:v0.19.0@", "buildkit:v19.0@",
			"{kind: podman, version: 4.3.1}", "{kind: podman, version: 4.3.1, imgae: x}",
			"platforms: [linux/amd64, linux/arm64]", "platforms: [linux/amd64, linux/arm46]",
			"exporters: [docker]", "exporters: [dockr]",
		).Replace(cliTestMatrix)
		dir := writeCLIMatrix(t, text)
		stdout, stderr, code := runMatrixCLI(t, bin, dir, "validate", "matrix.yaml")
		if code != exitUsage {
			t.Fatalf("exit %d, want %d\n%s", code, exitUsage, stderr)
		}
		if stdout != "" {
			t.Errorf("stdout: %s", stdout)
		}
		for _, want := range []string{
			"matrix.yaml: 4 problems:",
			"  engines[1].imgae: unknown field",
			`  buildkits[0].image: tag "v19.0" disagrees with version v0.19.0`,
			"  fixtures[0].platforms[1]: ",
			`  profiles.smoke.exporters[0]: "dockr" matches no exporter`,
		} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
	})

	t.Run("found only for host engines", func(t *testing.T) {
		host := writeCLIMatrix(t, strings.Replace(cliTestMatrix, "version: 4.3.1}", "version: found}", 1))
		stdout, stderr, code := runMatrixCLI(t, bin, host, "validate")
		if code != exitOK || !strings.Contains(stdout, "profile all: 16 cells") {
			t.Errorf("a host engine as found: exit %d\n%s%s", code, stdout, stderr)
		}
		container := writeCLIMatrix(t, strings.Replace(cliTestMatrix, "version: 4.3.1}", "version: found, where: container, offline: {suite: trixie}}", 1))
		_, stderr, code = runMatrixCLI(t, bin, container, "validate")
		want := `  engines[1].version: "found" is for host engines only (where: host): an engine in a container runs the version its image or Debian suite carries; declare it, e.g. 28.5.2 (line 3)`
		if code != exitUsage || !strings.Contains(stderr, "matrix.yaml: 1 problem:\n"+want+"\n") {
			t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", code, stderr, want)
		}
	})

	for name, tt := range map[string]struct {
		args []string
		want string
	}{
		"missing file": {[]string{"validate", "nope.yaml"}, "nope.yaml"},
		"not YAML":     {[]string{"validate", "bad.yaml"}, "bad.yaml: yaml: line"},
		"two files":    {[]string{"validate", "a.yaml", "b.yaml"}, "accepts at most 1 arg"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := writeCLIMatrix(t, cliTestMatrix)
			if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("engines: [\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, stderr, code := runMatrixCLI(t, bin, dir, tt.args...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, exitUsage, tt.want)
			}
		})
	}
}

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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
		"not YAML":     {[]string{"validate", "bad.yaml"}, "bad.yaml: line 1: not YAML: did not find expected node content"},
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

// The samples of ../shared/cases/matrix/ (copied to internal/matrix's
// testdata with the fixtures that make the rest of each file valid): each
// exits 2 with one error naming the file, and the field path or line.
func TestValidateCases(t *testing.T) {
	bin := matrixCLI(t)
	cases := filepath.Join("..", "..", "internal", "matrix", "testdata", "cases")
	for file, want := range map[string]string{
		"050-type-fixtures.0.sourceDateEpoch_float.yaml": "050-type-fixtures.0.sourceDateEpoch_float.yaml: 1 problem:\n  fixtures[0].sourceDateEpoch: want an integer, got the number 1.5: nothing is rounded (line 47)\n",
		"299-merge-scalar-anchor.yaml":                   "299-merge-scalar-anchor.yaml: 1 problem:\n  exporters[1].<<: a merge key (<<) takes a mapping",
		"251-latin1-byte.yaml":                           "251-latin1-byte.yaml: line 58, column 45: byte 0xE9 is not UTF-8",
		"merge-key-bomb.yaml":                            "merge-key-bomb.yaml: line 6: the list here holds more than 50000 YAML nodes once its aliases are expanded (limit nodes=50000); if the file really needs more, raise the limit with REPRO_MATRIX_LIMITS=nodes=N, or for this run with --max-nodes N\n",
	} {
		t.Run(file, func(t *testing.T) {
			stdout, stderr, code := runMatrixCLI(t, bin, ".", "validate", filepath.Join(cases, file))
			if code != exitUsage || stdout != "" || !strings.Contains(stderr, want) || strings.Count(stderr, "\n") > 2 {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit %d and:\n%s", code, stdout, stderr, exitUsage, want)
			}
		})
	}
}

// The limits: a flag of validate, or REPRO_MATRIX_LIMITS for every command.
func TestValidateLimits(t *testing.T) {
	bin := matrixCLI(t)
	dir := writeCLIMatrix(t, cliTestMatrix)
	_, stderr, code := runMatrixCLI(t, bin, dir, "validate", "--max-depth", "3")
	if code != exitUsage || !strings.Contains(stderr, "(limit depth=3)") || !strings.Contains(stderr, "--max-depth N") {
		t.Errorf("--max-depth 3: exit %d\n%s", code, stderr)
	}
	_, stderr, code = runMatrixCLI(t, bin, dir, "validate", "--max-bytes", "100")
	if code != exitUsage || !strings.Contains(stderr, "the file is larger than 100 bytes (limit bytes=100)") {
		t.Errorf("--max-bytes 100: exit %d\n%s", code, stderr)
	}
	if _, stderr, code = runMatrixCLI(t, bin, dir, "validate", "--max-nodes", "1000000", "--max-cells", "48"); code != exitOK {
		t.Errorf("limits raised or at the need: exit %d\n%s", code, stderr)
	}
	_, stderr, code = runMatrixCLI(t, bin, dir, "validate", "--max-cells", "47")
	if code != exitUsage || !strings.Contains(stderr, "48 cell checks") {
		t.Errorf("--max-cells 47: exit %d\n%s", code, stderr)
	}
	t.Setenv("REPRO_MATRIX_LIMITS", "aliases=1")
	text := strings.Replace(cliTestMatrix, "  - {name: docker, type: docker}\n", "  - &d {name: docker, type: docker}\n", 1)
	text = strings.Replace(text, "exporters: [docker]}", "exporters: [docker]}\n  x: {exporters: [*n, *n]}", 1)
	text = strings.Replace(text, "{name: docker,", "{name: &n docker,", 1)
	for _, cmd := range [][]string{{"validate"}, {"cells", "--profile", "all"}} {
		_, stderr, code = runMatrixCLI(t, bin, writeCLIMatrix(t, text), cmd...)
		if code != exitUsage || !strings.Contains(stderr, "more than 1 aliases") {
			t.Errorf("%v under REPRO_MATRIX_LIMITS=aliases=1: exit %d\n%s", cmd, code, stderr)
		}
	}
}

// Ctrl-C (SIGINT) and SIGTERM stop validate while it loads: here it waits
// for a FIFO that nobody writes.
func TestValidateInterrupted(t *testing.T) {
	bin := matrixCLI(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "matrix.yaml")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skip(err)
			}
			cmd := exec.Command(bin, "validate", fifo)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			time.Sleep(300 * time.Millisecond) // let it reach the FIFO
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				var ee *exec.ExitError
				if !errors.As(err, &ee) {
					t.Fatalf("exit: %v", err)
				}
				// Exited by itself, saying why (or, if the signal came before
				// the handler was set up, killed by it: stopped either way).
				if ee.ExitCode() != -1 && (ee.ExitCode() != exitUsage || !strings.Contains(stderr.String(), "signal received")) {
					t.Errorf("exit %d, stderr %q", ee.ExitCode(), stderr.String())
				}
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("%v did not stop the load", sig)
			}
		})
	}
}

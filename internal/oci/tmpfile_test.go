package oci

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary, run as a child, unpack the .tar.gz the
// variable names (TestTempFileUnpackHelper).
const helperEnv = "REPRO_MATRIX_OCI_UNPACK_HELPER"

// TestTempFileUnpackHelper is the child of TestNoTempFileAfterSIGKILL: it
// opens the gzip-compressed tarball named by $REPRO_MATRIX_OCI_UNPACK_HELPER
// through a reader slow enough to be killed mid-unpack. It does nothing in
// an ordinary test run.
func TestTempFileUnpackHelper(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("the child process of TestNoTempFileAfterSIGKILL")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	l, err := OpenReaderAt(context.Background(), slowReaderAt{f}, fi.Size())
	if err == nil {
		l.Close()
	}
	t.Fatalf("the unpack finished (%v): it should have been killed", err)
}

// slowReaderAt serves at most 512 bytes a call, 20 ms apart.
type slowReaderAt struct{ r io.ReaderAt }

func (s slowReaderAt) ReadAt(p []byte, off int64) (int, error) {
	time.Sleep(20 * time.Millisecond)
	return s.r.ReadAt(p[:min(len(p), 512)], off)
}

// TestNoTempFileAfterSIGKILL kills (SIGKILL) a child process while it
// unpacks a small generated .tar.gz into its temporary file, and checks that
// the child's temporary directory is empty afterwards: the file had no name
// to leave behind (issue 10, point 5).
func TestNoTempFileAfterSIGKILL(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("needs /proc to see the child's open files")
	}
	gz := bombLayout(t, 32<<20).TarGz() // about 40 KB
	input := writeTemp(t, "image.tar.gz", gz)
	tmp := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestTempFileUnpackHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+input, "TMPDIR="+tmp)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	held, err := waitForFileIn(cmd.Process.Pid, tmp, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the child holds %s open; killing it", held)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the child ended with %v before it was killed", err)
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("left behind after SIGKILL: %s", filepath.Join(tmp, e.Name()))
	}
}

// waitForFileIn polls /proc/PID/fd until the process has a file under dir
// open, and returns what the descriptor points to.
func waitForFileIn(pid int, dir string, timeout time.Duration) (string, error) {
	fds := fmt.Sprintf("/proc/%d/fd", pid)
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		ents, _ := os.ReadDir(fds)
		for _, e := range ents {
			target, err := os.Readlink(filepath.Join(fds, e.Name()))
			if err == nil && strings.HasPrefix(target, dir+string(filepath.Separator)) {
				return target, nil
			}
		}
	}
	return "", fmt.Errorf("the child never opened a file under %s within %s", dir, timeout)
}

// TestAnonymousFileHasNoName: the temporary file is gone from its directory
// while it is still open and usable.
func TestAnonymousFileHasNoName(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	f, err := anonymousFile()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("data"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := f.ReadAt(buf, 0); err != nil || string(buf) != "data" {
		t.Fatalf("read back %q, %v", buf, err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the open temporary file has a name: %v", left)
	}
}

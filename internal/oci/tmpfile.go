package oci

import (
	"fmt"
	"os"
)

// anonymousFile returns a new read-write file in os.TempDir() that has no
// name in the file system, so that nothing of it outlives the process, even
// one killed with SIGKILL: its space is freed when the last descriptor
// closes. On Linux it is opened with O_TMPFILE, which never gives it a name
// at all; elsewhere, or where the file system refuses O_TMPFILE, it is
// created with a random name and unlinked at once, which leaves only the
// instant between the two system calls.
func anonymousFile() (*os.File, error) {
	dir := os.TempDir()
	if f, err := openUnnamed(dir); err == nil {
		return f, nil
	}
	f, err := os.CreateTemp(dir, "repro-matrix-oci-*.tar")
	if err != nil {
		return nil, fmt.Errorf("temporary file: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("temporary file: unlink %s: %w", f.Name(), err)
	}
	return f, nil
}

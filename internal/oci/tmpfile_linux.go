package oci

import (
	"os"
	"syscall"
)

// oTmpfile is Linux's O_TMPFILE (__O_TMPFILE | O_DIRECTORY): the value of
// asm-generic/fcntl.h, which every architecture Go supports on Linux uses.
const oTmpfile = 0o20000000 | syscall.O_DIRECTORY

// openUnnamed opens an unnamed regular file in dir (open(2), O_TMPFILE).
func openUnnamed(dir string) (*os.File, error) {
	return os.OpenFile(dir, os.O_RDWR|oTmpfile, 0o600)
}

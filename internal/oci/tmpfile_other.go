//go:build !linux

package oci

import (
	"errors"
	"os"
)

// openUnnamed is Linux only; elsewhere anonymousFile unlinks a named file.
func openUnnamed(string) (*os.File, error) {
	return nil, errors.New("O_TMPFILE is Linux only")
}

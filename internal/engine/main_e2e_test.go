//go:build e2e

package engine_test

import (
	"os"
	"testing"
)

// TestMain disables testcontainers-go's reaper unless the environment
// says otherwise, as the Makefile does: its image cannot be pulled here,
// and the tests' engines are removed by Close (see the package doc).
func TestMain(m *testing.M) {
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	os.Exit(m.Run())
}

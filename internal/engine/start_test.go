package engine

import (
	"strings"
	"testing"
)

// TestCheckVersionAsFound: an empty declared version ("version: found" in
// matrix.yaml) takes any version the engine reports, but not none.
func TestCheckVersionAsFound(t *testing.T) {
	s := Spec{Name: "docker-28.0.4", Kind: Docker}
	for _, running := range []string{"28.0.4", "20.10.24", "29.0.0-rc.1"} {
		if err := checkVersion(s, running); err != nil {
			t.Errorf("as found, running %s: %v", running, err)
		}
	}
	if err := checkVersion(s, ""); err == nil || !strings.Contains(err.Error(), "reports no version") {
		t.Errorf("as found, no version: %v", err)
	}
}

// TestCheckVersionMismatch: a declared version the engine does not run is
// an error naming both.
func TestCheckVersionMismatch(t *testing.T) {
	err := checkVersion(Spec{Name: "docker-99.0.0", Kind: Docker, Version: "99.0.0"}, "28.0.4")
	want := "engine docker-99.0.0: matrix.yaml declares docker 99.0.0, the running engine reports 28.0.4"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

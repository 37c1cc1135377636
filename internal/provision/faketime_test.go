package provision

import (
	"os"
	"path/filepath"
	"testing"
)

// TestClockLayer: the runtime wrapper at FakeTimeRuntime, executable, and
// the library where faketimerunc mounts it from.
func TestClockLayer(t *testing.T) {
	dir := t.TempDir()
	runc := filepath.Join(dir, "faketimerunc")
	os.WriteFile(runc, []byte("wrapper"), 0o755)
	out := filepath.Join(dir, "layer.tar")
	if err := clockLayer(out, runc, []byte("lib")); err != nil {
		t.Fatal(err)
	}
	headers, got := readLayer(t, out)
	modes := map[string]int64{}
	for name, h := range headers {
		modes[name] = h.Mode
	}
	if got["usr/local/bin/repro-faketime-runc"] != "wrapper" || modes["usr/local/bin/repro-faketime-runc"] != 0o755 {
		t.Errorf("wrapper: %q %o", got["usr/local/bin/repro-faketime-runc"], modes["usr/local/bin/repro-faketime-runc"])
	}
	if got["usr/local/lib/repro-faketime/libfaketime.so.1"] != "lib" {
		t.Errorf("library: %q", got["usr/local/lib/repro-faketime/libfaketime.so.1"])
	}
	if FakeTimeRuntime != "/usr/local/bin/repro-faketime-runc" {
		t.Errorf("FakeTimeRuntime %s is not where the layer puts it", FakeTimeRuntime)
	}
}

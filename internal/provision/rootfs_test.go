package provision

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCleanupForgetsTheMachine runs the customize hook mmdebstrap runs on a
// root filesystem that carries the machine's hostname and resolver, as
// mmdebstrap copies them: two machines must get the same files.
func TestCleanupForgetsTheMachine(t *testing.T) {
	var results [2]string
	for i, host := range []struct{ name, resolv string }{{"vm", "nameserver 10.0.0.1"}, {"0c4f2d9e1a7b", "nameserver 127.0.0.11\nsearch x"}} {
		root := t.TempDir()
		for _, d := range []string{"etc", "var/log", "var/cache/apt", "var/lib/apt/lists", "var/lib/dbus", "var/lib/dpkg", "var/cache/debconf"} {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		os.WriteFile(filepath.Join(root, "etc/hostname"), []byte(host.name+"\n"), os.FileMode(0o755-i*0o111))
		os.WriteFile(filepath.Join(root, "etc/resolv.conf"), []byte(host.resolv), 0o755)
		os.WriteFile(filepath.Join(root, "etc/machine-id"), []byte("abc\n"), 0o444)
		if out, err := exec.Command("sh", "-c", strings.Join(cleanup, "; "), "sh", root).CombinedOutput(); err != nil {
			t.Fatalf("cleanup: %v\n%s", err, out)
		}
		var sum strings.Builder
		for _, f := range []string{"etc/hostname", "etc/resolv.conf", "etc/machine-id"} {
			st, err := os.Stat(filepath.Join(root, f))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(filepath.Join(root, f))
			sum.WriteString(f + " " + st.Mode().String() + " " + string(b) + "|")
		}
		results[i] = sum.String()
	}
	if results[0] != results[1] {
		t.Errorf("two machines leave different files:\n%s\n%s", results[0], results[1])
	}
	if !strings.Contains(results[0], "etc/hostname -rw-r--r-- |") {
		t.Errorf("hostname not emptied with mode 0644: %s", results[0])
	}
}

func TestRootfsEnvKeepsOnlyWhatMmdebstrapNeeds(t *testing.T) {
	got := rootfsEnv([]string{"PATH=/bin", "HOME=/root", "LANG=C.UTF-8", "PYTHONDONTWRITEBYTECODE=1", "https_proxy=http://127.0.0.1:3128", "TMPDIR=/var/tmp", "LC_ALL=C"})
	want := []string{"PATH=/bin", "HOME=/root", "https_proxy=http://127.0.0.1:3128", "TMPDIR=/var/tmp"}
	if !slices.Equal(got, want) {
		t.Errorf("rootfsEnv = %q, want %q", got, want)
	}
}

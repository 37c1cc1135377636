package provision

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseRootlessKitArg(t *testing.T) {
	tests := []struct {
		dockerfile, want, err string
	}{
		{"ARG RUNC_VERSION=v1.2.4\nARG ROOTLESSKIT_VERSION=v2.3.2\nARG CNI_VERSION=v1.6.0\n", "v2.3.2", ""},
		{"ARG ROOTLESSKIT_VERSION=v3.2.0\r\n", "v3.2.0", ""},
		{"# ARG ROOTLESSKIT_VERSION=v2.0.0\nARG RUNC_VERSION=v1.2.4\n", "", "no ARG ROOTLESSKIT_VERSION"},
		{"ARG ROOTLESSKIT_VERSION=v2.x\n", "", "not a semantic version"},
	}
	for _, tt := range tests {
		got, err := parseRootlessKitArg([]byte(tt.dockerfile), "v0.19.0")
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "v0.19.0") {
				t.Errorf("%q: err %v, want one naming v0.19.0 with %q", tt.dockerfile, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: %q, %v; want %s", tt.dockerfile, got, err, tt.want)
		}
	}
}

func TestRootlessKitModulePath(t *testing.T) {
	for v, want := range map[string]string{
		"v1.1.1": RootlessKitModule,
		"v2.3.2": RootlessKitModule + "/v2",
		"v3.2.0": RootlessKitModule + "/v3",
	} {
		if got := rootlessKitModulePath(v); got != want {
			t.Errorf("rootlessKitModulePath(%s) = %s, want %s", v, got, want)
		}
	}
}

// TestCapabilityXattr holds the encoding to what setcap writes for
// cap_setuid=ep (getfattr -n security.capability on a file setcap marked):
// revision 2 with the effective flag, then permitted bit 7.
func TestCapabilityXattr(t *testing.T) {
	b := []byte(capabilityXattr(capSetuid))
	want := []byte{0x01, 0, 0, 0x02, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if !bytes.Equal(b, want) {
		t.Errorf("cap_setuid=ep: % x, want % x", b, want)
	}
	if p := binary.LittleEndian.Uint32([]byte(capabilityXattr(capSetgid))[4:]); p != 1<<6 {
		t.Errorf("cap_setgid=ep: permitted %#x", p)
	}
}

// writeTar writes files (name → content) as a root filesystem's tar does,
// with "./" before each name.
func writeTar(t *testing.T, path string, files map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range []string{"etc/group", "etc/passwd", "usr/bin/newgidmap", "usr/bin/newuidmap"} {
		content, ok := files[name]
		if !ok {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: "./" + name, Mode: 0o4755, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(content))
	}
	tw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRootlessLayer(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.tar")
	writeTar(t, base, map[string]string{"etc/passwd": "root:x:0:0:root:/root:/bin/bash\n", "etc/group": "root:x:0:\n",
		"usr/bin/newuidmap": "uidmap", "usr/bin/newgidmap": "gidmap"})
	rk := filepath.Join(dir, "rootlesskit")
	os.WriteFile(rk, []byte("rootlesskit binary"), 0o755)
	mtime := time.Unix(1700000000, 0)
	out := filepath.Join(dir, "layer.tar")
	if err := rootlessLayer(out, base, rk, mtime); err != nil {
		t.Fatal(err)
	}
	got, content := readLayer(t, out)
	if content["etc/passwd"] != "root:x:0:0:root:/root:/bin/bash\nuser:x:1000:1000::/home/user:/bin/sh\n" {
		t.Errorf("etc/passwd:\n%s", content["etc/passwd"])
	}
	if content["etc/subuid"] != "user:100000:65536\n" || content["etc/subgid"] != content["etc/subuid"] {
		t.Errorf("subordinate ids: %q %q", content["etc/subuid"], content["etc/subgid"])
	}
	for name, capability := range map[string]uint{"usr/bin/newuidmap": capSetuid, "usr/bin/newgidmap": capSetgid} {
		h := got[name]
		if h == nil || h.Mode != 0o755 || h.PAXRecords["SCHILY.xattr.security.capability"] != capabilityXattr(capability) {
			t.Errorf("%s: %+v: want mode 0755 (no setuid bit) and its file capability", name, h)
		}
	}
	for _, d := range []string{"home/user/", "home/user/.local/share/buildkit/", "home/user/.local/tmp/", "run/user/1000/"} {
		if h := got[d]; h == nil || h.Typeflag != tar.TypeDir || h.Uid != 1000 || h.Gid != 1000 {
			t.Errorf("%s: %+v: want a folder of 1000:1000", d, h)
		}
	}
	for name, h := range got {
		if !h.ModTime.Equal(mtime) {
			t.Errorf("%s: mtime %v", name, h.ModTime)
		}
	}
	again := filepath.Join(dir, "again.tar")
	if err := rootlessLayer(again, base, rk, mtime); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(again)
	if !bytes.Equal(a, b) {
		t.Error("the same inputs gave two layers")
	}
}

func TestRootlessLayerNamesWhatTheBaseLacks(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.tar")
	writeTar(t, base, map[string]string{"etc/passwd": "root:x:0:0::/root:/bin/sh\n", "etc/group": "root:x:0:\n", "usr/bin/newgidmap": "g"})
	err := rootlessLayer(filepath.Join(dir, "layer.tar"), base, filepath.Join(dir, "none"), time.Unix(0, 0))
	if err == nil || !strings.Contains(err.Error(), "usr/bin/newuidmap") {
		t.Errorf("err = %v, want one naming usr/bin/newuidmap", err)
	}
}

// readLayer reads a layer's tar: each entry's header and content by name.
func readLayer(t *testing.T, path string) (map[string]*tar.Header, map[string]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	headers, content := map[string]*tar.Header{}, map[string]string{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return headers, content
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		headers[h.Name], content[h.Name] = h, string(b)
	}
}

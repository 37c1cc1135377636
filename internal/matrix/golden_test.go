package matrix

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestWriteGoldens(t *testing.T) {
	dir := t.TempDir()
	f := &Fixture{Name: "x", Dir: dir, GoldensFile: filepath.Join(dir, "golden.yaml")}
	d1 := digest.Digest("sha256:" + strings.Repeat("a", 64))
	d2 := digest.Digest("sha256:" + strings.Repeat("b", 64))
	goldens := map[string]digest.Digest{"linux/arm64/oci": d2, "linux/amd64/docker": d1}
	if err := WriteGoldens(f, goldens); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(f.GoldensFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(data), "linux/amd64/docker: "+string(d1)+"\nlinux/arm64/oci: "+string(d2)+"\n") {
		t.Errorf("file:\n%s", data)
	}
	// It reads back as written, and no temporary file is left behind.
	got, errs, err := readGoldens(f.GoldensFile, DefaultLimits)
	if err != nil || len(errs) > 0 || len(got) != 2 || got["linux/arm64/oci"] != d2 {
		t.Errorf("read back: %v %v %v", got, errs, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("folder holds %d files, want 1", len(entries))
	}
	if f.Goldens["linux/amd64/docker"] != d1 {
		t.Errorf("f.Goldens = %v", f.Goldens)
	}
	// Overwriting replaces the file whole.
	if err := WriteGoldens(f, map[string]digest.Digest{"linux/amd64/docker": d2}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := readGoldens(f.GoldensFile, DefaultLimits); len(got) != 1 || got["linux/amd64/docker"] != d2 {
		t.Errorf("after overwrite: %v", got)
	}
	if st, _ := os.Stat(f.GoldensFile); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
}

func TestWriteGoldensRejects(t *testing.T) {
	dir := t.TempDir()
	f := &Fixture{Name: "x", Dir: dir}
	good := digest.Digest("sha256:" + strings.Repeat("a", 64))
	for _, goldens := range []map[string]digest.Digest{
		{"linux/amd64/docker": "sha256:abc"},
		{"docker": good},
		{"linux/amd46/docker": good},
	} {
		if err := WriteGoldens(f, goldens); err == nil {
			t.Errorf("WriteGoldens(%v) succeeded", goldens)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, GoldensFileName)); !os.IsNotExist(err) {
		t.Errorf("a rejected write left a file: %v", err)
	}
}

func TestReadGoldensProblems(t *testing.T) {
	file := filepath.Join(t.TempDir(), "golden.yaml")
	data := "linux/amd64/docker: sha256:" + strings.Repeat("a", 64) + "\n" +
		"linux/amd64/docker: sha256:" + strings.Repeat("b", 64) + "\n" +
		"amd64: sha256:" + strings.Repeat("c", 64) + "\n" +
		"linux/arm64/oci: [x]\n"
	if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	got, errs, err := readGoldens(file, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(errs) != 3 {
		t.Fatalf("goldens %v, problems %+v", got, errs)
	}
	for i, want := range []struct {
		key  string
		line int
		msg  string
	}{{"linux/amd64/docker", 2, "duplicate key"}, {"amd64", 3, "want <platform>/<exporter>"}, {"linux/arm64/oci", 4, "want a digest"}} {
		if errs[i].key != want.key || errs[i].line != want.line || !strings.Contains(errs[i].msg, want.msg) {
			t.Errorf("problem %d = %+v, want %+v", i, errs[i], want)
		}
	}
}

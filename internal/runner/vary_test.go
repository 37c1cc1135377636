package runner

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/matrix"
)

// varyFixture is a small context: a file, an executable, a folder with a
// file, a link, all dated 2001.
func varyFixture(t *testing.T) string {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "dir"), 0o755)
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(src, "run.sh"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(src, "dir", "b.txt"), []byte("b"), 0o644)
	os.Symlink("a.txt", filepath.Join(src, "link"))
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, p := range []string{"a.txt", "run.sh", "dir/b.txt", "dir", "."} {
		os.Chtimes(filepath.Join(src, p), old, old)
	}
	return src
}

func modeTime(t *testing.T, p string) (fs.FileMode, time.Time) {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode(), st.ModTime()
}

func TestVaryContextPathKeepsModesAndTimes(t *testing.T) {
	src := varyFixture(t)
	dst := filepath.Join(t.TempDir(), "elsewhere")
	if err := varyContext(src, dst, variations["path"]); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"a.txt", "run.sh", "dir/b.txt", "dir", "."} {
		m1, t1 := modeTime(t, filepath.Join(src, p))
		m2, t2 := modeTime(t, filepath.Join(dst, p))
		if m1 != m2 || !t1.Equal(t2) {
			t.Errorf("%s: copied as %s %s, original %s %s", p, m2, t2, m1, t1)
		}
	}
	if target, err := os.Readlink(filepath.Join(dst, "link")); err != nil || target != "a.txt" {
		t.Errorf("link copied as %q (%v)", target, err)
	}
}

func TestVaryContextChangesWhatItSays(t *testing.T) {
	src := varyFixture(t)
	for name, check := range map[string]func(dst string){
		"umask": func(dst string) {
			for p, want := range map[string]fs.FileMode{"a.txt": 0o664, "run.sh": 0o775, "dir": fs.ModeDir | 0o775} {
				if m, _ := modeTime(t, filepath.Join(dst, p)); m != want {
					t.Errorf("umask: %s is %s, want %s", p, m, want)
				}
			}
		},
		"setgid": func(dst string) {
			if m, _ := modeTime(t, filepath.Join(dst, "dir")); m&fs.ModeSetgid == 0 {
				t.Errorf("setgid: dir is %s", m)
			}
			if m, _ := modeTime(t, filepath.Join(dst, "a.txt")); m&fs.ModeSetgid != 0 {
				t.Errorf("setgid: a file got it: %s", m)
			}
		},
		"mtime": func(dst string) {
			if _, mt := modeTime(t, filepath.Join(dst, "dir", "b.txt")); time.Since(mt) > time.Hour {
				t.Errorf("mtime: b.txt dated %s", mt)
			}
		},
	} {
		dst := filepath.Join(t.TempDir(), name)
		if err := varyContext(src, dst, variations[name]); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		check(dst)
	}
}

func TestEveryVariationSaysWhatItChanges(t *testing.T) {
	for name, v := range variations {
		if v.changed == "" {
			t.Errorf("variation %s does not say what it changes", name)
		}
	}
}

func TestEveryVariationOfTheMatrixIsBuilt(t *testing.T) {
	for _, name := range matrix.Variations {
		if _, ok := variations[name]; !ok {
			t.Errorf("matrix.yaml accepts variation %s, the runner does not build it", name)
		}
	}
	if len(variations) != len(matrix.Variations) {
		t.Errorf("the runner builds %d variations, matrix.yaml names %d", len(variations), len(matrix.Variations))
	}
}

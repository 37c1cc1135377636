package matrix

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad loads arbitrary files beside the sample fixtures: Load never
// panics, and every error is one of its documented kinds, or an error
// reading the file.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"050-type-fixtures.0.sourceDateEpoch_float.yaml", "251-latin1-byte.yaml", "299-merge-scalar-anchor.yaml", "merge-key-bomb.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", "cases", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(blockBase))
	f.Add([]byte(refBase))
	fixtures, err := filepath.Abs(filepath.Join("testdata", "cases", "fixtures"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.Symlink(fixtures, filepath.Join(dir, "fixtures")); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, "matrix.yaml")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := Load(file, WithNow(testNow))
		var serr *SyntaxError
		switch {
		case err == nil:
			if m == nil {
				t.Fatal("no matrix and no error")
			}
		case errors.Is(err, ErrInvalid), errors.Is(err, ErrLimit), errors.As(err, &serr):
		default:
			t.Fatalf("an error of no documented kind: %T %v", err, err)
		}
	})
}

package matrix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/opencontainers/go-digest"
	"gopkg.in/yaml.v3"

	"github.com/repro-matrix/repro-matrix/internal/cell"
)

// GoldensFileName is the default name of a fixture's golden digests file.
const GoldensFileName = "golden.yaml"

func checkGoldenKey(key string) error {
	platform, exporter := cell.SplitGoldenKey(key)
	if platform == "" || !nameRE.MatchString(exporter) {
		return fmt.Errorf("key %q: want <platform>/<exporter>, e.g. linux/amd64/docker", key)
	}
	if _, err := cell.ParsePlatforms(platform); err != nil {
		return fmt.Errorf("key %q: %w", key, err)
	}
	return nil
}

// loadGoldens reads fixture i's goldens file into fx.Goldens. A missing
// file is no problem (no goldens yet); anything malformed in one is,
// reported at fixtures[i].goldens[key] with the file's path and line.
func (m *Matrix) loadGoldens(p *problems, i int, fx *Fixture) {
	field := fmt.Sprintf("fixtures[%d].goldens", i)
	goldens, errs, err := readGoldens(fx.GoldensFile, m.limits.orDefault())
	if err != nil {
		p.add(field, "%v", err)
		return
	}
	for _, e := range errs {
		p.addLine(joinGoldenField(field, e.key), -1, "%s:%d: %s", fx.GoldensFile, e.line, e.msg)
	}
	fx.Goldens = goldens
}

func joinGoldenField(field, key string) string {
	if key == "" {
		return field
	}
	return field + "[" + key + "]"
}

type goldenError struct {
	key  string
	line int
	msg  string
}

// readGoldens reads a goldens file: a mapping from "<platform>/<exporter>"
// to a digest. It returns the well-formed entries and a problem for each
// other one; err is for a file that cannot be read or parsed at all (a
// *SyntaxError with its line), or that exceeds the limits (a *LimitError:
// the goldens file is read and measured as the matrix file is).
func readGoldens(file string, limits Limits) (map[string]digest.Digest, []goldenError, error) {
	goldens := map[string]digest.Digest{}
	st, err := os.Stat(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return goldens, nil, nil
	case err != nil:
		return nil, nil, fmt.Errorf("read goldens: %w", err)
	case !st.Mode().IsRegular(): // opening a FIFO would block
		return nil, nil, fmt.Errorf("read goldens: %s is not a regular file (%s)", file, st.Mode().Type())
	}
	data, err := readLimited(file, limits.Bytes)
	if err != nil {
		return nil, nil, err
	}
	root, err := parseDocument(context.Background(), file, data)
	if err != nil {
		return nil, nil, err
	}
	if root == nil || isNull(root) {
		return goldens, nil, nil
	}
	if _, err := checkBounds(context.Background(), file, root, limits); err != nil {
		return nil, nil, err
	}
	if root.Kind != yaml.MappingNode {
		return nil, []goldenError{{line: root.Line, msg: "want a mapping of <platform>/<exporter>: sha256:<digest>, got " + describe(root)}}, nil
	}
	var errs []goldenError
	first := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if l, dup := first[k.Value]; dup {
			errs = append(errs, goldenError{k.Value, k.Line, fmt.Sprintf("duplicate key (first at line %d)", l)})
			continue
		}
		first[k.Value] = k.Line
		if err := checkGoldenKey(k.Value); err != nil {
			errs = append(errs, goldenError{k.Value, k.Line, err.Error()})
			continue
		}
		if v.Kind != yaml.ScalarNode {
			errs = append(errs, goldenError{k.Value, v.Line, "want a digest, got " + describe(v)})
			continue
		}
		d, err := ParseDigest(v.Value)
		if err != nil {
			errs = append(errs, goldenError{k.Value, v.Line, err.Error()})
			continue
		}
		goldens[k.Value] = d
	}
	return goldens, errs, nil
}

// WriteGoldens replaces f's goldens file with goldens ("<platform>/<exporter>"
// -> digest, see GoldenKey) and sets f.Goldens. The file is written to a
// temporary file in the same folder and renamed over the old one, so that a
// reader never sees half a file. Keys are sorted; callers that update some
// goldens merge them with f.Goldens first.
func WriteGoldens(f *Fixture, goldens map[string]digest.Digest) error {
	file := f.GoldensFile
	if file == "" {
		file = filepath.Join(f.Dir, GoldensFileName)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Golden image digests of fixture %s: <platform>/<exporter>: digest.\n", f.Name)
	b.WriteString("# Written by `make goldens`; every cell of a group must build this digest.\n")
	for _, k := range slices.Sorted(maps.Keys(goldens)) {
		if err := checkGoldenKey(k); err != nil {
			return fmt.Errorf("write goldens of %s: %w", f.Name, err)
		}
		if _, err := ParseDigest(goldens[k].String()); err != nil {
			return fmt.Errorf("write goldens of %s: %s: %w", f.Name, k, err)
		}
		fmt.Fprintf(&b, "%s: %s\n", k, goldens[k])
	}
	if err := writeFileAtomic(file, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write goldens of %s: %w", f.Name, err)
	}
	f.GoldensFile = file
	f.Goldens = make(map[string]digest.Digest, len(goldens))
	maps.Copy(f.Goldens, goldens)
	return nil
}

// writeFileAtomic writes data to a temporary file beside name, syncs it and
// renames it to name.
func writeFileAtomic(name string, data []byte, perm os.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

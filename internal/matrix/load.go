package matrix

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Option changes how Load works.
type Option func(*loadOptions)

type loadOptions struct {
	now func() time.Time
}

// WithNow sets the clock that decides whether a known divergence has
// expired. The default is time.Now.
func WithNow(now func() time.Time) Option {
	return func(o *loadOptions) { o.now = now }
}

// Load reads the matrix file at path and returns it loaded, in this order:
//
//  1. read the file;
//  2. decode it strictly: unknown keys, duplicate keys and values of the
//     wrong type are problems with their field path and line;
//  3. apply defaults (see the field lists of Engine, BuildKit, Fixture);
//  4. make paths absolute (relative to the matrix file's folder);
//  5. validate, which also reads each fixture's golden.yaml (see
//     Fixture.Goldens).
//
// A file that cannot be read or is not YAML gives an error naming the file
// (and, from the YAML parser, the line). Otherwise every problem of steps 2
// to 5 is collected and returned together as a ValidationErrors.
func Load(path string, opts ...Option) (*Matrix, error) {
	o := loadOptions{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("load matrix: %w", err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("read matrix: %w", err)
	}
	p := &problems{lines: map[string]int{}}
	m, err := decode(data, p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", abs, err)
	}
	m.Path, m.Dir, m.now = abs, filepath.Dir(abs), o.now
	m.setDefaults()
	m.makeAbsolute()
	m.validate(p, true)
	if len(p.errs) > 0 {
		return nil, p.sorted()
	}
	return m, nil
}

// decode parses data and decodes it into a Matrix, reporting unknown keys,
// duplicate keys and values of the wrong shape or type as problems with
// their field paths. It fails only when data is not YAML.
//
// yaml.v3's Decoder.KnownFields(true) finds unknown keys too, but names only
// a line and a Go type, and a duplicate key makes it give up on the rest of
// its mapping. So the node tree is walked against the schema first: each
// problem is reported at its path (and line), the offending entry is
// dropped, and the remaining tree, which now decodes cleanly, is decoded.
func decode(data []byte, p *problems) (*Matrix, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("line %d: a second YAML document; the matrix is one document", extra.Line)
	}
	m := &Matrix{}
	if len(doc.Content) == 0 { // an empty file: validation says what is missing
		return m, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode && !isNull(root) {
		p.markBroken("", root.Line, "want a mapping of engines, buildkits, fixtures, exporters, profiles; got %s", describe(root))
		return m, nil
	}
	w := walker{p: p}
	w.walk(root, reflect.TypeOf(m).Elem(), "")
	if err := root.Decode(m); err != nil {
		// Not expected after the walk; report it rather than lose it.
		p.add("", "%v", err)
	}
	return m, nil
}

type walker struct{ p *problems }

// walk checks n against type t at path, recording the line of every path.
// It reports what does not fit and returns false when n itself must be
// dropped; entries inside n that do not fit are removed from n.
func (w walker) walk(n *yaml.Node, t reflect.Type, path string) bool {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if _, ok := w.p.lines[path]; !ok && path != "" {
		w.p.lines[path] = n.Line
	}
	if isNull(n) {
		return true
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			w.p.markBroken(path, n.Line, "want a mapping, got %s", describe(n))
			return false
		}
		fields := yamlFields(t)
		w.mapping(n, path, func(key string) (reflect.Type, bool) {
			ft, ok := fields[key]
			return ft, ok
		}, func(key string) string {
			return fmt.Sprintf("unknown field %q (known: %s)", key, strings.Join(slices.Sorted(maps.Keys(fields)), ", "))
		})
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.p.markBroken(path, n.Line, "want a mapping, got %s", describe(n))
			return false
		}
		w.mapping(n, path, func(string) (reflect.Type, bool) { return t.Elem(), true }, nil)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.p.markBroken(path, n.Line, "want a list, got %s", describe(n))
			return false
		}
		for i, item := range n.Content {
			if !w.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i)) {
				n.Content[i] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null", Line: item.Line}
			}
		}
	default:
		if n.Kind != yaml.ScalarNode {
			w.p.markBroken(path, n.Line, "want %s, got %s", describeType(t), describe(n))
			return false
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			w.p.markBroken(path, n.Line, "want %s, got %s", describeType(t), describe(n))
			return false
		}
	}
	return true
}

// mapping walks the entries of the mapping n at path. field gives the type
// of a key's value, or false for an unknown key (unknown then says why).
// Duplicate keys, unknown keys and values that do not fit are removed.
func (w walker) mapping(n *yaml.Node, path string, field func(string) (reflect.Type, bool), unknown func(string) string) {
	seen := map[string]int{}
	kept := make([]*yaml.Node, 0, len(n.Content))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			// "<<: *anchor": the merged mappings' keys belong to this mapping.
			for _, src := range mergeSources(v) {
				w.mapping(src, path, field, unknown)
			}
			kept = append(kept, k, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			w.p.addLine(path, k.Line, "a key must be a plain value, got %s", describe(k))
			continue
		}
		fp := joinPath(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			w.p.addLine(fp, k.Line, "duplicate key %q (first at line %d)", k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		ft, ok := field(k.Value)
		if !ok {
			w.p.addLine(fp, k.Line, "%s", unknown(k.Value))
			continue
		}
		w.p.lines[fp] = k.Line
		if !w.walk(v, ft, fp) {
			continue
		}
		kept = append(kept, k, v)
	}
	n.Content = kept
}

func mergeSources(v *yaml.Node) []*yaml.Node {
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	switch v.Kind {
	case yaml.MappingNode:
		return []*yaml.Node{v}
	case yaml.SequenceNode:
		var out []*yaml.Node
		for _, c := range v.Content {
			out = append(out, mergeSources(c)...)
		}
		return out
	}
	return nil
}

// yamlFields maps the yaml keys of struct type t to their field types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describe names what a node holds, for messages: "a list", "the string "x"".
func describe(n *yaml.Node) string {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "nothing"
		case "!!int", "!!float":
			return "the number " + n.Value
		case "!!bool":
			return "the boolean " + n.Value
		}
		return fmt.Sprintf("the string %q", n.Value)
	}
	return "a YAML " + n.Tag
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a " + t.String()
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// setDefaults fills in what the file may leave out. It runs before
// validation and leaves anything it cannot default for validation to report.
func (m *Matrix) setDefaults() {
	for _, e := range m.Engines {
		if e == nil {
			continue
		}
		if e.Where == "" {
			if e.Image != "" {
				e.Where = Container
			} else {
				e.Where = Host
			}
		}
		if e.Version == VersionFound {
			e.AsFound, e.Version = true, ""
		}
		if e.Name == "" && e.Kind != "" && (e.Version != "" || e.AsFound) {
			e.Name = e.defaultName(e.EffectiveVersion())
		}
		if e.Offline != nil && e.Offline.Package == "" {
			switch e.Kind {
			case Docker:
				e.Offline.Package = "docker.io"
			case Podman:
				e.Offline.Package = "podman"
			}
		}
	}
	for _, b := range m.BuildKits {
		if b == nil {
			continue
		}
		if b.Name == "" {
			b.Name = b.Version
		}
		if b.Image == "" && !b.Pinned && validBuildKitVersion(b.Version) {
			b.Image = DefaultBuildKitRepository + ":" + b.Version
		}
		if b.Offline == nil {
			b.Offline = &BuildKitRecipe{}
		}
		if b.Offline.Module == "" {
			b.Offline.Module = DefaultBuildKitModule
		}
		if b.Offline.Version == "" {
			b.Offline.Version = b.Version
		}
	}
	for _, f := range m.Fixtures {
		if f == nil {
			continue
		}
		if f.Dir == "" && f.Name != "" {
			f.Dir = filepath.Join("fixtures", f.Name)
		}
		if f.Dockerfile == "" {
			f.Dockerfile = "Dockerfile"
		}
		if f.GoldensFile == "" {
			f.GoldensFile = "golden.yaml"
		}
		if len(f.Platforms) == 0 {
			f.Platforms = []string{"linux/amd64"}
		}
	}
	for name, p := range m.Profiles {
		if p == nil {
			m.Profiles[name] = &Profile{}
		}
	}
}

// makeAbsolute turns the fixtures' paths into absolute ones: dir relative to
// the matrix file's folder, dockerfile and goldens relative to dir.
func (m *Matrix) makeAbsolute() {
	for _, f := range m.Fixtures {
		if f == nil || f.Dir == "" {
			continue
		}
		if !filepath.IsAbs(f.Dir) {
			f.Dir = filepath.Join(m.Dir, f.Dir)
		}
		f.Dir = filepath.Clean(f.Dir)
		if !filepath.IsAbs(f.Dockerfile) {
			f.Dockerfile = filepath.Join(f.Dir, f.Dockerfile)
		}
		if !filepath.IsAbs(f.GoldensFile) {
			f.GoldensFile = filepath.Join(f.Dir, f.GoldensFile)
		}
	}
}

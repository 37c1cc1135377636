package matrix

import (
	"context"
	"errors"
	"fmt"
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
	now    func() time.Time
	limits Limits
}

// WithNow sets the clock that decides whether a known divergence has
// expired. The default is time.Now.
func WithNow(now func() time.Time) Option {
	return func(o *loadOptions) { o.now = now }
}

// Load is LoadContext without a context: it cannot be cancelled, but its
// work is bounded all the same (see Limits).
func Load(path string, opts ...Option) (*Matrix, error) {
	return LoadContext(context.Background(), path, opts...)
}

// LoadContext reads the matrix file at path and returns it loaded, in this
// order:
//
//  1. read the file, at most Limits.Bytes of it;
//  2. parse it: it must be UTF-8 and one YAML document;
//  3. measure it against the Limits: aliases, nesting depth and nodes once
//     aliases are expanded, before anything expands them;
//  4. decode it strictly: unknown keys, duplicate keys, merge keys (<<)
//     that cannot merge and values of the wrong type are problems with
//     their field path and line (integers as the YAML 1.2 core schema
//     reads them, see the package documentation);
//  5. apply defaults (see the field lists of Engine, BuildKit, Fixture);
//  6. make paths absolute (relative to the matrix file's folder);
//  7. count the cell checks that expanding every profile takes (Limits.Cells);
//  8. validate, which also reads each fixture's golden.yaml (see
//     Fixture.Goldens).
//
// Errors: a file that cannot be read is an error wrapping the os error. A
// file that is not UTF-8 or not YAML is a *SyntaxError naming the file and
// the line, alone: nothing is decoded after it. A file beyond a limit is a
// *LimitError (errors.Is ErrLimit) naming the file, the limit and how to
// raise it. Otherwise every problem of steps 4 to 8 is collected and
// returned together as a ValidationErrors (errors.Is ErrInvalid), one per
// problem. A malformed LimitsEnv is an error naming it.
//
// Cancelling ctx makes LoadContext return at once with an error wrapping
// the context's cause; the work under way stops at its next check (it is
// bounded by the Limits in any case).
func LoadContext(ctx context.Context, path string, opts ...Option) (*Matrix, error) {
	env, err := LimitsFromEnv()
	if err != nil {
		return nil, err
	}
	o := loadOptions{now: time.Now, limits: env}
	for _, opt := range opts {
		opt(&o)
	}
	o.limits = o.limits.orDefault()
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("load matrix: %w", err)
	}
	type result struct {
		m   *Matrix
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, err := load(ctx, abs, o)
		done <- result{m, err}
	}()
	select {
	case r := <-done:
		return r.m, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("load %s: %w", abs, context.Cause(ctx))
	}
}

// load is LoadContext's work, on the absolute path abs.
func load(ctx context.Context, abs string, o loadOptions) (*Matrix, error) {
	data, err := readLimited(abs, o.limits.Bytes)
	var lerr *LimitError
	switch {
	case errors.As(err, &lerr):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("read matrix: %w", err)
	}
	root, err := parseDocument(ctx, abs, data)
	if err != nil {
		return nil, err
	}
	if _, err := checkBounds(ctx, abs, root, o.limits); err != nil {
		return nil, err
	}
	p := &problems{lines: map[string]int{}}
	m, ok := decode(root, p)
	if !ok {
		return nil, p.sorted()
	}
	m.Path, m.Dir, m.now, m.limits = abs, filepath.Dir(abs), o.now, o.limits
	m.setDefaults()
	m.makeAbsolute()
	if n := m.cellChecks(); n > int64(o.limits.Cells) {
		return nil, &LimitError{File: abs, Key: "cells", Limit: int64(o.limits.Cells),
			What: fmt.Sprintf("expanding every profile takes %d cell checks, more than %d (the cells of the whole matrix, once per profile and once more per include or exclude pattern)", n, o.limits.Cells)}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load %s: %w", abs, context.Cause(ctx))
	}
	m.ctx = ctx
	m.validate(p, true)
	m.ctx = nil
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load %s: %w", abs, context.Cause(ctx))
	}
	if len(p.errs) > 0 {
		return nil, p.sorted()
	}
	return m, nil
}

// decode decodes the parsed file root (nil when empty) into a Matrix,
// reporting unknown keys, duplicate keys and values of the wrong shape or
// type as problems with their field paths. It returns false when nothing
// else should be checked: the file is not a mapping, its top-level merge key
// cannot merge, or yaml.v3 refused what the walk let through (then
// validation would report what they left out as missing).
//
// yaml.v3's Decoder.KnownFields(true) finds unknown keys too, but names only
// a line and a Go type, and a duplicate key makes it give up on the rest of
// its mapping. So the node tree is walked against the schema first: each
// problem is reported at its path (and line), the offending entry is
// dropped, and the remaining tree, which now decodes cleanly, is decoded.
func decode(root *yaml.Node, p *problems) (*Matrix, bool) {
	m := &Matrix{}
	if root == nil { // an empty file: validation says what is missing
		return m, true
	}
	if root.Kind != yaml.MappingNode && !isNull(root) {
		p.addLine("", root.Line, "want a mapping of engines, buildkits, fixtures, exporters, profiles; got %s", describe(root))
		return nil, false
	}
	w := walker{p: p}
	w.walk(root, reflect.TypeOf(m).Elem(), "")
	if slices.Contains(p.broken, "") { // a merge key at the top that cannot merge
		return nil, false
	}
	if err := root.Decode(m); err != nil {
		// Not expected after the walk; report it rather than lose it.
		p.addLine("", root.Line, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil, false
	}
	return m, true
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
		if e.Offline != nil && e.Offline.Package == "" && e.Offline.Module == "" {
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
		if b.IsLadder() { // its rungs get their defaults when resolved
			if b.Name == "" {
				b.Name = "ladder(" + b.Ladder.String() + ")"
			}
			continue
		}
		if b.Name == "" {
			b.Name = b.Version
		}
		if b.Image == "" && !b.Pinned && validBuildKitVersion(b.Version) {
			b.Image = DefaultBuildKitRepository + ":" + b.Version
			if b.RootlessImage == "" { // the release's own variant, by tag as its image
				b.RootlessImage = DefaultBuildKitRepository + ":" + rootlessTag(b.Version)
			}
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

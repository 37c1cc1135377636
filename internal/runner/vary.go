package runner

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/build"
	"github.com/repro-matrix/repro-matrix/internal/engine"
	"github.com/repro-matrix/repro-matrix/internal/matrix"
	"github.com/repro-matrix/repro-matrix/internal/oci"
	"github.com/repro-matrix/repro-matrix/internal/provision"
	"github.com/repro-matrix/repro-matrix/internal/report"
)

// variation is one aspect of a build's environment changed, as reprotest
// varies a build: how the context's copy is made and the environment of the
// building process (the engine's CLI).
type variation struct {
	name    string
	changed string
	// file changes a copied file or folder after it is written; nil leaves
	// it as the original is.
	file func(path string, d fs.DirEntry) error
	// reverse creates the context's files in reverse order.
	reverse bool
	env     []string
	// clock builds on a builder of its own whose RUN steps see another
	// wall clock (BuildKitImage.FakeTime).
	clock bool
}

// variations are the variations of matrix.yaml's vary, by name. Every
// variation builds from a copy of the context at another absolute path;
// "path" changes nothing else.
var variations = map[string]variation{
	matrix.VariationMtime: {changed: "the context's files and folders dated now", file: func(p string, _ fs.DirEntry) error {
		now := time.Now()
		return os.Chtimes(p, now, now)
	}},
	matrix.VariationUmask: {changed: "the context as a checkout under umask 002 makes it: files 0664, executables and folders 0775", file: umask002},
	matrix.VariationSetgid: {changed: "the setgid bit on the context's folders (drwxr-sr-x)", file: func(p string, d fs.DirEntry) error {
		if !d.IsDir() {
			return nil
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		return os.Chmod(p, st.Mode()|os.ModeSetgid)
	}},
	matrix.VariationOrder:  {changed: "the context's files created in reverse order", reverse: true},
	matrix.VariationPath:   {changed: "the context at another absolute path"},
	matrix.VariationTZ:     {changed: "TZ=Pacific/Kiritimati (UTC+14) for the building process", env: []string{"TZ=Pacific/Kiritimati"}},
	matrix.VariationLocale: {changed: "LANG and LC_ALL tr_TR.UTF-8 for the building process", env: []string{"LANG=tr_TR.UTF-8", "LC_ALL=tr_TR.UTF-8"}},
	matrix.VariationTime:   {changed: "the wall clock of the RUN steps 398 days ahead (libfaketime, as reprotest's time variation)", clock: true},
}

// umask002 gives a file the mode a checkout under umask 002 gives it: git
// writes 0666 or 0777 (executables) less the umask.
func umask002(p string, d fs.DirEntry) error {
	st, err := os.Lstat(p)
	if err != nil || st.Mode()&fs.ModeSymlink != 0 {
		return err
	}
	mode := fs.FileMode(0o664)
	if d.IsDir() || st.Mode()&0o111 != 0 {
		mode = 0o775
	}
	return os.Chmod(p, mode|st.Mode()&(os.ModeSetgid|os.ModeSetuid|os.ModeSticky))
}

// varyContext copies the context folder src to dst, keeping every file's
// mode and times, then applies v. Symbolic links are copied as links.
func varyContext(src, dst string, v variation) error {
	var paths []string
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return err
	}
	// Folders first (in walk order), then files in the variation's order.
	var dirs, files []string
	for _, p := range paths {
		if st, err := os.Lstat(p); err == nil && st.IsDir() {
			dirs = append(dirs, p)
		} else {
			files = append(files, p)
		}
	}
	if v.reverse {
		slices.Reverse(files)
	}
	for _, p := range append(dirs, files...) {
		if err := copyEntry(src, dst, p); err != nil {
			return err
		}
	}
	// Folders' times last: writing into a folder changes its mtime.
	for _, p := range slices.Backward(dirs) {
		if err := keepTimes(p, filepath.Join(dst, rel(src, p))); err != nil {
			return err
		}
	}
	if v.file == nil {
		return nil
	}
	return filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return v.file(p, d)
	})
}

func rel(base, p string) string {
	r, _ := filepath.Rel(base, p)
	return r
}

// copyEntry copies one folder, file or link of src below dst.
func copyEntry(src, dst, p string) error {
	to := filepath.Join(dst, rel(src, p))
	st, err := os.Lstat(p)
	if err != nil {
		return err
	}
	switch {
	case st.IsDir():
		if err := os.MkdirAll(to, 0o755); err != nil {
			return err
		}
		return os.Chmod(to, st.Mode()&(fs.ModePerm|os.ModeSetgid|os.ModeSetuid|os.ModeSticky))
	case st.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		return os.Symlink(target, to)
	case st.Mode().IsRegular():
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(to, b, st.Mode().Perm()); err != nil {
			return err
		}
		if err := os.Chmod(to, st.Mode()&(fs.ModePerm|os.ModeSetgid|os.ModeSetuid|os.ModeSticky)); err != nil {
			return err
		}
		return keepTimes(p, to)
	default:
		return fmt.Errorf("%s: a %s in a build context is not copied", p, st.Mode().Type())
	}
}

func keepTimes(from, to string) error {
	st, err := os.Stat(from)
	if err != nil {
		return err
	}
	return os.Chtimes(to, st.ModTime(), st.ModTime())
}

// vary rebuilds the self-checked cells of c's batch once per variation of
// c on the pair's builder, then records c's rebuilds in res. It returns the
// wall time it spent here.
func (r *Cells) vary(ctx context.Context, c matrix.Cell, names []string, b *builder, bt *batch, res *report.CellResult, log io.Writer) time.Duration {
	var wall time.Duration
	if bt.varied == nil {
		t := time.Now()
		bt.varied = map[string]error{}
		for _, name := range names {
			bt.varied[name] = r.buildVariation(ctx, b, bt, name, log)
		}
		bt.varyTook = time.Since(t)
		wall = bt.varyTook
	}
	res.Timings["variations"] = bt.varyTook / time.Duration(r.selfCells(bt))
	for _, name := range names {
		v := report.Variation{Name: name, Changed: variations[name].changed, Tarball: varyTarball(r.tarball(c), name)}
		if err := bt.varied[name]; err != nil {
			v.Error, v.Tarball = err.Error(), ""
		} else if a, err := oci.Analyze(ctx, v.Tarball); err != nil || a.ImageDigest == "" {
			v.Error = fmt.Sprintf("analyze the rebuild: %v", err)
		} else {
			v.Digest = a.ImageDigest.String()
		}
		dropIfSame(&v.Tarball, v.Digest, res.Digest)
		res.Variations = append(res.Variations, v)
	}
	return wall
}

// buildVariation builds the batch's self-checked cells from a varied copy
// of the fixture's context, in the run's folder (which the builder sees).
func (r *Cells) buildVariation(ctx context.Context, b *builder, bt *batch, name string, log io.Writer) error {
	v, ok := variations[name]
	if !ok {
		return fmt.Errorf("variation %q: unknown", name)
	}
	c := bt.cells[0]
	dir, err := os.MkdirTemp(filepath.Join(r.Shared.WorkDir, "cells"), "vary-"+name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil { // a rootless BuildKit reads it
		return err
	}
	ctxDir := filepath.Join(dir, "context-"+name)
	if err := varyContext(c.Fixture.Dir, ctxDir, v); err != nil {
		return fmt.Errorf("variation %s: copy the context: %w", name, err)
	}
	if v.clock {
		clocked, err := r.clockBuilder(ctx, c, b)
		if err != nil {
			return fmt.Errorf("variation %s: %w", name, err)
		}
		defer clocked.Remove(ctx, clocked.engine)
		b = clocked
	}
	opts, err := r.options(c, b)
	if err != nil {
		return err
	}
	opts.Context = ctxDir
	if rest, ok := strings.CutPrefix(opts.File, c.Fixture.Dir+string(filepath.Separator)); ok {
		opts.File = filepath.Join(ctxDir, rest)
	}
	for _, o := range bt.cells {
		if r.selfChecks[o.Name()] {
			opts.Outputs = append(opts.Outputs, output(o, varyTarball(r.tarball(o), name)))
		}
	}
	e := b.engine
	if len(v.env) > 0 {
		e = engine.WithEnv(e, v.env...)
	}
	if err := build.Run(ctx, e, opts, log); err != nil {
		return fmt.Errorf("variation %s: %w", name, err)
	}
	return nil
}

func varyTarball(tarball, name string) string {
	return filepath.Join(filepath.Dir(tarball), "vary-"+name+".tar")
}

// clockBuilder starts a builder like b on the image with the clock layer,
// its buildkitd running RUN steps through provision.FakeTimeRuntime. The
// caller removes it.
func (r *Cells) clockBuilder(ctx context.Context, c matrix.Cell, b *builder) (*builder, error) {
	bk := r.Shared.BuildKits[buildKitKey(c)]
	if bk.FakeTime == "" {
		return nil, fmt.Errorf("no image with the clock layer was made for BuildKit %s", buildKitKey(c))
	}
	clocked := &builder{Builder: b.Builder, engine: b.engine}
	clocked.Name = b.Name + "-time"
	clocked.BuildKitImage = bk.FakeTime
	clocked.BuildkitdFlags = append(slices.Clone(b.BuildkitdFlags), "--oci-worker-binary="+provision.FakeTimeRuntime)
	if err := clocked.Start(ctx, clocked.engine); err != nil {
		clocked.Remove(ctx, clocked.engine)
		return nil, err
	}
	return clocked, nil
}

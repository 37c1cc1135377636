package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Limits on the manifest graph, which hostile input could make huge.
const (
	maxNodes = 4096
	maxDepth = 16
)

// Analyze opens the tarball or layout directory at path, walks index.json ->
// manifests (through nested indexes) -> configs and layers, and checks every
// referenced blob and every file under blobs/ against its digest and size.
//
// Input that cannot be analysed at all (not a tar archive, truncated, no
// usable index.json) yields a nil Analysis and an error wrapping one of the
// sentinels. Otherwise the Analysis lists everything found, including every
// problem, and the error is Analysis.Err(): nil when the input is sound.
func Analyze(ctx context.Context, path string) (*Analysis, error) {
	return AnalyzeWith(ctx, path, Options{})
}

// AnalyzeWith is Analyze with options: limits, and diff_ids recomputed
// (Options.VerifyDiffIDs). An input over a limit is refused whole: a nil
// Analysis and a *LimitError.
func AnalyzeWith(ctx context.Context, path string, o Options) (*Analysis, error) {
	l, err := OpenWith(ctx, path, o)
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return nil, err // it names the path already
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer l.Close()
	a, err := l.Analyze(ctx)
	if a != nil {
		a.Path = path
	}
	return a, err
}

// Analyze does Analyze's checks on an opened layout.
func (l *Layout) Analyze(ctx context.Context) (*Analysis, error) {
	a := &Analysis{
		Format:         l.format(),
		IndexDigest:    l.indexDigest,
		IndexMediaType: l.index.MediaType,
		IndexContents:  json.RawMessage(l.indexRaw),
		Manifests:      []Manifest{},
		Problems:       []Problem{},
	}
	files, err := l.sweep(ctx, a)
	if err != nil {
		return nil, err
	}
	w := &walker{ctx: ctx, l: l, a: a, files: files, reported: map[string]bool{}, absent: map[string]bool{}}
	w.checkLayoutFile()
	w.checkIndex()
	for _, d := range l.index.Manifests {
		w.visit(d, "", 1)
	}
	w.checkDockerManifest()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w.reportUnreferenced()
	return a, a.Err()
}

func (l *Layout) format() string {
	switch {
	case l.docker:
		return "docker"
	case isDir(l.st):
		return "directory"
	}
	return "oci"
}

func isDir(st store) bool { _, ok := st.(*dirStore); return ok }

// sweep checks every file under blobs/ against the digest its name claims,
// referenced or not: a tampered blob is damage even if nothing uses it.
func (l *Layout) sweep(ctx context.Context, a *Analysis) (map[string]error, error) {
	files := map[string]error{}
	for _, name := range l.st.blobFiles() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		files[name] = l.verifyFile(ctx, name)
		if fi, err := l.st.lookup(name); err == nil {
			a.Blobs++
			a.BlobBytes += fi.size
		}
	}
	return files, ctx.Err()
}

// walker carries the state of one walk over the manifest graph.
type walker struct {
	ctx      context.Context
	l        *Layout
	a        *Analysis
	files    map[string]error // sweep result per blob file
	reported map[string]bool  // blob files already named in a problem
	absent   map[string]bool  // blob files of absent non-distributable layers
	kept     int64            // bytes of documents kept in the Analysis
	nodes    int
	capped   bool
}

// problem records err about blob, once per blob file where known.
func (w *walker) problem(key, blob string, err error) {
	if key != "" {
		if w.reported[key] {
			return
		}
		w.reported[key] = true
	}
	w.a.Problems = append(w.a.Problems, newProblem(blob, err))
}

// checkIndex insists on an image: repro-build's image digest is index.json's
// first manifest.
func (w *walker) checkIndex() {
	if len(w.l.index.Manifests) == 0 {
		w.problem("", indexName, fmt.Errorf("%s: %w", indexName, ErrNoManifests))
		return
	}
	w.a.ImageDigest = w.l.index.Manifests[0].Digest
}

// checkLayoutFile reads the oci-layout marker the image layout requires.
func (w *walker) checkLayoutFile() {
	fi, err := w.l.st.lookup(layoutName)
	if err == nil && fi.size > maxDocumentSize {
		err = fmt.Errorf("%w: %d bytes", ErrTooLarge, fi.size)
	}
	var raw []byte
	if err == nil {
		raw, err = readAll(w.l.st, layoutName, fi.size)
	}
	var lay ocispec.ImageLayout
	if err == nil {
		if jerr := json.Unmarshal(raw, &lay); jerr != nil || lay.Version == "" {
			err = fmt.Errorf("%w: no imageLayoutVersion in %q", ErrMalformed, raw)
		}
	}
	if err != nil {
		w.problem(layoutName, layoutName, fmt.Errorf("%s: %w", layoutName, err))
		return
	}
	w.a.LayoutVersion = lay.Version
}

// reportUnreferenced adds the sweep's findings not yet reported, and the
// store's own (duplicate entries and the like).
func (w *walker) reportUnreferenced() {
	for _, err := range w.l.st.problems() {
		w.problem("", "", err)
	}
	for _, name := range w.l.st.blobFiles() {
		if err := w.files[name]; err != nil {
			blob := name
			if d, derr := digestOfPath(name); derr == nil {
				blob = d.String()
			}
			w.problem(name, blob, err)
		}
	}
}

// readDoc reads a JSON document (manifest, index, config) the descriptor
// points to, verified, within the size limits.
func (w *walker) readDoc(d ocispec.Descriptor) ([]byte, error) {
	if err := validDigest(d.Digest); err != nil {
		return nil, err
	}
	if d.Size > maxDocumentSize {
		return nil, fmt.Errorf("blob %s: %w: a %d-byte JSON document, the limit is %d", d.Digest, ErrTooLarge, d.Size, maxDocumentSize)
	}
	if w.kept+d.Size > maxDocumentTotal {
		return nil, fmt.Errorf("blob %s: %w: the JSON documents exceed %d bytes in total", d.Digest, ErrTooLarge, maxDocumentTotal)
	}
	rc, err := w.l.Blob(w.ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	if !json.Valid(raw) {
		return nil, fmt.Errorf("blob %s: %w: not valid JSON", d.Digest, ErrMalformed)
	}
	w.kept += int64(len(raw))
	return raw, nil
}

// keyOf is the problem key for blob d: its file, or nothing if d is invalid.
func keyOf(d digest.Digest) string {
	if validDigest(d) != nil {
		return ""
	}
	return blobPath(d)
}

// Verify checks the opened layout as Analyze does: every file under blobs/
// against the digest its name claims, every blob the manifest graph
// references against its descriptor's digest and size, and the layout's own
// files (index.json, oci-layout, a docker manifest.json), and the configs'
// rootfs.diff_ids against the layers (recomputed when the Layout was opened
// with Options.VerifyDiffIDs). Like Analyze it accepts a non-distributable
// layer whose blob is absent; Blob then fails on that layer with
// ErrNotDistributed, which a caller reports as not comparable. It returns nil
// when the layout is sound, else Analyze's error: every problem, joined, each
// naming its blob or file and wrapping one of this package's sentinels.
//
// It is the whole-image half of the one verifier that both `repro-matrix
// analyze` and `repro-matrix diff` use (Blob is the per-read half): diff runs
// it on both sides before comparing, so that an image analyze calls damaged
// is never reported equal to anything (issue 10, point 4). The verdict is
// kept, and later calls return it without reading again; an error of ctx
// (cancelled, deadline) is returned as is and not kept.
func (l *Layout) Verify(ctx context.Context) error {
	l.verifyMu.Lock()
	defer l.verifyMu.Unlock()
	if l.verified {
		return l.verifyErr
	}
	_, err := l.Analyze(ctx)
	if err != nil && ctx.Err() != nil {
		return err
	}
	l.verified, l.verifyErr = true, err
	return err
}

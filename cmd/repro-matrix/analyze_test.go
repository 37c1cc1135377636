package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/repro-matrix/repro-matrix/internal/oci"
	"github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

// reproMatrixBin is the repro-matrix binary TestMain builds once for every
// CLI test in this package.
var reproMatrixBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "repro-matrix-cli-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	reproMatrixBin = filepath.Join(dir, "repro-matrix")
	build := exec.Command("go", "build", "-o", reproMatrixBin, ".")
	build.Stderr = os.Stderr
	code := 1
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build repro-matrix:", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

type cliResult struct {
	code           int
	stdout, stderr string
}

// runCLI runs the binary with args and returns its exit code and output.
func runCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(reproMatrixBin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	r := cliResult{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errOut.String()}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic:") {
		t.Fatalf("stack trace on stderr:\n%s", r.stderr)
	}
	return r
}

// expect checks the exit code and that stderr (or stdout, for exit 0)
// contains every one of want.
func (r cliResult) expect(t *testing.T, code int, want ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	text := r.stderr
	if code == 0 {
		text = r.stdout
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("output lacks %q:\n%s", w, text)
		}
	}
}

func analyzeTarball(t *testing.T, l *ocitest.Layout) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image.tar")
	if err := os.WriteFile(p, l.Tar(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAnalyzeCLISound(t *testing.T) {
	l := ocitest.MustBuildLayout(t, ocitest.Options{Docker: true})
	p := analyzeTarball(t, l)
	img := l.ImageDigest.String()
	runCLI(t, "analyze", p).expect(t, 0,
		"The OCI tarball contains an index and 1 manifest(s):",
		"Image digest: "+img, "Index (index.json):", "  Digest: "+l.IndexDigest.String(),
		"Manifest 1 (blobs/sha256/", "  Platform: linux/amd64", "every blob matches")
	runCLI(t, "analyze", "--expected-image-digest", img, p).expect(t, 0, "✅ Image digest matches "+img)
	runCLI(t, "analyze", "--expected-image-digest", l.ImageDigest.Encoded(), p).expect(t, 0, "Image digest matches")
}

func TestAnalyzeCLIMismatch(t *testing.T) {
	l := ocitest.MustBuildLayout(t, ocitest.Options{})
	other := ocitest.MustBuildLayout(t, ocitest.Options{Docker: true}).ImageDigest
	runCLI(t, "analyze", "--expected-image-digest", other.String(), analyzeTarball(t, l)).expect(t, 1,
		"does not have the expected digest", l.ImageDigest.String(), other.String())
}

func TestAnalyzeCLIUsage(t *testing.T) {
	p := analyzeTarball(t, ocitest.MustBuildLayout(t, ocitest.Options{}))
	runCLI(t, "analyze", "--expected-image-digest", "sha256:1234", p).expect(t, 2, "--expected-image-digest")
	runCLI(t, "analyze", "--expected-image-digest", "md5:abc", p).expect(t, 2, "--expected-image-digest")
	runCLI(t, "analyze").expect(t, 2, "arg")
	runCLI(t, "analyze", "--no-such-flag", p).expect(t, 2, "no-such-flag")
	runCLI(t, "analyze", filepath.Join(t.TempDir(), "missing.tar")).expect(t, 2, "missing.tar")
}

func TestAnalyzeCLIUnusable(t *testing.T) {
	dir := t.TempDir()
	good := ocitest.MustBuildLayout(t, ocitest.Options{Docker: true}).Tar()
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"text":      {[]byte("hello"), "not a tar archive"},
		"empty":     {nil, "not a tar archive"},
		"truncated": {good[:len(good)/2], "truncated"},
	} {
		p := filepath.Join(dir, name+".tar")
		if err := os.WriteFile(p, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		runCLI(t, "analyze", p).expect(t, 2, "repro-matrix: ", tc.want, p)
	}
}

// TestAnalyzeCLIDamaged lists every problem, and damage beats a digest match.
func TestAnalyzeCLIDamaged(t *testing.T) {
	l := ocitest.MustBuildLayout(t, ocitest.Options{Docker: true})
	damaged := l.Remove(ocitest.BlobPath(l.Layers[0].Digest)).
		Replace(ocitest.BlobPath(l.Layers[1].Digest), ocitest.Bytes([]byte("layer TWO")))
	p := analyzeTarball(t, damaged)
	want := []string{"2 problem(s)", "blob missing", l.Layers[0].Digest.String(), "digest mismatch", l.Layers[1].Digest.String()}
	runCLI(t, "analyze", p).expect(t, 2, want...)
	runCLI(t, "analyze", "--expected-image-digest", l.ImageDigest.String(), p).expect(t, 2, want...)
	r := runCLI(t, "analyze", "--json", p)
	r.expect(t, 2, want...)
	var a oci.Analysis
	if err := json.Unmarshal([]byte(r.stdout), &a); err != nil || len(a.Problems) != 2 {
		t.Errorf("JSON with %d problems (%v):\n%s", len(a.Problems), err, r.stdout)
	}
}

func TestAnalyzeCLIJSON(t *testing.T) {
	l := ocitest.MustBuildLayout(t, ocitest.Options{Nested: true})
	p := analyzeTarball(t, l)
	r := runCLI(t, "analyze", "--json", p)
	r.expect(t, 0)
	var a oci.Analysis
	if err := json.Unmarshal([]byte(r.stdout), &a); err != nil {
		t.Fatal(err)
	}
	if a.ImageDigest != l.ImageDigest || len(a.Manifests) != 2 || a.Manifests[1].LayerCount != 2 {
		t.Errorf("analysis %+v", a)
	}
	if strings.Contains(r.stdout, `"contents"`) {
		t.Errorf("contents without --show-contents")
	}
	r = runCLI(t, "analyze", "--json", "--show-contents", p)
	r.expect(t, 0, `"contents"`, `"configContents"`, `"indexContents"`)
}

func TestAnalyzeCLIShowContents(t *testing.T) {
	l := ocitest.MustBuildLayout(t, ocitest.Options{})
	p := analyzeTarball(t, l)
	short := runCLI(t, "analyze", p)
	short.expect(t, 0, "characters omitted. Pass --show-contents to print them in their entirety]")
	runCLI(t, "analyze", "--show-contents", p).expect(t, 0, "Config contents:", `"diff_ids"`, "\n      \"schemaVersion\": 2,")
}

// TestAnalyzeCLIForeignLayerAbsent: the cases README's foreign-layer-absent.
// A non-distributable layer's absent blob is accepted with a line saying it
// was not verified, with the complete image's digest; another missing blob
// stays damage.
func TestAnalyzeCLIForeignLayerAbsent(t *testing.T) {
	const dir = "../../internal/oci/testdata/foreign/"
	b := runCLI(t, "analyze", dir+"b-foreign-present.tar")
	b.expect(t, 0, "every blob matches")
	img := b.stdout[strings.Index(b.stdout, "Image digest: "):]
	img = img[:strings.Index(img, "\n")]
	runCLI(t, "analyze", dir+"a-foreign-absent.tar").expect(t, 0, img,
		"Not verified: layer 1 of manifest", "non-distributable (application/vnd.oci.image.layer.nondistributable.v1.tar+gzip)",
		"https://example.invalid/base-layer.tar.gz", "1 non-distributable layer(s) absent")
	r := runCLI(t, "analyze", "--json", dir+"a-foreign-absent.tar")
	var a oci.Analysis
	if err := json.Unmarshal([]byte(r.stdout), &a); err != nil || len(a.Unverified) != 1 || len(a.Unverified[0].URLs) != 1 {
		t.Errorf("JSON (%v): %s", err, r.stdout)
	}
	runCLI(t, "diff", dir+"a-foreign-absent.tar", dir+"b-foreign-present.tar").expect(t, 0, "identical")
}

// TestAnalyzeCLIDiffIDs: the config's rootfs.diff_ids are one per layer
// always (exit 2 otherwise); with --verify-diffids each must be its layer's
// uncompressed digest, in analyze and in diff's verification of each side.
func TestAnalyzeCLIDiffIDs(t *testing.T) {
	withIDs := func(edit func(ids []any) []any) (*ocitest.Layout, string) {
		img := ocitest.Image{Layers: []ocitest.Layer{{Entries: []ocitest.Entry{ocitest.File("a", "a")}}},
			Config: func(c map[string]any) {
				rootfs := c["rootfs"].(map[string]any)
				rootfs["diff_ids"] = edit(rootfs["diff_ids"].([]any))
			}}
		l := ocitest.MustBuildLayout(t, ocitest.Options{Images: []ocitest.Image{img}})
		return l, analyzeTarball(t, l)
	}
	_, extra := withIDs(func(ids []any) []any { return append(ids, ids[0]) })
	runCLI(t, "analyze", extra).expect(t, 2, "diff_id mismatch", "lists 2 rootfs.diff_ids", "has 1 layers")
	wrong := "sha256:" + strings.Repeat("0", 64)
	l, swapped := withIDs(func([]any) []any { return []any{wrong} })
	runCLI(t, "analyze", swapped).expect(t, 0, "every blob matches")
	want := []string{"diff_id mismatch", l.Layers[0].Digest.String(), wrong}
	runCLI(t, "analyze", "--verify-diffids", swapped).expect(t, 2, want...)
	runCLI(t, "diff", "--verify-diffids", swapped, swapped).expect(t, 2, append(want, "image A", "image B")...)
	_, sound := withIDs(func(ids []any) []any { return ids })
	runCLI(t, "analyze", "--verify-diffids", sound).expect(t, 0, "every blob matches")
}

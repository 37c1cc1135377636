package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/repro-matrix/repro-matrix/internal/oci"
)

func init() { register(newAnalyzeCmd) }

type analyzeOptions struct {
	expected     string
	showContents bool
	json         bool
	limits       oci.Limits
	diffIDs      bool
}

func newAnalyzeCmd() *cobra.Command {
	var o analyzeOptions
	cmd := &cobra.Command{
		Use:   "analyze [--expected-image-digest DIGEST] [--show-contents] [--json] [--verify-diffids] FILE",
		Short: "Analyze an image tarball and verify every blob against its digest",
		Long: `Analyze reads an image tarball written by BuildKit's docker or OCI exporter
(or an OCI layout directory), walks index.json -> manifests -> config and
layers, and prints the index digest, each manifest's digest, media type and
platform, and the image digest: the digest of index.json's first manifest,
as repro-build's analyze reports it. Every blob is checked against its digest
and size, referenced or not. A non-distributable layer whose blob is absent,
as the OCI image layout allows, is accepted and listed as not verified, with
its urls; any other missing blob is damage.
Each manifest's layers are held against its config's rootfs.diff_ids: one
per layer always, and with --verify-diffids each layer must decompress to its
diff_id (OCI image-spec, config.md "rootfs").

Exit status: 0 when the tarball is sound (and has the expected digest, if
given), 1 when its image digest differs from --expected-image-digest, 2 when
the input is unusable or damaged (every problem found is listed), or when it
exceeds a cap on entries, claimed sizes or decompressed size (the message
names the cap and the flag that raises it).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAnalyze(cmd.Context(), cmd.OutOrStdout(), args[0], o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.expected, "expected-image-digest", "", "the image digest the tarball must have: sha256:HEX, or the bare HEX as repro-build accepts")
	f.BoolVar(&o.showContents, "show-contents", false, "print index, manifests and configs in full, pretty-printed")
	f.BoolVar(&o.json, "json", false, "print the analysis as JSON")
	f.BoolVar(&o.diffIDs, "verify-diffids", false, "decompress every layer and check it against its rootfs.diff_ids entry (their number is always checked)")
	addLimitFlags(f, &o.limits)
	return cmd
}

func runAnalyze(ctx context.Context, stdout io.Writer, path string, o analyzeOptions) error {
	want, err := parseExpectedDigest(o.expected)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("--expected-image-digest %q: %w", o.expected, err))
	}
	a, err := oci.AnalyzeWith(ctx, path, oci.Options{Limits: o.limits, VerifyDiffIDs: o.diffIDs})
	if a == nil {
		return withCode(exitUsage, err)
	}
	w := bufio.NewWriter(stdout)
	if o.json {
		err = printAnalysisJSON(w, a, o.showContents)
	} else {
		err = printAnalysisText(w, a, o.showContents)
	}
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("write output: %w", err))
	}
	return analyzeVerdict(stdout, a, want, o.json)
}

// analyzeVerdict turns the analysis into the exit status: damage first, then the
// comparison with the expected digest.
func analyzeVerdict(stdout io.Writer, a *oci.Analysis, want digest.Digest, quiet bool) error {
	if len(a.Problems) > 0 {
		return withCode(exitUsage, &analyzeDamageError{path: a.Path, problems: a.Problems})
	}
	if want == "" {
		return nil
	}
	if a.ImageDigest != want {
		return withCode(exitMismatch, fmt.Errorf("the image does not have the expected digest: %s != %s", a.ImageDigest, want))
	}
	if !quiet {
		fmt.Fprintf(stdout, "✅ Image digest matches %s\n", want)
	}
	return nil
}

// parseExpectedDigest accepts "ALGORITHM:HEX" or, like repro-build, a bare
// sha256 hex string.
func parseExpectedDigest(s string) (digest.Digest, error) {
	if s == "" {
		return "", nil
	}
	if !strings.Contains(s, ":") {
		s = "sha256:" + s
	}
	d, err := digest.Parse(s)
	if err != nil {
		return "", fmt.Errorf("not a digest (want sha256:<64 lowercase hex digits>): %w", err)
	}
	return d, nil
}

// analyzeDamageError lists every problem found, one per line.
type analyzeDamageError struct {
	path     string
	problems []oci.Problem
}

func (e *analyzeDamageError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is damaged: %d problem(s) found:", e.path, len(e.problems))
	for _, p := range e.problems {
		fmt.Fprintf(&b, "\n  - %s", p.Message)
	}
	return b.String()
}

func (e *analyzeDamageError) Unwrap() []error {
	errs := make([]error, len(e.problems))
	for i, p := range e.problems {
		errs[i] = p
	}
	return errs
}

func printAnalysisJSON(w io.Writer, a *oci.Analysis, contents bool) error {
	if !contents {
		a.StripContents()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(a)
}

// printAnalysisText prints what repro-build's analyze prints, in its wording, plus
// the config and layers of each manifest and the verification summary.
func printAnalysisText(w io.Writer, a *oci.Analysis, full bool) error {
	kind := "tarball"
	if a.Format == "directory" {
		kind = "layout"
	}
	fmt.Fprintf(w, "The OCI %s contains an index and %d manifest(s):\n\n", kind, len(a.Manifests))
	fmt.Fprintf(w, "Image digest: %s\n", dashIfEmpty(string(a.ImageDigest)))
	fmt.Fprintf(w, "\nIndex (index.json):\n")
	printAnalyzedDoc(w, a.IndexDigest, a.IndexMediaType, "", a.IndexContents, full)
	for i, m := range a.Manifests {
		fmt.Fprintf(w, "\nManifest %d (%s):\n", i+1, dashIfEmpty(m.Path))
		printAnalyzedManifest(w, m, full)
	}
	fmt.Fprintln(w)
	for _, u := range a.Unverified {
		fmt.Fprintf(w, "Not verified: %s\n", u)
	}
	if len(a.Problems) > 0 {
		return nil
	}
	var err error
	if len(a.Unverified) == 0 {
		_, err = fmt.Fprintf(w, "Verified %d blob(s), %d bytes: every blob matches its digest and size.\n", a.Blobs, a.BlobBytes)
	} else {
		_, err = fmt.Fprintf(w, "Verified %d blob(s), %d bytes: every blob present matches its digest and size; %d non-distributable layer(s) absent, as the OCI image layout allows, not verified.\n",
			a.Blobs, a.BlobBytes, len(a.Unverified))
	}
	return err
}

func printAnalyzedManifest(w io.Writer, m oci.Manifest, full bool) {
	printAnalyzedDoc(w, m.Digest, m.MediaType, m.PlatformString(), m.Contents, full)
	if m.ConfigDigest == "" {
		return
	}
	fmt.Fprintf(w, "  Config: %s\n", m.ConfigDigest)
	fmt.Fprintf(w, "  Layers: %d (%d bytes)\n", m.LayerCount, m.LayerBytes)
	if full && m.ConfigContents != nil {
		fmt.Fprintf(w, "  Config contents:\n%s\n", prettyJSON(m.ConfigContents))
	}
}

// printAnalyzedDoc prints the lines repro-build prints for the index and each manifest.
func printAnalyzedDoc(w io.Writer, d digest.Digest, mediaType, platform string, raw []byte, full bool) {
	fmt.Fprintf(w, "  Digest: %s\n", d)
	fmt.Fprintf(w, "  Media type: %s\n", dashIfEmpty(mediaType))
	fmt.Fprintf(w, "  Platform: %s\n", dashIfEmpty(platform))
	switch {
	case raw == nil:
		fmt.Fprintf(w, "  Contents: (unreadable: see the problems reported)\n")
	case full:
		fmt.Fprintf(w, "  Contents:\n%s\n", prettyJSON(raw))
	default:
		fmt.Fprintf(w, "  Contents: %s\n", snipContents(string(raw), 600))
	}
}

// snipContents flattens contents to one line and cuts it to n characters, in
// repro-build's words.
func snipContents(contents string, n int) string {
	r := []rune(strings.ReplaceAll(contents, "\n", ""))
	if len(r) <= n {
		return string(r)
	}
	return fmt.Sprintf("%s  [... %d characters omitted. Pass --show-contents to print them in their entirety]", string(r[:n]), len(r)-n)
}

// prettyJSON indents a JSON document under its heading.
func prettyJSON(raw []byte) string {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "    ", "  "); err != nil {
		return "    " + string(raw)
	}
	return "    " + b.String()
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

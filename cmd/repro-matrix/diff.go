package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/repro-matrix/repro-matrix/internal/imagediff"
	"github.com/repro-matrix/repro-matrix/internal/oci"
)

func init() { register(newDiffCmd) }

// diffFlags are the options of the diff subcommand.
type diffFlags struct {
	semantic      bool
	json          bool
	max           int
	epoch         string
	verifyDiffIDs bool
	limits        oci.Limits
}

func newDiffCmd() *cobra.Command {
	var f diffFlags
	cmd := &cobra.Command{
		Use:   "diff [--semantic] [--json] A B",
		Short: "Compare two images and explain why they differ",
		Long: `Compare two images, each an image tarball (docker or OCI exporter output)
or an OCI layout directory, level by level: index, manifests (paired by
platform), configs, and every entry of every layer, streamed.

Two verdicts come out: strict (any byte differs) and semantic (ignoring what
no container sees: history, image timestamps, tar entry order and header
format, docker vs OCI media types, compression). Differences that match a
known cause come with a hint naming what normalizes them.

Every blob diff reads is verified as analyze verifies it (digest and size),
and each image is first checked whole as analyze checks it: a damaged image is
never reported equal, not even to itself.

Exit status: 0 when the images are equal under the chosen verdict (strict,
or semantic with --semantic), 1 when they differ, 2 for unusable input,
including an image that analyze calls damaged (the message names the side, A
or B, and every bad blob) and one over a cap on entries, claimed sizes or
decompressed size (the message names the cap and the flag that raises it).`,
		Example: `  repro-matrix diff build-a.tar build-b.tar
  repro-matrix diff --semantic --max 50 ./layout-a ./layout-b
  repro-matrix diff --json a.tar b.tar > diff.json`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return withCode(exitUsage, fmt.Errorf("diff needs two images, A and B (got %d argument(s))", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDiff(cmd.Context(), cmd.OutOrStdout(), args[0], args[1], f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.semantic, "semantic", false, "judge by the semantic verdict: exit 0 if only strict-only differences remain, and show only semantic ones")
	fl.BoolVar(&f.json, "json", false, "print the whole result as JSON instead of the tree")
	fl.IntVar(&f.max, "max", 20, "number of difference lines shown (0: all)")
	fl.StringVar(&f.epoch, "source-date-epoch", "", "SOURCE_DATE_EPOCH of the builds (Unix seconds or RFC 3339) for timestamp hints; default $SOURCE_DATE_EPOCH, else the configs' created time")
	fl.BoolVar(&f.verifyDiffIDs, "verify-diffids", false, "check every layer of both images against its diff-id as analyze --verify-diffids does, and stream layers whose configs claim equal diff-ids instead of trusting the claim")
	addLimitFlags(fl, &f.limits)
	return cmd
}

func runDiff(ctx context.Context, stdout io.Writer, pathA, pathB string, f diffFlags) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = withCode(exitUsage, fmt.Errorf("diff: internal error: %v", p))
		}
	}()
	if ctx == nil {
		ctx = context.Background()
	}
	if f.max < 0 {
		return withCode(exitUsage, fmt.Errorf("--max must be 0 or more, not %d", f.max))
	}
	epoch, err := parseEpoch(f.epoch)
	if err != nil {
		return withCode(exitUsage, err)
	}
	a, err := oci.OpenWith(ctx, pathA, oci.Options{Limits: f.limits, VerifyDiffIDs: f.verifyDiffIDs})
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("image A: %w", err))
	}
	defer a.Close()
	b, err := oci.OpenWith(ctx, pathB, oci.Options{Limits: f.limits, VerifyDiffIDs: f.verifyDiffIDs})
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("image B: %w", err))
	}
	defer b.Close()

	res, err := imagediff.Diff(ctx, a, b, imagediff.Options{
		NameA: pathA, NameB: pathB,
		SourceDateEpoch: epoch,
		VerifyDiffIDs:   f.verifyDiffIDs,
	})
	if err != nil {
		return withCode(exitUsage, err)
	}
	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		err = enc.Encode(res)
	} else {
		max := f.max
		if max == 0 {
			max = math.MaxInt
		}
		err = res.WriteTextOptions(stdout, imagediff.TextOptions{Max: max, SemanticOnly: f.semantic})
	}
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("write result: %w", err))
	}
	if !res.EqualUnder(f.semantic) {
		verdict := "strict"
		if f.semantic {
			verdict = "semantic"
		}
		return withCode(exitMismatch, fmt.Errorf("images differ (%s verdict)", verdict))
	}
	return nil
}

// parseEpoch reads --source-date-epoch, falling back on $SOURCE_DATE_EPOCH.
func parseEpoch(s string) (*time.Time, error) {
	from := "--source-date-epoch"
	if s == "" {
		s, from = os.Getenv("SOURCE_DATE_EPOCH"), "$SOURCE_DATE_EPOCH"
	}
	if s == "" {
		return nil, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		t := time.Unix(n, 0).UTC()
		return &t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, errors.New(from + ": want Unix seconds or an RFC 3339 time, not " + strconv.Quote(s))
	}
	return &t, nil
}

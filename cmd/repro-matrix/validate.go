package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/repro-matrix/repro-matrix/internal/matrix"
)

func init() { register(newValidateCmd) }

func newValidateCmd() *cobra.Command {
	var limits matrix.Limits
	cmd := &cobra.Command{
		Use:   "validate [FILE]",
		Short: "Check the matrix file and list every problem in it",
		Long: `Validate loads the matrix file (default: ` + matrix.DefaultFile + ` in the current folder) as every
other command does: strict decoding, defaults, absolute paths, then every check, including the
fixtures' folders and golden.yaml files, the BuildKit pins and the known divergences' expiry dates.
It asks no network: a BuildKit ladder is checked by its bounds (versions, from not after to), and a
BuildKit version range (buildkit>=v0.31.0) must overlap a version the file declares, a ladder's
bounds, or, for latest, the newest declared version and after.

It prints a summary and exits 0 when the file is sound. Otherwise it lists every problem, one a line
with its field path and line (engines[2].version: ... (line 12)), and exits 2. A file that is not
UTF-8 or not YAML is one error naming the file and the line, and nothing else is reported.

Loading is bounded: a file beyond one of the limits below is refused at once (exit 2), naming the
limit. The --max-* flags raise them for this run; ` + matrix.LimitsEnv + `=key=N,... raises them for
every command (keys: ` + strings.Join(matrix.LimitKeys, ", ") + `). Ctrl-C stops the load.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := matrixFileArg(args)
			m, err := loadMatrix(cmd.Context(), file, limits, true)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s: valid: %d engines, %d BuildKits, %d fixtures, %d exporters, %d known divergences\n",
				file, len(m.Engines), len(m.BuildKits), len(m.Fixtures), len(m.Exporters), len(m.KnownDivergences))
			for _, name := range m.ProfileNames() {
				cells, err := m.Expand(name)
				switch {
				case errors.Is(err, matrix.ErrUnresolvedLadder):
					fmt.Fprintf(out, "  profile %s: runs a BuildKit ladder, resolved when it runs (repro-matrix cells --profile %s lists its cells)\n", name, name)
				case err != nil: // validation expands every profile; this cannot fail
					return withCode(exitUsage, err)
				default:
					fmt.Fprintf(out, "  profile %s: %d cells\n", name, len(cells))
				}
			}
			return nil
		},
	}
	d := matrix.DefaultLimits
	f := cmd.Flags()
	f.Int64Var(&limits.Bytes, "max-bytes", 0, fmt.Sprintf("the largest matrix or golden.yaml file read, in bytes (default %d)", d.Bytes))
	f.IntVar(&limits.Aliases, "max-aliases", 0, fmt.Sprintf("how many YAML aliases (*name) the file may hold (default %d)", d.Aliases))
	f.IntVar(&limits.Depth, "max-depth", 0, fmt.Sprintf("how deeply YAML collections may nest, aliases expanded (default %d)", d.Depth))
	f.IntVar(&limits.Nodes, "max-nodes", 0, fmt.Sprintf("how many YAML nodes the file may hold, aliases expanded (default %d)", d.Nodes))
	f.IntVar(&limits.Cells, "max-cells", 0, fmt.Sprintf("how many cell checks expanding every profile may take (default %d)", d.Cells))
	return cmd
}

// matrixFileArg is the FILE argument of validate and cells, or the default.
func matrixFileArg(args []string) string {
	if len(args) > 0 && args[0] != "" {
		return args[0]
	}
	return matrix.DefaultFile
}

// loadMatrixArg loads the matrix file with the default limits; see
// loadMatrix.
func loadMatrixArg(file string) (*matrix.Matrix, error) {
	return loadMatrix(context.Background(), file, matrix.Limits{}, false)
}

// loadMatrix loads the matrix file under limits (zero ones: the defaults,
// as matrix.LimitsEnv changes them); cancelling ctx stops the load. Its
// errors carry exit code 2 and, for an invalid file, list every problem on
// a line of its own. A limit exceeded names the validate flag that raises
// it when flags is set.
func loadMatrix(ctx context.Context, file string, limits matrix.Limits, flags bool) (*matrix.Matrix, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	m, err := matrix.LoadContext(ctx, file, matrix.WithLimits(limits))
	var verrs matrix.ValidationErrors
	var lerr *matrix.LimitError
	switch {
	case errors.As(err, &verrs):
		noun := "problems"
		if len(verrs) == 1 {
			noun = "problem"
		}
		lines := make([]string, len(verrs))
		for i, e := range verrs {
			lines[i] = "  " + e.Error()
		}
		return nil, withCode(exitUsage, fmt.Errorf("%s: %d %s:\n%s", file, len(verrs), noun, strings.Join(lines, "\n")))
	case errors.As(err, &lerr) && flags:
		return nil, withCode(exitUsage, fmt.Errorf("%w, or for this run with --max-%s N", err, lerr.Key))
	case err != nil:
		return nil, withCode(exitUsage, err)
	}
	return m, nil
}

package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/repro-matrix/repro-matrix/internal/matrix"
)

func init() { register(newValidateCmd) }

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate [FILE]",
		Short: "Check the matrix file and list every problem in it",
		Long: `Validate loads the matrix file (default: ` + matrix.DefaultFile + ` in the current folder) as every
other command does: strict decoding, defaults, absolute paths, then every check, including the
fixtures' folders and golden.yaml files, the BuildKit pins and the known divergences' expiry dates.

It prints a summary and exits 0 when the file is sound. Otherwise it lists every problem, one a line
with its field path (engines[2].version: ...), and exits 2.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := matrixFileArg(args)
			m, err := loadMatrixArg(file)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s: valid: %d engines, %d BuildKits, %d fixtures, %d exporters, %d known divergences\n",
				file, len(m.Engines), len(m.BuildKits), len(m.Fixtures), len(m.Exporters), len(m.KnownDivergences))
			for _, name := range m.ProfileNames() {
				cells, err := m.Expand(name)
				if err != nil { // validation expands every profile; this cannot fail
					return withCode(exitUsage, err)
				}
				fmt.Fprintf(out, "  profile %s: %d cells\n", name, len(cells))
			}
			return nil
		},
	}
}

// matrixFileArg is the FILE argument of validate and cells, or the default.
func matrixFileArg(args []string) string {
	if len(args) > 0 && args[0] != "" {
		return args[0]
	}
	return matrix.DefaultFile
}

// loadMatrixArg loads the matrix file; its errors carry exit code 2 and,
// for an invalid file, list every problem on a line of its own.
func loadMatrixArg(file string) (*matrix.Matrix, error) {
	m, err := matrix.Load(file)
	var verrs matrix.ValidationErrors
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
	case err != nil:
		return nil, withCode(exitUsage, err)
	}
	return m, nil
}

package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/build"
	"github.com/repro-matrix/repro-matrix/internal/matrix"
)

// Floor builds the batch of c (the cell and the selected cells of its other
// exporters) once more on its pair's builder, into a scratch folder, and
// returns the build's wall time and its number of outputs. Run a cell of
// the pair first: the builder is then warm, and Floor measures what a cell
// cannot go below (make bench-matrix compares the cells' times to it).
func (r *Cells) Floor(ctx context.Context, c matrix.Cell, log io.Writer) (time.Duration, int, error) {
	r.mu.Lock()
	b, ok := r.builders[Pair(c)]
	r.mu.Unlock()
	if !ok || b.err != nil {
		return 0, 0, fmt.Errorf("floor of %s: its builder has not started (run a cell of %s first)", c.Name(), Pair(c))
	}
	env := r.envs[c.Engine.Name]
	bt := r.batch(c, env)
	opts, err := r.options(c, b)
	if err != nil {
		return 0, 0, err
	}
	dir, err := os.MkdirTemp(r.Shared.WorkDir, "floor-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	for i, o := range bt.cells {
		opts.Outputs = append(opts.Outputs, output(o, filepath.Join(dir, fmt.Sprintf("%d.tar", i))))
	}
	t := time.Now()
	if err := build.Run(ctx, b.engine, opts, log); err != nil {
		return 0, 0, fmt.Errorf("floor of %s: %w", c.Name(), err)
	}
	return time.Since(t), len(bt.cells), nil
}

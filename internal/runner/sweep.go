package runner

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/engine"
)

// Sweep removes what earlier runs left on the host engines: containers and
// volumes labelled RunLabel, and the builders of matrix cells (buildx
// cannot label them; their containers are named after the builder). The
// CLI's own builders (repro-matrix-build-*) are kept for their cache.
func Sweep(ctx context.Context, log io.Writer) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for _, kind := range []engine.Kind{engine.Docker, engine.Podman} {
		e, err := engine.Host(ctx, kind)
		if err != nil {
			continue
		}
		sweepEngine(ctx, e, log)
	}
}

func sweepEngine(ctx context.Context, e engine.Engine, log io.Writer) {
	lists := []struct{ what, filter string }{
		{"container", "label=" + RunLabel},
		{"container", "name=buildx_buildkit_repro-matrix-run-"},
	}
	for _, l := range lists {
		out, _ := engine.Run(ctx, e, "ps", "-aq", "--filter", l.filter)
		if ids := strings.Fields(out); len(ids) > 0 {
			fmt.Fprintf(log, "sweep: removing %d leftover containers from %s\n", len(ids), e.Name())
			engine.Run(ctx, e, append([]string{"rm", "-f", "-v"}, ids...)...)
		}
	}
	for _, filter := range []string{"label=" + RunLabel, "name=buildx_buildkit_repro-matrix-run-"} {
		out, _ := engine.Run(ctx, e, "volume", "ls", "-q", "--filter", filter)
		if ids := strings.Fields(out); len(ids) > 0 {
			fmt.Fprintf(log, "sweep: removing %d leftover volumes from %s\n", len(ids), e.Name())
			engine.Run(ctx, e, append([]string{"volume", "rm", "-f"}, ids...)...)
		}
	}
	out, _ := engine.Run(ctx, e, "network", "ls", "-q", "--filter", "label="+RunLabel)
	if ids := strings.Fields(out); len(ids) > 0 {
		fmt.Fprintf(log, "sweep: removing %d leftover networks from %s\n", len(ids), e.Name())
		engine.Run(ctx, e, append([]string{"network", "rm"}, ids...)...)
	}
}

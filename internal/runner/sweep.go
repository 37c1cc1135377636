package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/engine"
)

// runsDir holds one lock file per running run: a run holds its lock until
// it ends (or dies), so Sweep can tell leftovers from a run that is going on.
var runsDir = filepath.Join(os.TempDir(), "repro-matrix-runs")

// runIDRe finds a run id (NewRunID) in a container or volume name.
var runIDRe = regexp.MustCompile(`\d{8}-\d{6}-[0-9a-f]{6}`)

// Lock marks the run as alive until the returned function is called or
// the process exits.
func Lock(runID string) (func(), error) {
	if err := os.MkdirAll(runsDir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(runsDir, runID+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("run %s is locked: %w", runID, err)
	}
	return func() { os.Remove(f.Name()); f.Close() }, nil
}

// alive reports whether a run still holds its lock.
func alive(runID string) bool {
	f, err := os.Open(filepath.Join(runsDir, runID+".lock"))
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return true
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

// Sweep removes what earlier runs that are no longer alive left on the host
// engines: containers, volumes and networks labelled engine.RunLabel, and the
// buildx builders of matrix runs (buildx cannot label them; their containers and
// volumes carry the run id in their names). The CLI's own builders
// (repro-matrix-build-*) are kept for their cache.
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
	if _, err := user.Lookup(engine.RootlessUser); err == nil {
		if e, err := engine.HostAs(ctx, engine.Podman, engine.RootlessUser); err == nil {
			sweepEngine(ctx, e, log)
		}
	}
}

// leftover is something a run created, listed with "ID RUNID" or "ID NAME".
type leftover struct {
	list   []string // the listing command, printing "{{.ID}} <run label or name>"
	remove []string // the removal command; IDs are appended
}

func sweepEngine(ctx context.Context, e engine.Engine, log io.Writer) {
	label := `{{.Label "` + engine.RunLabel + `"}}`
	kinds := []leftover{
		{[]string{"ps", "-a", "--filter", "label=" + engine.RunLabel, "--format", "{{.ID}} " + label}, []string{"rm", "-f", "-v"}},
		{[]string{"ps", "-a", "--filter", "name=buildx_buildkit_repro-matrix-run-", "--format", "{{.ID}} {{.Names}}"}, []string{"rm", "-f", "-v"}},
		{[]string{"volume", "ls", "--filter", "label=" + engine.RunLabel, "--format", "{{.Name}} " + label}, []string{"volume", "rm", "-f"}},
		{[]string{"volume", "ls", "--filter", "name=buildx_buildkit_repro-matrix-run-", "--format", "{{.Name}} {{.Name}}"}, []string{"volume", "rm", "-f"}},
		{[]string{"network", "ls", "--filter", "label=" + engine.RunLabel, "--format", "{{.ID}} " + label}, []string{"network", "rm"}},
	}
	for _, k := range kinds {
		out, err := engine.Run(ctx, e, k.list...)
		if err != nil {
			continue
		}
		var ids []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			id, owner, _ := strings.Cut(line, " ")
			if id == "" {
				continue
			}
			if run := runIDRe.FindString(owner); run == "" || !alive(run) {
				ids = append(ids, id)
			}
		}
		if len(ids) > 0 {
			fmt.Fprintf(log, "sweep: removing %d leftovers of earlier runs from %s (%s)\n", len(ids), e.Name(), strings.Join(k.list[:2], " "))
			engine.Run(ctx, e, append(k.remove, ids...)...)
		}
	}
}

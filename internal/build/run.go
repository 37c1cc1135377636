package build

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/engine"
)

// DryRun writes the commands a build would run, one a line.
func DryRun(w io.Writer, o Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	for _, s := range o.Plan(o.paths()) {
		if s.Skip != nil {
			fmt.Fprintf(w, "# unless `%s` succeeds:\n", s.skipString(o.Runtime))
		}
		fmt.Fprintln(w, s.String(string(o.Runtime)))
	}
	return nil
}

func (s Step) skipString(cli engine.Kind) string { return Step{Args: s.Skip}.String(string(cli)) }

// Run builds under e and writes the tarballs of o.Outputs. Each is
// written under a temporary name and renamed only when the build succeeds,
// so a failed or cancelled build leaves nothing behind. Build output goes
// to log.
func Run(ctx context.Context, e engine.Engine, o Options, log io.Writer) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if e.Kind() != o.Runtime {
		return fmt.Errorf("build: runtime %s but engine %s", o.Runtime, e.Name())
	}
	dests := make([]string, len(o.Outputs))
	for i, out := range o.Outputs {
		d, err := tempOutput(out.Path)
		if err != nil {
			return err
		}
		dests[i] = d
		defer os.Remove(d)
	}
	for _, s := range o.Plan(dests) {
		if err := runStep(ctx, e, s, dests[0], log); err != nil {
			return err
		}
	}
	for i, d := range dests {
		if err := finish(d, o.Outputs[i].Path); err != nil {
			return err
		}
	}
	return nil
}

// finish moves a written tarball to its path.
func finish(dest, path string) error {
	if _, err := os.Stat(dest); err != nil {
		return fmt.Errorf("build finished but wrote no tarball %s: %w", filepath.Base(path), err)
	}
	// BuildKit in a container writes the tarball world-writable.
	if err := os.Chmod(dest, 0o644); err != nil {
		return fmt.Errorf("export tarball: %w", err)
	}
	if err := os.Rename(dest, path); err != nil {
		return fmt.Errorf("export tarball: %w", err)
	}
	return nil
}

// paths are the outputs' paths, for a dry run.
func (o *Options) paths() []string {
	p := make([]string, len(o.Outputs))
	for i, out := range o.Outputs {
		p[i] = out.Path
	}
	return p
}

func runStep(ctx context.Context, e engine.Engine, s Step, dest string, log io.Writer) error {
	if s.Skip != nil {
		if _, err := engine.Run(ctx, e, s.Skip...); err == nil {
			return nil
		}
	}
	cmd := e.Command(ctx, s.Args...)
	var stderr tailBuffer
	cmd.Stdout = log
	cmd.Stderr = io.MultiWriter(log, &stderr)
	// On cancellation buildx cancels the build when told SIGTERM. Podman has
	// no daemon, and the build container's PID 1 (a shell script) ignores
	// the signals podman forwards: kill the container, then podman run
	// returns and --rm removes it. A build on a started builder (podman
	// exec) ends with the builder, which its owner removes.
	oneOff := e.Kind() == engine.Podman && s.Args[0] == "run"
	cmd.Cancel = func() error {
		if oneOff {
			removeContainer(e, containerName(dest))
		}
		return cmd.Process.Signal(syscall.SIGTERM)
	}
	cmd.WaitDelay = 15 * time.Second
	err := cmd.Run()
	if oneOff && ctx.Err() != nil {
		removeContainer(e, containerName(dest)) // in case it was still starting
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("build cancelled: %w", ctx.Err())
		}
		return &engine.CommandError{Args: cmd.Args, Err: err, Stderr: stderr.String()}
	}
	return nil
}

// removeContainer removes a build container left by a cancelled podman run.
func removeContainer(e engine.Engine, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	engine.Run(ctx, e, "rm", "-f", "--time", "0", "--ignore", name)
}

// tempOutput picks a temporary tarball name beside out.
func tempOutput(out string) (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(abs), "."+filepath.Base(abs)+".partial-"+hex.EncodeToString(b[:])), nil
}

// tailBuffer keeps the last 64 KiB written to it: enough for an error
// message, bounded for a chatty build.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	const max = 64 << 10
	t.b = append(t.b, p...)
	if len(t.b) > max {
		t.b = t.b[len(t.b)-max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return strings.TrimSpace(string(t.b)) }

// IsUnsupported reports whether err refuses an option for the runtime.
func IsUnsupported(err error) bool { return errors.Is(err, ErrUnsupported) }

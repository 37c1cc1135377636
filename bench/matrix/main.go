// Command matrix is `make bench-matrix`. For each profile it times a plain
// build of each distinct build on a warm BuildKit (the floor: the host
// Podman's builder driven with buildctl, the same BuildKit and outputs),
// then runs the profile with the Ginkgo suite as `make matrix` does, with
// one process (each cell has the machine, as the floor had) and with
// -procs processes (a run's wall time). It prints side by side per profile,
// process count and engine: the run's wall time, the cell phase, the sum of
// cell times, the floor of those cells and their ratio.
//
//	go run ./bench/matrix [-profiles smoke,bench] [-procs N] [-reps 3]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/engine"
	"github.com/repro-matrix/repro-matrix/internal/images"
	"github.com/repro-matrix/repro-matrix/internal/matrix"
	"github.com/repro-matrix/repro-matrix/internal/provision"
	"github.com/repro-matrix/repro-matrix/internal/report"
	"github.com/repro-matrix/repro-matrix/internal/runner"
)

func main() {
	matrixFile := flag.String("matrix", "matrix.yaml", "matrix file")
	profiles := flag.String("profiles", "smoke,bench", "profiles to run, comma-separated")
	procs := flag.Int("procs", 2, "Ginkgo processes")
	reps := flag.Int("reps", 3, "floor builds per distinct build (the median counts)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *matrixFile, strings.Split(*profiles, ","), *procs, *reps); err != nil {
		fmt.Fprintln(os.Stderr, "bench-matrix:", err)
		os.Exit(1)
	}
}

// profileRun is one profile's run: its wall time and its cells' results.
type profileRun struct {
	name    string
	procs   int
	wall    time.Duration
	results []report.CellResult
	floors  map[string]*floor
}

func run(ctx context.Context, matrixFile string, profiles []string, procs, reps int) error {
	abs, err := filepath.Abs(matrixFile)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "repro-matrix-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	// One process gives each cell the machine, as the floor has it; procs
	// processes give the wall time of a run.
	counts := []int{1}
	if procs > 1 {
		counts = append(counts, procs)
	}
	var runs []profileRun
	for _, p := range profiles {
		floors, err := measureFloors(ctx, abs, p, reps, work)
		if err != nil {
			return err
		}
		printFloors(os.Stdout, p, floors)
		for _, n := range counts {
			r, err := runProfile(ctx, abs, p, n, work)
			if err != nil {
				return err
			}
			r.floors = floors
			runs = append(runs, r)
		}
	}
	printRuns(os.Stdout, runs)
	return nil
}

// runProfile runs the suite on a profile and reads its results.
func runProfile(ctx context.Context, matrixFile, profile string, procs int, work string) (profileRun, error) {
	reports := filepath.Join(work, fmt.Sprintf("%s-%d", profile, procs))
	logPath := reports + ".log"
	logf, err := os.Create(logPath)
	if err != nil {
		return profileRun{}, err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, "go", "tool", "ginkgo", "-p", fmt.Sprintf("--procs=%d", procs), "--tags", "matrix",
		"--timeout=3h", "./suites/matrix", "--", "-matrix="+matrixFile, "-profile="+profile, "-reports="+reports)
	cmd.Env = append(os.Environ(), "TESTCONTAINERS_RYUK_DISABLED=true")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 3 * time.Minute
	fmt.Fprintf(os.Stderr, "bench-matrix: profile %s (%d processes; log %s)\n", profile, procs, logPath)
	start := time.Now()
	runErr := cmd.Run()
	wall := time.Since(start)
	if runErr != nil {
		out, _ := os.ReadFile(logPath)
		return profileRun{}, fmt.Errorf("profile %s: %v\n%s", profile, runErr, tail(string(out), 30))
	}
	res, err := report.ReadJSON(filepath.Join(reports, "results.json"))
	if err != nil {
		return profileRun{}, err
	}
	fmt.Fprintf(os.Stderr, "bench-matrix: profile %s: %d cells in %s\n", profile, len(res.Results), wall.Round(100*time.Millisecond))
	return profileRun{name: profile, procs: procs, wall: wall, results: res.Results}, nil
}

// floor is the median time of one distinct build on a warm daemon.
type floor struct {
	build   string // fixture/platform/buildkit
	outputs int
	times   []time.Duration
	median  time.Duration
}

// distinct names the build a cell belongs to, whatever its engine.
func distinct(fixture, platform, buildkit string) string {
	return fixture + "/" + platform + "/" + buildkit
}

// measureFloors builds each distinct build of the profile's host-Podman
// cells once (which starts and warms its builder and checks the build),
// then reps times more, timed.
func measureFloors(ctx context.Context, matrixFile, profile string, reps int, work string) (map[string]*floor, error) {
	m, err := matrix.Load(matrixFile)
	if err != nil {
		return nil, err
	}
	all, err := m.Expand(profile)
	if err != nil {
		return nil, err
	}
	var cells []matrix.Cell
	for _, c := range all {
		if c.Engine.Kind == matrix.EngineKind(engine.Podman) && c.Engine.Where == matrix.Host {
			cells = append(cells, c)
		}
	}
	if len(cells) == 0 {
		return nil, fmt.Errorf("profile %s has no cell under the host's Podman, where the floor is measured", profile)
	}
	src := &images.Source{Cache: provision.DefaultCache(), Log: io.Discard}
	p, err := runner.Prepare(ctx, m, cells, src, filepath.Join(work, "floor-"+profile), io.Discard)
	defer p.Close(context.WithoutCancel(ctx))
	if err != nil {
		return nil, err
	}
	r := runner.NewCells(p.Shared, cells, cells)
	defer r.Close(context.WithoutCancel(ctx))
	floors := map[string]*floor{}
	for _, c := range cells {
		a := c.Coords()
		key := distinct(a.Fixture, a.Platform, a.BuildKit)
		if floors[key] != nil {
			continue
		}
		if res := r.Run(ctx, c, io.Discard); res.Error != "" {
			return nil, fmt.Errorf("floor warm-up %s: %s", c.Name(), res.Error)
		}
		f := &floor{build: key}
		for range reps {
			d, n, err := r.Floor(ctx, c, io.Discard)
			if err != nil {
				return nil, err
			}
			f.times, f.outputs = append(f.times, d), n
		}
		sorted := slices.Clone(f.times)
		slices.Sort(sorted)
		f.median = sorted[len(sorted)/2]
		floors[key] = f
		fmt.Fprintf(os.Stderr, "bench-matrix: floor %s (%d outputs): %s\n", key, f.outputs, f.median.Round(time.Millisecond))
	}
	return floors, nil
}

func printFloors(w io.Writer, profile string, floors map[string]*floor) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "profile %s: distinct build (warm buildctl, host Podman)\toutputs\tfloor (median)\truns\n", profile)
	for _, k := range slices.Sorted(maps.Keys(floors)) {
		f := floors[k]
		var ts []string
		for _, t := range f.times {
			ts = append(ts, secs(t))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", k, f.outputs, secs(f.median), strings.Join(ts, " "))
	}
	tw.Flush()
	fmt.Fprintln(w)
}

// printRuns prints per profile, process count and engine: wall time, cell
// phase, sum of cell times, the floor of those cells and their ratio.
func printRuns(w io.Writer, runs []profileRun) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "profile\tprocs\tengine\tcells\trun wall\tcell phase\tsum of cells\tfloor\tcells / floor\tself-checks\n")
	for _, r := range runs {
		byEngine := map[string][]report.CellResult{}
		for _, c := range r.results {
			byEngine[c.Axes.Engine] = append(byEngine[c.Axes.Engine], c)
			byEngine["all"] = append(byEngine["all"], c)
		}
		for _, e := range slices.Sorted(maps.Keys(byEngine)) {
			cells := byEngine[e]
			sum, fl, ok := sums(cells, r.floors)
			ratio, floorText := "—", "—"
			if ok {
				ratio, floorText = fmt.Sprintf("%.2f", float64(sum)/float64(fl)), secs(fl)
			}
			wall, phase := "", ""
			if e == "all" {
				wall, phase = secs(r.wall), secs(cellPhase(cells))
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.name, r.procs, e, len(cells), wall, phase, secs(sum), floorText, ratio,
				secs(phaseSum(cells, "self-check")))
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d cores. A cell's time: its share of its build, its analysis and, for the first cell of a builder, the builder's start;\n"+
		"the first build on a base also fills the builder's content store. The floor is measured alone: compare it with procs 1.\n"+
		"Self-checks (a reference cell rebuilt on a fresh builder per group) are in the cell phase, not in the cells' times.\n", runtime.NumCPU())
}

// sums adds the cells' times and their floors (each cell its build's floor
// divided by the build's outputs); ok is false when a cell has no floor.
func sums(cells []report.CellResult, floors map[string]*floor) (sum, fl time.Duration, ok bool) {
	ok = true
	for _, c := range cells {
		sum += c.Timings["total"]
		f := floors[distinct(c.Axes.Fixture, c.Axes.Platform, c.Axes.BuildKit)]
		if f == nil {
			ok = false
			continue
		}
		fl += f.median / time.Duration(f.outputs)
	}
	return sum, fl, ok
}

// phaseSum adds one timing of the cells.
func phaseSum(cells []report.CellResult, phase string) time.Duration {
	var sum time.Duration
	for _, c := range cells {
		sum += c.Timings[phase]
	}
	return sum
}

// cellPhase is the time from the first cell's start to the last cell's end.
func cellPhase(cells []report.CellResult) time.Duration {
	var first, last time.Time
	for _, c := range cells {
		end := c.Started.Add(c.Timings["total"])
		if first.IsZero() || c.Started.Before(first) {
			first = c.Started
		}
		if end.After(last) {
			last = end
		}
	}
	return last.Sub(first)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}

// Package report turns the results of a matrix run into verdicts and
// reports. It is the one place verdicts are decided: per cell against the
// golden digest (CheckCell, which the suite's specs ask), per group of cells
// that must agree (Evaluate), and the golden digests a run proposes
// (ProposeGoldens, which `repro-matrix goldens` records). It writes a
// Markdown summary (also for $GITHUB_STEP_SUMMARY), JUnit XML and a JSON
// file of all results, and merges the results of a sharded run.
//
// The package is plain Go: it imports neither Ginkgo/Gomega nor
// internal/matrix. A cell is named in internal/cell's vocabulary: its
// coordinates (cell.Coords), group key and known divergences
// (cell.KnownDivergence, matched with cell patterns).
//
// Durations are written to JSON as seconds (a float with millisecond
// precision) in fields whose names end in "_seconds".
package report

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/cell"
)

// CellResult is what one cell produced.
type CellResult struct {
	// Name is the spec name: fixture=.../platform=.../engine=.../buildkit=.../exporter=...
	Name string `json:"name"`
	// Axes are the cell's coordinates, the platform as its slug ("linux-amd64").
	Axes cell.Coords `json:"axes"`
	// Group is the group key (fixture=x/platform=y/exporter=z); Axes.Group() when empty.
	Group string `json:"group"`
	// Digest is the image digest "sha256:..."; empty when the build failed.
	Digest string `json:"digest"`
	// Golden is the golden digest of the group; empty when none is recorded.
	Golden string `json:"golden"`
	// Pinned says whether the cell ran the pinned BuildKit's image
	// (matrix.Cell.Pinned: matrix.yaml's `pinned: true` under a rootful
	// engine, what `make goldens` records): true or false as
	// the runner and the suite set it, nil (no "pinned" in JSON) in results
	// recorded before the field existed, which then count as unknown. A
	// group without golden digest is held to its pinned cells' digest, and a
	// known divergence never excuses a pinned cell (see Evaluate).
	Pinned *bool `json:"pinned,omitempty"`
	// Rootless says the cell ran its BuildKit's rootless variant (a rootless
	// engine): not the pinned image even when its BuildKit is pinned.
	Rootless bool `json:"rootless,omitempty"`
	// Error is the build or analyze failure; non-empty means the cell failed.
	Error string `json:"error,omitempty"`
	// Interrupted is set when the run stopped before the cell finished
	// (including cells that never started: pass them too, so they show).
	Interrupted bool `json:"interrupted,omitempty"`
	// Env is the environment read from the engine: engine, engine_version,
	// buildkit_version, runc, kernel, storage_driver, ...
	Env map[string]string `json:"env,omitempty"`
	// Timings are phase durations such as "build", "analyze", "total".
	// JSON: "timings_seconds", seconds with millisecond precision.
	Timings Durations `json:"timings_seconds,omitempty"`
	// SharedBuild is how many cells one build exported, this one included,
	// when it was more than one (one solve, several exporters): its
	// Timings["build"] is then that build's time divided by SharedBuild.
	SharedBuild int `json:"sharedBuild,omitempty"`
	// Tarball is the path of the tarball kept for diffs; may be empty.
	Tarball string    `json:"tarball,omitempty"`
	Started time.Time `json:"started,omitzero"`
	// SelfCheck is the image digest "sha256:..." of the same cell built a
	// second time on a fresh builder (an empty content store), as the runner
	// does for one reference cell per group; empty when no self-check ran
	// for this cell or its rebuild failed (SelfCheckError). A SelfCheck other
	// than Digest makes the group GroupNotReproducible (see Evaluate).
	SelfCheck string `json:"selfCheck,omitempty"`
	// SelfCheckTarball is the path of the rebuild's tarball, kept for its
	// diff against Tarball; may be empty.
	SelfCheckTarball string `json:"selfCheckTarball,omitempty"`
	// SelfCheckError is why the rebuild failed (SelfCheck is then empty);
	// non-empty fails the group (GroupFailed), as a cell that did not build.
	SelfCheckError string `json:"selfCheckError,omitempty"`
	// Variations are the cell rebuilt with one aspect of its build
	// environment changed each (matrix.yaml's vary), in the order built;
	// each must give Digest: one that gives another makes the group
	// GroupVaries, one whose rebuild failed GroupFailed (see Evaluate).
	// Empty when none ran for this cell.
	Variations []Variation `json:"variations,omitempty"`
}

// Variation is a cell rebuilt with one aspect of its build environment
// changed, as reprotest varies a build: its name (matrix.Variation*), what
// it changed, and the digest and tarball of the rebuild or why it failed.
type Variation struct {
	Name    string `json:"name"`
	Changed string `json:"changed"` // e.g. "context files 0664, folders 0775 (a checkout under umask 002)"
	Digest  string `json:"digest,omitempty"`
	Tarball string `json:"tarball,omitempty"`
	Error   string `json:"error,omitempty"`
}

// pinState is what a result says of its BuildKit being the pinned one.
type pinState int

const (
	pinUnknown pinState = iota // recorded before CellResult.Pinned existed
	pinNo
	pinYes
)

func (r CellResult) pin() pinState {
	switch {
	case r.Pinned == nil:
		return pinUnknown
	case *r.Pinned:
		return pinYes
	}
	return pinNo
}

func (r CellResult) groupKey() string {
	if r.Group != "" {
		return r.Group
	}
	return r.Axes.Group()
}

// Durations maps a phase name to its duration. It is assignable from and to
// map[string]time.Duration; in JSON the values are seconds (float, rounded
// to the millisecond).
type Durations map[string]time.Duration

// MarshalJSON writes the durations as seconds.
func (d Durations) MarshalJSON() ([]byte, error) {
	if d == nil {
		return []byte("null"), nil
	}
	m := make(map[string]float64, len(d))
	for k, v := range d {
		m[k] = seconds(v)
	}
	return json.Marshal(m) // encoding/json sorts map keys
}

// UnmarshalJSON reads durations written as seconds.
func (d *Durations) UnmarshalJSON(b []byte) error {
	var m map[string]float64
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("timings: %w", err)
	}
	if m == nil {
		*d = nil
		return nil
	}
	out := make(Durations, len(m))
	for k, v := range m {
		out[k] = fromSeconds(v)
	}
	*d = out
	return nil
}

func seconds(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

func fromSeconds(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }

// Run is everything a report is made of.
type Run struct {
	ID       string    `json:"id"`
	Profile  string    `json:"profile"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
	// Wall is the wall-clock time of the run; Finished-Started when zero.
	// JSON: "wall_seconds".
	Wall time.Duration `json:"-"`
	// Interrupted is set when the run stopped early (signal, timeout,
	// abort); the run then fails whatever the verdicts say.
	Interrupted bool `json:"interrupted"`
	// Results holds every planned cell, sorted by name by Evaluate/Merge.
	Results []CellResult `json:"results"`
	// Known are the known divergences of the matrix (input of Evaluate).
	Known []cell.KnownDivergence `json:"known_divergences"`
	// Engines maps an engine name to the environment read from it. When
	// empty, the reports derive it from the cells' Env.
	Engines map[string]map[string]string `json:"engines,omitempty"`
	// Setup are the durations of the run's shared set-up steps (provisioning
	// and loading images, starting engines), beside the cells' own timings.
	Setup Durations `json:"setup_seconds,omitempty"`
	// Verdicts are filled by Evaluate; writers evaluate when Groups is nil.
	Verdicts Verdicts `json:"verdicts"`
}

type runJSON Run

// MarshalJSON adds wall_seconds.
func (r Run) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		runJSON
		WallSeconds float64 `json:"wall_seconds"`
	}{runJSON(r), seconds(r.wallTime())})
}

// UnmarshalJSON reads wall_seconds back into Wall.
func (r *Run) UnmarshalJSON(b []byte) error {
	var v struct {
		runJSON
		WallSeconds float64 `json:"wall_seconds"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = Run(v.runJSON)
	r.Wall = fromSeconds(v.WallSeconds)
	return nil
}

func (r Run) wallTime() time.Duration {
	if r.Wall != 0 {
		return r.Wall
	}
	if !r.Started.IsZero() && r.Finished.After(r.Started) {
		return r.Finished.Sub(r.Started)
	}
	return 0
}

// Evaluate sorts the results by name and computes r.Verdicts from them and
// r.Known. Expiry is judged at r.Started (now when zero) unless WithNow is
// given.
func (r *Run) Evaluate(opts ...Option) {
	sortResults(r.Results)
	if !r.Started.IsZero() {
		opts = append([]Option{WithNow(r.Started)}, opts...)
	}
	r.Verdicts = Evaluate(r.Results, r.Known, opts...)
}

// Failed reports whether the run fails: it was interrupted or a verdict fails.
func (r Run) Failed() bool {
	return r.Interrupted || r.verdicts().Failed()
}

// verdicts returns r.Verdicts, evaluated on the fly when never computed.
func (r Run) verdicts() Verdicts {
	if r.Verdicts.Groups != nil {
		return r.Verdicts
	}
	c := r
	c.Results = append([]CellResult(nil), r.Results...)
	c.Evaluate()
	return c.Verdicts
}

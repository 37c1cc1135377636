// Package report turns the results of a matrix run into verdicts and
// reports: per-cell golden checks, per-group equality verdicts, a Markdown
// summary (also for $GITHUB_STEP_SUMMARY) and a JSON file of all results.
//
// The package is plain Go: it imports neither Ginkgo/Gomega nor
// internal/matrix. Its input types (Axes, CellResult, KnownDivergence) are
// defined here and filled by the callers.
//
// Durations are written to JSON as seconds (a float with millisecond
// precision) in fields whose names end in "_seconds".
package report

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// Axes are the coordinates of one cell of the matrix.
type Axes struct {
	Fixture  string `json:"fixture"`
	Platform string `json:"platform"`
	Engine   string `json:"engine"`
	BuildKit string `json:"buildkit"`
	Exporter string `json:"exporter"`
}

// GroupKeyOf is the key of the group a cell belongs to when CellResult.Group
// is empty: "fixture=x/platform=y/exporter=z".
func GroupKeyOf(a Axes) string {
	return "fixture=" + a.Fixture + "/platform=" + a.Platform + "/exporter=" + a.Exporter
}

// CellResult is what one cell produced.
type CellResult struct {
	// Name is the spec name: fixture=.../platform=.../engine=.../buildkit=.../exporter=...
	Name string `json:"name"`
	Axes Axes   `json:"axes"`
	// Group is the group key (fixture=x/platform=y/exporter=z); GroupKeyOf(Axes) when empty.
	Group string `json:"group"`
	// Digest is the image digest "sha256:..."; empty when the build failed.
	Digest string `json:"digest"`
	// Golden is the golden digest of the group; empty when none is recorded.
	Golden string `json:"golden"`
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
	// Tarball is the path of the tarball kept for diffs; may be empty.
	Tarball string    `json:"tarball,omitempty"`
	Started time.Time `json:"started,omitzero"`
}

func (r CellResult) groupKey() string {
	if r.Group != "" {
		return r.Group
	}
	return GroupKeyOf(r.Axes)
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

// KnownDivergence is a recorded, accepted difference: the cells it matches
// may differ from their group's reference without failing the run, while
// the divergence still happens and has not expired.
type KnownDivergence struct {
	// Cells describes the cells concerned, as written in matrix.yaml.
	// When Match is nil it is read as a pattern (see MatchPattern).
	Cells  string `json:"cells"`
	Reason string `json:"reason"`
	Link   string `json:"link"`
	// Expires, when set, is the day after which the divergence no longer
	// covers anything: a disagreement it matches fails the run again.
	Expires time.Time `json:"expires,omitzero"`
	// Match reports whether a cell is covered. Nil means MatchPattern(Cells).
	Match func(Axes) bool `json:"-"`
}

func (k KnownDivergence) matcher() (func(Axes) bool, error) {
	if k.Match != nil {
		return k.Match, nil
	}
	return MatchPattern(k.Cells)
}

// expired reports whether k has expired at now.
func (k KnownDivergence) expired(now time.Time) bool {
	return !k.Expires.IsZero() && now.After(k.Expires)
}

// strip returns k without its Match function, for embedding in verdicts.
func (k KnownDivergence) strip() KnownDivergence {
	k.Match = nil
	return k
}

// MatchPattern returns a matcher for a cell pattern such as
// "engine=podman-*/buildkit=v0.1?.*": segments "key=glob" separated by "/",
// keys among fixture, platform, engine, buildkit, exporter; a key that is
// absent matches anything. In a glob, "*" matches any run of characters
// (including "/") and "?" one character; everything else is literal. A
// segment without "=" continues the previous value, so "platform=linux/arm64"
// works. An empty pattern, an unknown or repeated key is an error.
func MatchPattern(pattern string) (func(Axes) bool, error) {
	if strings.TrimSpace(pattern) == "" {
		return nil, fmt.Errorf("cells pattern: %w", ErrEmptyPattern)
	}
	globs := map[string]string{}
	var last string
	for _, seg := range strings.Split(pattern, "/") {
		key, val, ok := strings.Cut(seg, "=")
		if !ok {
			if last == "" {
				return nil, fmt.Errorf("cells pattern %q: segment %q: want key=glob", pattern, seg)
			}
			globs[last] += "/" + seg
			continue
		}
		key = strings.TrimSpace(key)
		switch key {
		case "fixture", "platform", "engine", "buildkit", "exporter":
		default:
			return nil, fmt.Errorf("cells pattern %q: unknown key %q (want fixture, platform, engine, buildkit or exporter)", pattern, key)
		}
		if _, dup := globs[key]; dup {
			return nil, fmt.Errorf("cells pattern %q: key %q repeated", pattern, key)
		}
		globs[key] = val
		last = key
	}
	return func(a Axes) bool {
		vals := map[string]string{
			"fixture": a.Fixture, "platform": a.Platform, "engine": a.Engine,
			"buildkit": a.BuildKit, "exporter": a.Exporter,
		}
		for k, g := range globs {
			if !globMatch(g, vals[k]) {
				return false
			}
		}
		return true
	}, nil
}

// globMatch matches s against g where '*' is any run and '?' any one rune.
func globMatch(g, s string) bool {
	pr, sr := []rune(g), []rune(s)
	var pi, si int
	star, mark := -1, 0
	for si < len(sr) {
		switch {
		case pi < len(pr) && (pr[pi] == '?' || pr[pi] == sr[si]):
			pi++
			si++
		case pi < len(pr) && pr[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(pr) && pr[pi] == '*' {
		pi++
	}
	return pi == len(pr)
}

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
	Known []KnownDivergence `json:"known_divergences"`
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

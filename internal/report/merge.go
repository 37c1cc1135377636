package report

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/repro-matrix/repro-matrix/internal/cell"
)

// ErrNotResults: a file that decodes but is not a results.json written by
// WriteJSON (ReadShard).
var ErrNotResults = errors.New("not a results file")

// Shard is the run of one shard of a sharded run, and where it came from.
type Shard struct {
	// Source names the shard in errors: its file, or "shard N".
	Source string
	Run    Run
}

// ReadShard reads a shard's results.json (see ReadJSON). Errors name path:
// it is missing or unreadable, it is not JSON of a Run, or it decodes but
// is no results file (ErrNotResults: no id, profile or results, or a result
// without a name).
func ReadShard(path string) (Shard, error) {
	run, err := ReadJSON(path)
	if err != nil {
		if strings.Contains(err.Error(), path) {
			return Shard{}, err
		}
		return Shard{}, fmt.Errorf("%s: %w", path, err)
	}
	if run.ID == "" && run.Profile == "" && len(run.Results) == 0 {
		return Shard{}, fmt.Errorf("%s: %w: no id, profile or results", path, ErrNotResults)
	}
	for i, r := range run.Results {
		if r.Name == "" {
			return Shard{}, fmt.Errorf("%s: %w: result %d has no name", path, ErrNotResults, i+1)
		}
	}
	return Shard{Source: path, Run: run}, nil
}

// Merge joins the runs of parallel shards into one run; it is MergeShards
// with the shards named "shard 1", "shard 2"... in errors.
func Merge(runs ...Run) (Run, error) {
	shards := make([]Shard, len(runs))
	for i, r := range runs {
		shards[i] = Shard{Source: "shard " + strconv.Itoa(i+1), Run: r}
	}
	return MergeShards(shards...)
}

// MergeShards joins the runs of parallel shards into one run, evaluated
// again as if it had run at once:
//
//   - Results are concatenated and sorted by name, each whole (its
//     self-check and variations included: a group not reproducible, or
//     that varies, in its shard is so in the merged run). A cell name seen twice is an error
//     (ErrDuplicateCell) naming the duplicates (up to ten, then how many
//     more) and their shards.
//   - Shards of one run share its ID and profile: a different non-empty ID
//     or profile is an error (ErrRunMismatch) naming both shards.
//   - The run starts with the earliest shard and finishes with the latest;
//     it is interrupted if any shard was. Set-up durations are the longest
//     of each step (shards run side by side).
//   - Known divergences are joined (one copy of each), engines too (first
//     value of each field wins).
//   - Every group a shard reported stays, even without results (GroupEmpty).
//   - A pair that a shard explained keeps the shard's diff, summary and
//     hints (the tarballs stay with the shards), a cell's pair with its
//     rebuild or a variation of it too; a pair whose cells no single shard
//     compared gets a DiffSummary saying so.
func MergeShards(shards ...Shard) (Run, error) {
	m := merger{from: map[string][]string{}, pairs: map[pairKey]Pair{}}
	for _, s := range shards {
		if err := m.add(s); err != nil {
			return Run{}, fmt.Errorf("merge shards: %w", err)
		}
	}
	if err := m.duplicates(); err != nil {
		return Run{}, fmt.Errorf("merge shards: %w", err)
	}
	out := m.out
	if !out.Started.IsZero() && out.Finished.After(out.Started) {
		out.Wall = max(out.Wall, out.Finished.Sub(out.Started))
	}
	out.Evaluate(WithGroups(m.groups...))
	m.carryDiffs(&out)
	return out, nil
}

// merger accumulates shards into out.
type merger struct {
	out                 Run
	idFrom, profileFrom string              // the shard that set out.ID, out.Profile
	from                map[string][]string // cell name -> shards that hold it
	groups              []string            // group keys the shards reported
	pairs               map[pairKey]Pair    // pairs the shards compared
	duplicate           []string            // cell names seen twice, in order
}

// pairKey identifies a comparison whatever run it was made in.
type pairKey struct{ cell, digest, against, againstDigest string }

func keyOf(p Pair) pairKey { return pairKey{p.Cell, p.Digest, p.Against, p.AgainstDigest} }

func (m *merger) add(s Shard) error {
	r := s.Run
	if err := mergeField(&m.out.ID, &m.idFrom, r.ID, "id", s.Source); err != nil {
		return err
	}
	if err := mergeField(&m.out.Profile, &m.profileFrom, r.Profile, "profile", s.Source); err != nil {
		return err
	}
	m.times(r)
	for _, c := range r.Results {
		if len(m.from[c.Name]) == 1 {
			m.duplicate = append(m.duplicate, c.Name)
		}
		m.from[c.Name] = append(m.from[c.Name], s.Source)
	}
	m.out.Results = append(m.out.Results, r.Results...)
	m.known(r.Known)
	m.engines(r.Engines)
	m.setup(r.Setup)
	for _, g := range r.Verdicts.Groups {
		if g.Key != "" && !slices.Contains(m.groups, g.Key) {
			m.groups = append(m.groups, g.Key)
		}
		for _, p := range g.Pairs {
			m.pairs[keyOf(p)] = p
		}
	}
	return nil
}

// times widens the merged run's start, finish, wall time and interruption.
func (m *merger) times(r Run) {
	out := &m.out
	if !r.Started.IsZero() && (out.Started.IsZero() || r.Started.Before(out.Started)) {
		out.Started = r.Started
	}
	if r.Finished.After(out.Finished) {
		out.Finished = r.Finished
	}
	out.Wall = max(out.Wall, r.Wall)
	out.Interrupted = out.Interrupted || r.Interrupted
}

func (m *merger) known(known []cell.KnownDivergence) {
	for _, k := range known {
		if !slices.ContainsFunc(m.out.Known, func(x cell.KnownDivergence) bool { return sameKnown(x, k) }) {
			m.out.Known = append(m.out.Known, k)
		}
	}
}

func (m *merger) engines(engines map[string]map[string]string) {
	for e, env := range engines {
		if m.out.Engines == nil {
			m.out.Engines = map[string]map[string]string{}
		}
		if m.out.Engines[e] == nil {
			m.out.Engines[e] = map[string]string{}
		}
		for k, v := range env {
			if _, ok := m.out.Engines[e][k]; !ok {
				m.out.Engines[e][k] = v
			}
		}
	}
}

func (m *merger) setup(setup Durations) {
	for step, d := range setup {
		if m.out.Setup == nil {
			m.out.Setup = Durations{}
		}
		m.out.Setup[step] = max(m.out.Setup[step], d)
	}
}

// duplicates names the cells that more than one shard (or one shard twice)
// holds, with the shards: the first maxNamed by name, then how many more.
func (m *merger) duplicates() error {
	if len(m.duplicate) == 0 {
		return nil
	}
	slices.Sort(m.duplicate)
	var parts []string
	for i, name := range m.duplicate {
		if i == maxNamed {
			parts = append(parts, fmt.Sprintf("and %d more", len(m.duplicate)-maxNamed))
			break
		}
		parts = append(parts, name+" (in "+strings.Join(m.from[name], ", ")+")")
	}
	return fmt.Errorf("%w: %d cells: %s", ErrDuplicateCell, len(m.duplicate), strings.Join(parts, "; "))
}

// maxNamed is how many duplicate cells an error names one by one.
const maxNamed = 10

// The DiffSummary of a pair that no shard compared: its cells ran in
// different shards, or the merged group has another reference cell.
const (
	noDiffAcrossShards = "no diff: the two cells ran in different shards, and a shard diffs only its own tarballs"
	noDiffInShard      = "no diff: no shard compared these two cells"
)

// carryDiffs gives every pair of run the explanation a shard attached to the
// same comparison, or says why there is none.
func (m *merger) carryDiffs(run *Run) {
	for _, p := range run.Verdicts.Pairs() {
		if sp, ok := m.pairs[keyOf(*p)]; ok {
			p.Diff, p.DiffSummary, p.DiffText, p.Hints = sp.Diff, sp.DiffSummary, sp.DiffText, sp.Hints
			continue
		}
		p.DiffSummary = noDiffInShard
		// A cell and its rebuilds (p.SelfCheck, p.Variation) ran in one shard.
		if p.Against != AgainstGolden && !p.SelfCheck && p.Variation == "" && !sameSource(m.from[p.Cell], m.from[p.Against]) {
			p.DiffSummary = noDiffAcrossShards
		}
	}
}

func sameSource(a, b []string) bool { return len(a) == 1 && len(b) == 1 && a[0] == b[0] }

// mergeField sets *dst to v, or checks that it already holds v; from names
// the shard that set it.
func mergeField(dst, from *string, v, field, source string) error {
	switch {
	case v == "":
	case *dst == "":
		*dst, *from = v, source
	case *dst != v:
		return fmt.Errorf("%w: %s has %s %q, %s has %q", ErrRunMismatch, source, field, v, *from, *dst)
	}
	return nil
}

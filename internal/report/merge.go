package report

import (
	"fmt"
	"slices"
	"strings"
)

// Merge joins the runs of parallel shards into one run: results are
// concatenated and sorted by name, a cell name seen twice is an error
// (ErrDuplicateCell, naming every duplicate), and shards with different
// non-empty IDs or profiles are refused (ErrRunMismatch). The merged run
// starts with the earliest shard and finishes with the latest, is
// interrupted if any shard was, joins the known divergences (first copy
// wins, a copy with a Match function preferred) and engines (first value
// wins), and is evaluated again.
func Merge(runs ...Run) (Run, error) {
	var out Run
	for i, r := range runs {
		if err := mergeField(&out.ID, r.ID, "id", i); err != nil {
			return Run{}, err
		}
		if err := mergeField(&out.Profile, r.Profile, "profile", i); err != nil {
			return Run{}, err
		}
		if !r.Started.IsZero() && (out.Started.IsZero() || r.Started.Before(out.Started)) {
			out.Started = r.Started
		}
		if r.Finished.After(out.Finished) {
			out.Finished = r.Finished
		}
		out.Wall = max(out.Wall, r.Wall)
		out.Interrupted = out.Interrupted || r.Interrupted
		out.Results = append(out.Results, r.Results...)
		for _, k := range r.Known {
			j := slices.IndexFunc(out.Known, func(x KnownDivergence) bool { return sameKnown(x, k) })
			switch {
			case j < 0:
				out.Known = append(out.Known, k)
			case out.Known[j].Match == nil && k.Match != nil:
				out.Known[j].Match = k.Match
			}
		}
		for e, env := range r.Engines {
			if out.Engines == nil {
				out.Engines = map[string]map[string]string{}
			}
			if out.Engines[e] == nil {
				out.Engines[e] = map[string]string{}
			}
			for k, v := range env {
				if _, ok := out.Engines[e][k]; !ok {
					out.Engines[e][k] = v
				}
			}
		}
	}
	if !out.Started.IsZero() && out.Finished.After(out.Started) {
		out.Wall = max(out.Wall, out.Finished.Sub(out.Started))
	}
	sortResults(out.Results)
	var dups []string
	for i := 1; i < len(out.Results); i++ {
		if n := out.Results[i].Name; n == out.Results[i-1].Name && !slices.Contains(dups, n) {
			dups = append(dups, n)
		}
	}
	if len(dups) > 0 {
		return Run{}, fmt.Errorf("merge shards: %w: %s", ErrDuplicateCell, strings.Join(dups, ", "))
	}
	out.Evaluate()
	return out, nil
}

func mergeField(dst *string, v, field string, shard int) error {
	switch {
	case v == "":
	case *dst == "":
		*dst = v
	case *dst != v:
		return fmt.Errorf("merge shards: %w: shard %d has %s %q, earlier shards %q", ErrRunMismatch, shard, field, v, *dst)
	}
	return nil
}

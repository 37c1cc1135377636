package report

import (
	"maps"
	"slices"
	"strings"
)

// writePinChanges lists, near the top of the summary, the groups whose
// golden digest the pinned BuildKit does not build (GroupVerdict.pinChanged):
// a pull request that bumps the pin, or a new base image, changes these
// golden digests, and no known divergence excuses the pin (cases README,
// "verdicts/: the reference of a group is the pin, never a vote"). It says
// which BuildKits still build the old digests, points at the diffs, and
// names `make goldens` as the way to accept the change.
func writePinChanges(b *md, v Verdicts, results []CellResult) {
	var groups []GroupVerdict
	pins := map[string]bool{}
	for _, g := range v.Groups {
		if g.pinChanged() {
			groups = append(groups, g)
			pins[g.PinnedBuildKit] = true
		}
	}
	if len(groups) == 0 {
		return
	}
	var names []string
	for _, p := range slices.SortedFunc(maps.Keys(pins), natural) {
		names = append(names, code(p))
	}
	b.l("## The pinned BuildKit changes golden digests")
	b.l("")
	b.l("The pinned BuildKit %s does not build the recorded golden digest of %d %s: moving the pin to it (or a new base image) "+
		"changes these golden digests, and a known divergence never excuses the pinned BuildKit. If the change is intended, "+
		"`make goldens` (with this run's `MATRIX`) records the new digests from this run's results.json; "+
		"each group's diff under its fixture shows what changed.",
		strings.Join(names, ", "), len(groups), plural(len(groups), "group", "groups"))
	b.l("")
	b.l("| fixture | platform · exporter | golden | the pin builds | golden still built by |")
	b.l("| --- | --- | --- | --- | --- |")
	for _, g := range groups {
		b.l("| %s | %s · %s | %s | %s | %s |", code(g.Fixture), text(g.Platform), text(g.Exporter),
			short(g.Golden), short(g.PinnedDigest), goldenBuilders(g, results))
	}
	b.l("")
}

// goldenBuilders are the BuildKits whose cells of g built its golden
// digest, as code spans, "—" when none did.
func goldenBuilders(g GroupVerdict, results []CellResult) string {
	var own []CellResult
	for _, r := range results {
		if r.groupKey() == g.Key {
			own = append(own, r)
		}
	}
	names := goldenBuildKits(g.Golden, own)
	if len(names) == 0 {
		return "—"
	}
	for i, n := range names {
		names[i] = code(n)
	}
	return strings.Join(names, ", ")
}

// goldenBuildKits are the BuildKits of the cells that built golden
// (failed and interrupted ones aside), in natural order.
func goldenBuildKits(golden string, cells []CellResult) []string {
	set := map[string]bool{}
	for _, r := range cells {
		if golden != "" && r.Digest == golden && r.Error == "" && !r.Interrupted {
			set[r.Axes.BuildKit] = true
		}
	}
	return slices.SortedFunc(maps.Keys(set), natural)
}

package report

// Self-checks (issue 13): the runner builds one reference cell of a group a
// second time on a fresh builder (an empty content store) and records the
// rebuild's digest in CellResult.SelfCheck. A rebuild that gives another
// digest proves that the fixture itself is not deterministic: comparing
// engines and BuildKits on it means nothing, so the group is
// GroupNotReproducible, whatever else its cells did, and no known
// divergence is judged in it.

import "fmt"

// RebuiltSuffix ends the Against name of a self-check's pair (Pair.SelfCheck):
// the cell's name, then this.
const RebuiltSuffix = " (rebuilt on a fresh builder)"

// selfChecks lists the self-checks of the built cells of a group (cells
// sorted by name, verdicts their cell verdicts). A cell that did not build
// has nothing to check: its own failure fails the group.
func selfChecks(cells []CellResult, verdicts []CellVerdict) []SelfCheck {
	var out []SelfCheck
	for i, r := range cells {
		if !verdicts[i].State.Built() || r.SelfCheck == "" && r.SelfCheckError == "" {
			continue
		}
		s := SelfCheck{Cell: r.Name, Digest: r.Digest, Rebuilt: r.SelfCheck, Error: r.SelfCheckError}
		if s.Error != "" {
			s.Rebuilt = ""
		}
		out = append(out, s)
	}
	return out
}

// unreproduced is the first self-check of g whose rebuild built another
// digest; nil when none did.
func (g GroupVerdict) unreproduced() *SelfCheck {
	for i, s := range g.SelfChecks {
		if s.Differs() {
			return &g.SelfChecks[i]
		}
	}
	return nil
}

// failedSelfChecks are the self-checks of g whose rebuild failed.
func (g GroupVerdict) failedSelfChecks() []SelfCheck {
	var out []SelfCheck
	for _, s := range g.SelfChecks {
		if s.Error != "" {
			out = append(out, s)
		}
	}
	return out
}

// held reports whether the built cells of g are held to its reference
// digest, and known divergences judged on them: g has a reference digest
// and no self-check proved its fixture not deterministic.
func (g GroupVerdict) held() bool { return g.NoReference == "" && g.unreproduced() == nil }

// addRebuildPairs pairs every built cell whose self-check built another
// digest with its rebuild, for the image diff of the two builds.
func (g *GroupVerdict) addRebuildPairs(cells []CellResult) {
	for i, r := range cells {
		if g.Cells[i].State.Built() && r.SelfCheckError == "" && r.SelfCheck != "" && r.SelfCheck != r.Digest {
			g.Pairs = append(g.Pairs, Pair{Cell: r.Name, Digest: r.Digest, Tarball: r.Tarball,
				Against: r.Name + RebuiltSuffix, AgainstDigest: r.SelfCheck, AgainstTarball: r.SelfCheckTarball, SelfCheck: true})
		}
	}
}

// notDeterministic is the headline of a not-reproducible group.
func notDeterministic(s SelfCheck) string {
	return "the fixture is not deterministic: " + rebuiltText(s) + "; engines were not compared"
}

// rebuiltText says what a self-check that differs built twice.
func rebuiltText(s SelfCheck) string {
	return fmt.Sprintf("%s built %s, then %s when rebuilt on a fresh builder", s.Cell, shortPlain(s.Digest), shortPlain(s.Rebuilt))
}

// selfCheckFailedHeadline is the headline of a group that failed only
// because a self-check's rebuild failed.
func selfCheckFailedHeadline(s SelfCheck) string {
	return fmt.Sprintf("the self-check of %s failed: rebuilt on a fresh builder, it did not build, so nothing shows that the fixture is deterministic",
		s.Cell)
}

// selfCheckLines are the message lines of g's self-checks, but the one
// its headline names.
func selfCheckLines(g GroupVerdict) []string {
	var out []string
	for _, s := range g.SelfChecks {
		switch {
		case s.Error != "":
			out = append(out, "failed:    self-check of "+s.Cell+" (rebuilt on a fresh builder): "+firstLine(s.Error))
		case s.Identical():
			out = append(out, fmt.Sprintf("self-check: %s rebuilt identically on a fresh builder (%s)", s.Cell, shortPlain(s.Digest)))
		case g.State == GroupNotReproducible && g.unreproduced().Cell == s.Cell:
			// the headline says it
		default:
			out = append(out, "self-check: "+rebuiltText(s)+": the fixture is not deterministic")
		}
	}
	return out
}

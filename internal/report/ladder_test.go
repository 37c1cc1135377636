package report

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/repro-matrix/repro-matrix/internal/bisect"
)

// testdata/ladder-results.json is a recorded nightly-style run: 16 rungs of
// a BuildKit ladder (made-up patch versions) under docker-20.10.24 for
// copy-link/oci (differs from v0.20.2 on), add-user/docker (from v0.31.1
// on, and a failed cell at v0.25.2), flip/docker (bad from v0.22.0 to
// v0.24.0, good again from v0.25.2), skip/docker (no golden digest: held to
// the pin; v0.28.1 failed, bad from v0.29.0), all-good under podman-4.3.1,
// and "two", with two versions only; plus copy-link's latest, resolved to
// the newest rung.
func TestFirstBadOnARecordedLadderRun(t *testing.T) {
	run, err := ReadJSON("testdata/ladder-results.json")
	if err != nil {
		t.Fatal(err)
	}
	ts := FirstBad(run)
	var got []string
	for _, tr := range ts {
		got = append(got, tr.Text())
	}
	want := []string{
		"fixture=add-user/platform=linux-amd64/exporter=docker under docker-20.10.24: first bad BuildKit v0.31.1, last good v0.30.1",
		"fixture=copy-link/platform=linux-amd64/exporter=oci under docker-20.10.24: first bad BuildKit v0.20.2, last good v0.19.0",
		"fixture=flip/platform=linux-amd64/exporter=docker under docker-20.10.24: first bad BuildKit v0.22.0, last good v0.21.1; then restores at v0.25.2",
		"fixture=skip/platform=linux-amd64/exporter=docker under docker-20.10.24: first bad BuildKit one of v0.28.1, v0.29.0 (the others failed to build), last good v0.27.1",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	add := ts[0]
	if add.FirstBadCell != "fixture=add-user/platform=linux-amd64/engine=docker-20.10.24/buildkit=v0.31.1/exporter=docker" ||
		add.LastGoodCell != "fixture=add-user/platform=linux-amd64/engine=docker-20.10.24/buildkit=v0.30.1/exporter=docker" ||
		add.Reference != "sha256:"+strings.Repeat("9", 64) {
		t.Errorf("add-user: %+v", add)
	}
	if a := add.Answer; a.Mode != bisect.Linear || len(a.Consulted) != 16 || !slices.ContainsFunc(a.Notes, func(n string) bool {
		return strings.Contains(n, "skipped: v0.25.2")
	}) {
		t.Errorf("add-user answer: mode %s, %d consulted, notes %v", a.Mode, len(a.Consulted), a.Notes)
	}
	// latest and the rung v0.34.2 are one version: 16, not 17.
	if n := len(ts[1].Answer.Versions); n != 16 {
		t.Errorf("copy-link: %d versions", n)
	}
	if kinds := ts[2].Answer.Transitions; len(kinds) != 2 || kinds[0].Kind != bisect.Breaks || kinds[1].Kind != bisect.Restores {
		t.Errorf("flip: %+v", kinds)
	}

	var md bytes.Buffer
	if err := WriteMarkdown(&md, run); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"## First bad BuildKit release",
		"| `fixture=copy-link/platform=linux-amd64/exporter=oci` | `docker-20.10.24` | [v0.19.0](https://github.com/moby/buildkit/releases/tag/v0.19.0) | [v0.20.2](https://github.com/moby/buildkit/releases/tag/v0.20.2) | — |",
		"| [v0.21.1](https://github.com/moby/buildkit/releases/tag/v0.21.1) | [v0.22.0](https://github.com/moby/buildkit/releases/tag/v0.22.0) | restores at v0.25.2 |",
		"one of [v0.28.1](https://github.com/moby/buildkit/releases/tag/v0.28.1), [v0.29.0](https://github.com/moby/buildkit/releases/tag/v0.29.0) (failed builds between)",
	} {
		if !strings.Contains(md.String(), w) {
			t.Errorf("summary lacks %q", w)
		}
	}
	if strings.Contains(md.String(), "fixture=two/") && strings.Contains(md.String(), "`fixture=two/platform=linux-amd64/exporter=docker` | `docker") {
		t.Errorf("a group with two versions is no ladder")
	}
}

func TestFirstBadNeedsALadder(t *testing.T) {
	run, err := ReadJSON("testdata/results.json")
	if err != nil {
		t.Fatal(err)
	}
	if ts := FirstBad(run); len(ts) != 0 {
		t.Errorf("a run without ladder: %+v", ts)
	}
}

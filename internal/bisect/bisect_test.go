package bisect

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"testing"
)

const (
	good  = "sha256:aaaa"
	bad   = "sha256:bbbb"
	other = "sha256:cccc"
)

// rungs are n minor releases from v0.19.x on, as a ladder resolves them.
func rungs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("v0.%d.%d", 19+i, i%3)
	}
	return out
}

// world is what each version builds; "" fails.
type world map[string]string

func (w world) recorded() map[string]Outcome {
	out := map[string]Outcome{}
	for v, d := range w {
		if d == "" {
			out[v] = Outcome{Err: "build failed: exit status 1"}
		} else {
			out[v] = Outcome{Digest: d}
		}
	}
	return out
}

// oracle builds from w and counts the versions it was asked for.
func (w world) oracle(asked *[]string) Oracle {
	return func(_ context.Context, v string) (string, error) {
		*asked = append(*asked, v)
		d, ok := w[v]
		if !ok {
			panic("oracle asked for a version outside the world: " + v)
		}
		if d == "" {
			return "", errors.New("build failed: exit status 1")
		}
		return d, nil
	}
}

// stepWorld: versions before k build good, from k on bad.
func stepWorld(vs []string, k int) world {
	w := world{}
	for i, v := range vs {
		w[v] = good
		if i >= k {
			w[v] = bad
		}
	}
	return w
}

func versionsOf(ps []Probe) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Version+"/"+string(p.Source)+"/"+string(p.State))
	}
	return out
}

func hasNote(a Answer, part string) bool {
	return slices.ContainsFunc(a.Notes, func(n string) bool { return strings.Contains(n, part) })
}

func TestScanSingleTransition(t *testing.T) {
	vs := rungs(8)
	a, err := Search(context.Background(), Input{Versions: vs, Good: good, Recorded: stepWorld(vs, 4).recorded()})
	if err != nil {
		t.Fatal(err)
	}
	if a.Mode != Linear || a.Result != Found || a.LastGood.Version != vs[3] || a.FirstBad.Version != vs[4] || a.Built() != 0 {
		t.Fatalf("answer %+v", a)
	}
	if len(a.Transitions) != 1 || a.Transitions[0].Kind != Breaks || len(a.Candidates) != 0 || len(a.Notes) != 0 {
		t.Errorf("transitions %v candidates %v notes %v", a.Transitions, a.Candidates, a.Notes)
	}
	if len(a.Consulted) != 8 || a.Consulted[0].Source != Recorded {
		t.Errorf("consulted %v", versionsOf(a.Consulted))
	}
	if got := a.Summary(); got != "first bad v0.23.1, last good v0.22.0" {
		t.Errorf("summary %q", got)
	}
}

func TestScanNamesBothFlips(t *testing.T) {
	vs := rungs(10)
	w := stepWorld(vs, 2)
	for _, v := range vs[6:] {
		w[v] = good // fixed again from the 7th rung on
	}
	a, err := Scan(vs, good, w.recorded())
	if err != nil {
		t.Fatal(err)
	}
	if a.Result != Found || a.LastGood.Version != vs[1] || a.FirstBad.Version != vs[2] {
		t.Fatalf("answer %+v", a)
	}
	want := []string{"breaks " + vs[2], "restores " + vs[6]}
	var got []string
	for _, tr := range a.Transitions {
		got = append(got, string(tr.Kind)+" "+tr.After.Version)
	}
	if !slices.Equal(got, want) {
		t.Errorf("transitions %v, want %v", got, want)
	}
	if !hasNote(a, "flips 2 times") {
		t.Errorf("notes %v", a.Notes)
	}
}

func TestScanChangesAmongBadDigests(t *testing.T) {
	vs := rungs(5)
	w := world{vs[0]: good, vs[1]: bad, vs[2]: bad, vs[3]: other, vs[4]: other}
	a, err := Scan(vs, good, w.recorded())
	if err != nil || a.FirstBad.Version != vs[1] || len(a.Transitions) != 2 || a.Transitions[1].Kind != Changes {
		t.Fatalf("err %v, answer %+v", err, a)
	}
	if hasNote(a, "flips") {
		t.Errorf("a change between bad digests is no flip: %v", a.Notes)
	}
}

func TestSearchBinaryDoubleFlipStatesItsLimit(t *testing.T) {
	vs := rungs(12)
	w := stepWorld(vs, 3)
	for _, v := range vs[8:] {
		w[v] = good
	}
	var asked []string
	a, err := Search(context.Background(), Input{Versions: vs, Good: good, Build: w.oracle(&asked)})
	if err != nil {
		t.Fatal(err)
	}
	// Both ends are good: the bad middle does not show.
	if a.Mode != Binary || a.Result != AllGood || a.LastGood.Version != vs[11] {
		t.Fatalf("answer %+v", a)
	}
	if !hasNote(a, "assuming one transition") || !slices.Equal(asked, []string{vs[0], vs[11]}) {
		t.Errorf("asked %v, notes %v", asked, a.Notes)
	}

	// With a recorded bad version in the middle, the search finds the
	// first flip and warns about the second, which the recorded last rung
	// shows.
	rec := map[string]Outcome{vs[5]: {Digest: bad}, vs[11]: {Digest: good}}
	asked = nil
	a, err = Search(context.Background(), Input{Versions: vs, Good: good, Recorded: rec, Build: w.oracle(&asked)})
	if err != nil {
		t.Fatal(err)
	}
	if a.Result != Found || a.LastGood.Version != vs[2] || a.FirstBad.Version != vs[3] {
		t.Fatalf("answer %+v, consulted %v", a, versionsOf(a.Consulted))
	}
	if !hasNote(a, "warning: the versions known show 2 transitions") || !hasNote(a, "restores at "+vs[11]) {
		t.Errorf("notes %v", a.Notes)
	}
}

func TestSearchSkipsFailedVersions(t *testing.T) {
	vs := rungs(9)
	t.Run("linear: the failed version could be the first bad", func(t *testing.T) {
		w := stepWorld(vs, 5)
		w[vs[4]] = ""
		a, err := Scan(vs, good, w.recorded())
		if err != nil || a.Result != Found || a.LastGood.Version != vs[3] || a.FirstBad.Version != vs[5] {
			t.Fatalf("err %v, answer %+v", err, a)
		}
		if !slices.Equal(a.Candidates, []string{vs[4], vs[5]}) || !hasNote(a, "failed to build, skipped: "+vs[4]) ||
			!strings.HasPrefix(a.Summary(), "first bad one of "+vs[4]+", "+vs[5]) {
			t.Errorf("candidates %v, notes %v, summary %q", a.Candidates, a.Notes, a.Summary())
		}
	})
	t.Run("linear: a failure away from the transition is only noted", func(t *testing.T) {
		w := stepWorld(vs, 6)
		w[vs[2]] = ""
		a, err := Scan(vs, good, w.recorded())
		if err != nil || a.FirstBad.Version != vs[6] || len(a.Candidates) != 0 || !hasNote(a, "skipped: "+vs[2]) {
			t.Fatalf("err %v, answer %+v", err, a)
		}
	})
	t.Run("binary: the midpoint fails, its neighbour is tried", func(t *testing.T) {
		w := stepWorld(vs, 6)
		w[vs[4]] = "" // (0+8)/2
		var asked []string
		a, err := Search(context.Background(), Input{Versions: vs, Good: good, Build: w.oracle(&asked)})
		if err != nil || a.Result != Found || a.LastGood.Version != vs[5] || a.FirstBad.Version != vs[6] || len(a.Candidates) != 0 {
			t.Fatalf("err %v, answer %+v, asked %v", err, a, asked)
		}
		if asked[2] != vs[4] || asked[3] != vs[5] && asked[3] != vs[3] {
			t.Errorf("asked %v: after the failed midpoint, a neighbour", asked)
		}
		if !hasNote(a, "skipped: "+vs[4]) {
			t.Errorf("notes %v", a.Notes)
		}
	})
	t.Run("binary: only failed versions left", func(t *testing.T) {
		w := stepWorld(vs, 6)
		w[vs[4]], w[vs[5]] = "", ""
		var asked []string
		a, err := Search(context.Background(), Input{Versions: vs, Good: good, Build: w.oracle(&asked)})
		if err != nil || a.Result != Found || a.LastGood.Version != vs[3] || a.FirstBad.Version != vs[6] {
			t.Fatalf("err %v, answer %+v", err, a)
		}
		if !slices.Equal(a.Candidates, []string{vs[4], vs[5], vs[6]}) {
			t.Errorf("candidates %v", a.Candidates)
		}
	})
	t.Run("binary: the first rung fails", func(t *testing.T) {
		w := stepWorld(vs, 3)
		w[vs[0]] = ""
		var asked []string
		a, err := Search(context.Background(), Input{Versions: vs, Good: good, Build: w.oracle(&asked)})
		if err != nil || a.Result != Found || a.LastGood.Version != vs[2] || a.FirstBad.Version != vs[3] {
			t.Fatalf("err %v, answer %+v", err, a)
		}
	})
	t.Run("every build fails", func(t *testing.T) {
		w := world{}
		for _, v := range vs {
			w[v] = ""
		}
		var asked []string
		a, err := Search(context.Background(), Input{Versions: vs, Good: good, Build: w.oracle(&asked)})
		if err != nil || a.Result != NoAnswer || len(asked) != len(vs) || !strings.HasPrefix(a.Summary(), "no answer: ") {
			t.Fatalf("err %v, answer %+v", err, a)
		}
	})
}

func TestSearchAllGoodAndBadFromStart(t *testing.T) {
	vs := rungs(7)
	for _, tc := range []struct {
		name   string
		w      world
		result Result
		at     string
	}{
		{"all good", stepWorld(vs, len(vs)), AllGood, vs[6]},
		{"bad from the first rung", stepWorld(vs, 0), BadFromStart, vs[0]},
	} {
		t.Run(tc.name+", linear", func(t *testing.T) {
			a, err := Scan(vs, good, tc.w.recorded())
			if err != nil || a.Result != tc.result || len(a.Transitions) != 0 {
				t.Fatalf("err %v, answer %+v", err, a)
			}
		})
		t.Run(tc.name+", binary", func(t *testing.T) {
			var asked []string
			a, err := Search(context.Background(), Input{Versions: vs, Good: good, Build: tc.w.oracle(&asked)})
			if err != nil || a.Result != tc.result || a.Mode != Binary {
				t.Fatalf("err %v, answer %+v", err, a)
			}
			p := a.LastGood
			if tc.result == BadFromStart {
				p = a.FirstBad
			}
			if p.Version != tc.at || len(asked) > 2 {
				t.Errorf("at %s, asked %v", p.Version, asked)
			}
		})
	}
}

// The binary search builds O(log n) versions wherever the transition is.
func TestSearchBuildsLogN(t *testing.T) {
	for _, n := range []int{2, 3, 8, 16, 33, 100} {
		vs := rungs(n)
		limit := bits.Len(uint(n)) + 2 // both ends, then ceil(log2(n-1)) midpoints
		for k := 1; k < n; k++ {
			var asked []string
			a, err := Search(context.Background(), Input{Versions: vs, Good: good, Build: stepWorld(vs, k).oracle(&asked)})
			if err != nil || a.Result != Found || a.LastGood.Version != vs[k-1] || a.FirstBad.Version != vs[k] {
				t.Fatalf("n %d k %d: err %v, answer %s", n, k, err, a.Summary())
			}
			if len(asked) > limit || a.Built() != len(asked) {
				t.Errorf("n %d k %d: built %d versions (limit %d): %v", n, k, len(asked), limit, asked)
			}
			if len(slices.Compact(slices.Sorted(slices.Values(asked)))) != len(asked) {
				t.Errorf("n %d k %d: a version built twice: %v", n, k, asked)
			}
		}
	}
}

// Recorded versions are used first, for free: the search builds only
// between the last recorded good and the first recorded bad.
func TestSearchReusesRecorded(t *testing.T) {
	vs := rungs(16)
	w := stepWorld(vs, 3)
	rec := map[string]Outcome{vs[0]: {Digest: good}, vs[7]: {Digest: bad}, vs[15]: {Digest: bad}}
	var asked []string
	a, err := Search(context.Background(), Input{Versions: vs, Good: good, Recorded: rec, Build: w.oracle(&asked)})
	if err != nil || a.Result != Found || a.FirstBad.Version != vs[3] {
		t.Fatalf("err %v, answer %+v", err, a)
	}
	for _, v := range asked {
		if i := slices.Index(vs, v); i <= 0 || i >= 7 {
			t.Errorf("built %s, outside the recorded bounds: %v", v, asked)
		}
	}
	if len(asked) > 3 {
		t.Errorf("built %v", asked)
	}
	if a.Consulted[0].Source != Recorded || a.Consulted[1].Version != vs[7] || a.Consulted[1].Source != Recorded {
		t.Errorf("consulted %v", versionsOf(a.Consulted))
	}
}

func TestSearchWithoutOracle(t *testing.T) {
	vs := rungs(4)
	rec := map[string]Outcome{vs[0]: {Digest: good}, vs[3]: {Digest: bad}}
	a, err := Search(context.Background(), Input{Versions: vs, Good: good, Recorded: rec})
	if err != nil || a.Result != Found || !slices.Equal(a.Candidates, []string{vs[1], vs[2], vs[3]}) {
		t.Fatalf("err %v, answer %+v", err, a)
	}
	if a.Consulted[2].Source != Missing {
		t.Errorf("consulted %v", versionsOf(a.Consulted))
	}
}

func TestSearchCancelled(t *testing.T) {
	vs := rungs(8)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	build := func(ctx context.Context, v string) (string, error) {
		calls++
		if calls == 2 {
			cancel()
			return "", ctx.Err()
		}
		return good, nil
	}
	a, err := Search(ctx, Input{Versions: vs, Good: good, Build: build})
	if !errors.Is(err, context.Canceled) || calls != 2 || a.Result != NoAnswer || len(a.Consulted) != 1 {
		t.Fatalf("err %v, calls %d, answer %+v", err, calls, a)
	}
}

func TestSearchInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Input
		want string
	}{
		{"no good digest", Input{Versions: []string{"v0.19.0"}}, "no good digest"},
		{"no versions", Input{Good: good}, "no versions"},
		{"not a version", Input{Good: good, Versions: []string{"latest"}}, `"latest" is not a version`},
		{"twice", Input{Good: good, Versions: []string{"v0.20.0", "v0.19.0", "v0.20.0"}}, "v0.20.0 is listed twice"},
	} {
		_, err := Search(context.Background(), tc.in)
		if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// Versions out of order are sorted by semver, not by text.
	a, err := Scan([]string{"v0.10.0", "v0.9.0"}, good, map[string]Outcome{"v0.9.0": {Digest: good}, "v0.10.0": {Digest: bad}})
	if err != nil || a.FirstBad.Version != "v0.10.0" {
		t.Fatalf("err %v, answer %+v", err, a)
	}
	if _, err := Scan([]string{"v0.9.0"}, good, nil); !errors.Is(err, ErrInput) {
		t.Errorf("scan without records: %v", err)
	}
}

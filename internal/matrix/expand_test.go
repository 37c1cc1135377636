package matrix

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func loadValid(t *testing.T) *Matrix {
	t.Helper()
	m, err := loadTestdata(t, "valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func names(cells []Cell) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = c.Name()
	}
	return out
}

func TestExpandCounts(t *testing.T) {
	m := loadValid(t)
	// valid.yaml: 4 engines (2 host), 3 BuildKits, fixtures one (amd64,
	// arm64) and two (amd64), 3 exporters.
	for profile, want := range map[string]int{
		"all":   3 * 4 * 3 * 3,
		"star":  3 * 4 * 3 * 3,
		"local": 2 * 2 * 3 * 2,
		"pr":    3 * 4 * 2 * 3,
		"smoke": 2,
		"rules": 4,
	} {
		cells, err := m.Expand(profile)
		if err != nil {
			t.Errorf("Expand(%s): %v", profile, err)
			continue
		}
		if len(cells) != want {
			t.Errorf("Expand(%s): %d cells, want %d", profile, len(cells), want)
		}
		seen := map[string]bool{}
		for _, c := range cells {
			if seen[c.Name()] {
				t.Errorf("Expand(%s): %s twice", profile, c.Name())
			}
			seen[c.Name()] = true
		}
	}
}

func TestExpandNamesAndOrder(t *testing.T) {
	m := loadValid(t)
	cells, err := m.Expand("smoke")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"fixture=one/platform=linux-amd64/engine=docker-20.10.24/buildkit=v0.19.0/exporter=docker",
		"fixture=one/platform=linux-amd64/engine=podman-4.3.1/buildkit=v0.19.0/exporter=docker",
	}
	if got := names(cells); !slices.Equal(got, want) {
		t.Errorf("smoke:\n got %q\nwant %q", got, want)
	}

	// The order is the file's: fixtures, platforms, engines, BuildKits,
	// exporters, and the same on every call.
	all, err := m.Expand("all")
	if err != nil {
		t.Fatal(err)
	}
	first := names(all)
	if first[0] != "fixture=one/platform=linux-amd64/engine=docker-20.10.24/buildkit=v0.19.0/exporter=docker" ||
		first[1] != "fixture=one/platform=linux-amd64/engine=docker-20.10.24/buildkit=v0.19.0/exporter=oci" ||
		first[3] != "fixture=one/platform=linux-amd64/engine=docker-20.10.24/buildkit=v0.26.3/exporter=docker" ||
		first[len(first)-1] != "fixture=two/platform=linux-amd64/engine=podman-5.4.2/buildkit=latest/exporter=docker-oci-mediatypes" {
		t.Errorf("unexpected order: %q ...", first[:4])
	}
	for range 5 {
		again, _ := m.Expand("all")
		if !slices.Equal(names(again), first) {
			t.Fatal("Expand is not deterministic")
		}
	}
}

func TestExpandIncludeExclude(t *testing.T) {
	m := loadValid(t)
	cells, err := m.Expand("rules")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"fixture=one/platform=linux-amd64/engine=docker-20.10.24/buildkit=v0.19.0/exporter=docker",
		"fixture=one/platform=linux-amd64/engine=docker-26.1.5/buildkit=v0.19.0/exporter=docker",
		"fixture=two/platform=linux-amd64/engine=docker-20.10.24/buildkit=v0.19.0/exporter=docker",
		// added by include, from outside the profile's axes
		"fixture=two/platform=linux-amd64/engine=podman-5.4.2/buildkit=latest/exporter=oci",
	}
	if got := names(cells); !slices.Equal(got, want) {
		t.Errorf("rules:\n got %q\nwant %q", got, want)
	}
}

func TestExpandSelectors(t *testing.T) {
	m := loadValid(t)
	cells, err := m.Expand("pr")
	if err != nil {
		t.Fatal(err)
	}
	bks := map[string]bool{}
	for _, c := range cells {
		bks[c.BuildKit.Name] = true
	}
	if len(bks) != 2 || !bks["v0.19.0"] || !bks["v0.26.3"] {
		t.Errorf("pr BuildKits = %v, want pinned and candidate", bks)
	}
	local, _ := m.Expand("local")
	for _, c := range local {
		if c.Engine.Where != Host || c.Platform != "linux/amd64" || c.Exporter.Name == "docker-oci-mediatypes" {
			t.Errorf("local has %s", c.Name())
		}
	}
}

func TestExpandErrors(t *testing.T) {
	m := loadValid(t)
	_, err := m.Expand("nightly")
	if !errors.Is(err, ErrUnknownProfile) || !strings.Contains(err.Error(), "known: all, local, pr, rules, smoke, star") {
		t.Errorf("unknown profile: %v", err)
	}
	m.Profiles["none"] = &Profile{Exclude: []string{"fixture=*"}}
	_, err = m.Expand("none")
	if !errors.Is(err, ErrEmptyExpansion) || !strings.Contains(err.Error(), `profile "none"`) {
		t.Errorf("empty expansion: %v", err)
	}
}

func TestCellGroupAndLabels(t *testing.T) {
	m := loadValid(t)
	c, err := m.Cell("fixture=one/platform=linux-arm64/engine=podman-5.4.2/buildkit=latest/exporter=docker-oci-mediatypes")
	if err != nil {
		t.Fatal(err)
	}
	if c.Platform != "linux/arm64" || c.Engine.Kind != Podman || c.GoldenKey() != "linux/arm64/docker-oci-mediatypes" {
		t.Errorf("cell %+v", c)
	}
	if got, want := c.Group(), "fixture=one/platform=linux-arm64/exporter=docker-oci-mediatypes"; got != want {
		t.Errorf("Group = %q, want %q", got, want)
	}
	want := []string{"fixture:one", "platform:linux-arm64", "engine:podman-5.4.2", "buildkit:latest", "exporter:docker-oci-mediatypes", "kind:podman"}
	if got := c.Labels(); !slices.Equal(got, want) {
		t.Errorf("Labels = %q, want %q", got, want)
	}
	all, _ := m.Expand("all")
	groups := map[string]int{}
	for _, c := range all {
		groups[c.Group()]++
		for _, l := range c.Labels() {
			if strings.ContainsAny(l, "&|!,()/") {
				t.Errorf("label %q has a character Ginkgo forbids", l)
			}
		}
	}
	// 3 fixture platforms x 3 exporters, each group 4 engines x 3 BuildKits.
	if len(groups) != 9 {
		t.Errorf("%d groups, want 9", len(groups))
	}
	for g, n := range groups {
		if n != 12 {
			t.Errorf("group %s has %d cells, want 12", g, n)
		}
	}
	for _, name := range []string{"fixture=one", "fixture=one/platform=linux-amd64/engine=docker-99/buildkit=latest/exporter=oci"} {
		if _, err := m.Cell(name); !errors.Is(err, ErrUnknownCell) {
			t.Errorf("Cell(%q) = %v, want ErrUnknownCell", name, err)
		}
	}
}

func TestKnownDivergenceMatches(t *testing.T) {
	m := loadValid(t)
	all, _ := m.Expand("all")
	var matched []string
	for _, c := range all {
		if k := m.KnownDivergence(c); k != nil {
			if !k.Matches(c) || c.Engine.Name != "podman-4.3.1" || c.Exporter.Name != "oci" {
				t.Errorf("%s matched %q", c.Name(), k.Cells)
			}
			matched = append(matched, c.Name())
		}
	}
	// 3 fixture platforms x 3 BuildKits.
	if len(matched) != 9 {
		t.Errorf("%d cells matched, want 9", len(matched))
	}
	// A divergence built by hand (not loaded) parses its pattern on use.
	k := &KnownDivergence{Cells: "exporter=oci/engine=podman-*"}
	for name, want := range map[string]bool{
		"fixture=two/platform=linux-amd64/engine=podman-5.4.2/buildkit=latest/exporter=oci":    true,
		"fixture=two/platform=linux-amd64/engine=docker-26.1.5/buildkit=latest/exporter=oci":   false,
		"fixture=two/platform=linux-amd64/engine=podman-4.3.1/buildkit=latest/exporter=docker": false,
	} {
		c, err := m.Cell(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := k.Matches(c); got != want {
			t.Errorf("Matches(%s) = %v, want %v", name, got, want)
		}
	}
}

func TestResolveLatest(t *testing.T) {
	m := loadValid(t)
	latest := m.BuildKit("latest")
	if latest.EffectiveVersion() != "latest" {
		t.Errorf("EffectiveVersion before = %q", latest.EffectiveVersion())
	}
	var asked []string
	err := m.ResolveLatest(context.Background(), func(_ context.Context, module string) (string, error) {
		asked = append(asked, module)
		return "v0.27.1", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(asked, []string{DefaultBuildKitModule}) || latest.Resolved != "v0.27.1" || latest.EffectiveVersion() != "v0.27.1" {
		t.Errorf("asked %q, resolved %q", asked, latest.Resolved)
	}
	// Cell names keep "latest".
	c, err := m.Cell("fixture=two/platform=linux-amd64/engine=docker-20.10.24/buildkit=latest/exporter=oci")
	if err != nil || c.BuildKit.EffectiveVersion() != "v0.27.1" {
		t.Errorf("Cell after resolve: %v %v", c, err)
	}
	for _, answer := range []string{"latest", "0.27.1", ""} {
		if err := m.ResolveLatest(context.Background(), func(context.Context, string) (string, error) { return answer, nil }); err == nil {
			t.Errorf("answer %q accepted", answer)
		}
	}
	boom := errors.New("boom")
	if err := m.ResolveLatest(context.Background(), func(context.Context, string) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Errorf("err = %v", err)
	}
}

func ExampleMatrix_Expand() {
	m, err := Load("testdata/valid.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	cells, _ := m.Expand("smoke")
	for _, c := range cells {
		fmt.Println(c.Name())
	}
	// Output:
	// fixture=one/platform=linux-amd64/engine=docker-20.10.24/buildkit=v0.19.0/exporter=docker
	// fixture=one/platform=linux-amd64/engine=podman-4.3.1/buildkit=v0.19.0/exporter=docker
}

// The reports judge the known divergences of the project's matrix on every
// cell as the matrix does.
func TestKnownAsTheReportsJudgeIt(t *testing.T) {
	m, err := Load("../../matrix.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.ResolveLadders(context.Background(), recorded(t, "goproxy.txt")); err != nil {
		t.Fatal(err)
	}
	cells, err := m.Expand("nightly")
	if err != nil {
		t.Fatal(err)
	}
	known := m.Known()
	if len(known) != len(m.KnownDivergences) || len(known) == 0 {
		t.Fatalf("%d known divergences from %d", len(known), len(m.KnownDivergences))
	}
	matched := 0
	for i, k := range known {
		src := m.KnownDivergences[i]
		if k.Cells != src.Cells || k.Link != src.Link || k.Reason != src.Reason {
			t.Errorf("divergence %d: %+v from %+v", i, k, src)
		}
		if day := k.Expires.Format(DateLayout); day != src.Expires || k.Expires.Hour() != 23 {
			t.Errorf("divergence %d expires %v, matrix says %s", i, k.Expires, src.Expires)
		}
		for _, c := range cells {
			if c.Coords().Name() != c.Name() {
				t.Errorf("coordinates %+v do not spell %s", c.Coords(), c.Name())
			}
			got, want := k.Matches(c.Coords()), src.Matches(c)
			if got != want {
				t.Errorf("%s on %s: %v, matrix says %v", k.Cells, c.Name(), got, want)
			}
			if got {
				matched++
			}
		}
	}
	if matched == 0 {
		t.Error("no cell matched any divergence: the test proves nothing")
	}
}

func TestKnownWithoutExpiryDate(t *testing.T) {
	if got := (&KnownDivergence{}).Known().Expires; !got.IsZero() {
		t.Errorf("no date: expires %v, want never", got)
	}
	if got := (&KnownDivergence{Expires: "2027-05-31"}).Known().Expires; !got.Equal(time.Date(2027, 5, 31, 23, 59, 59, 0, time.UTC)) {
		t.Errorf("expires %v", got)
	}
	if (*Matrix)(nil).Known() != nil {
		t.Error("nil matrix")
	}
}

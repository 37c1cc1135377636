package runner

import (
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/repro-matrix/repro-matrix/internal/matrix"
)

func TestLockTellsLiveRunsFromLeftovers(t *testing.T) {
	runsDir = t.TempDir()
	id := NewRunID()
	if alive(id) {
		t.Fatal("a run that never started is alive")
	}
	unlock, err := Lock(id)
	if err != nil {
		t.Fatal(err)
	}
	if !alive(id) {
		t.Error("a locked run is not alive")
	}
	if _, err := Lock(id); err == nil {
		t.Error("a run was locked twice")
	}
	unlock()
	if alive(id) {
		t.Error("an ended run is still alive")
	}
}

func TestRunIDInNames(t *testing.T) {
	id := NewRunID()
	for _, name := range []string{
		"buildx_buildkit_repro-matrix-run-" + id + "-0a1b2c3d4e0",
		"buildx_buildkit_repro-matrix-run-" + id + "-0a1b2c3d4e0_state",
		"repro-matrix-" + id + "-docker-26.1.5-store",
		id,
	} {
		if got := runIDRe.FindString(name); got != id {
			t.Errorf("run id in %q = %q, want %s", name, got, id)
		}
	}
	if got := runIDRe.FindString("buildx_buildkit_repro-matrix-build-0a1b2c3d4e5f0"); got != "" {
		t.Errorf("a CLI builder's name reads as run %q", got)
	}
}

func TestBuildArgsAreSortedWithTheBase(t *testing.T) {
	got := buildArgs(map[string]string{"Z": "1", "A": "2"}, "127.0.0.1:5000/library/debian@sha256:x")
	want := []string{"A=2", "BASE_IMAGE=127.0.0.1:5000/library/debian@sha256:x", "Z=1"}
	if !slices.Equal(got, want) {
		t.Errorf("buildArgs = %v, want %v", got, want)
	}
	if got := buildArgs(nil, ""); len(got) != 0 {
		t.Errorf("a fixture without base gets %v", got)
	}
}

func TestSharedCrossesProcesses(t *testing.T) {
	sh := &Shared{RunID: "r", Registry: "127.0.0.1:1", BaseImages: map[string]string{"bookworm linux/amd64": "ref"},
		BuildKits: map[string]BuildKitImage{"v0.19.0": {Ref: "localhost/x", Version: "v0.19.0"}}}
	got, err := DecodeShared(sh.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.Registry != sh.Registry || got.BaseImages["bookworm linux/amd64"] != "ref" || got.BuildKits["v0.19.0"].Ref != "localhost/x" {
		t.Errorf("decoded %+v", got)
	}
	if _, err := DecodeShared([]byte("{")); err == nil {
		t.Error("garbage decoded")
	}
}

func TestBaseKeyKeepsThePin(t *testing.T) {
	pin := "debian:bookworm-slim@sha256:" + strings.Repeat("a", 64)
	c := matrix.Cell{Fixture: &matrix.Fixture{Base: &matrix.FixtureBase{Suite: "bookworm"}}, Platform: "linux/arm64"}
	if got := baseKey(c); got != "bookworm linux/arm64" {
		t.Errorf("baseKey without a pin = %q", got)
	}
	c.Fixture.Base.Image = pin
	if got := baseKey(c); got != "bookworm linux/arm64 "+pin {
		t.Errorf("baseKey with a pin = %q", got)
	}
	if got := baseKey(matrix.Cell{Fixture: &matrix.Fixture{}}); got != "" {
		t.Errorf("baseKey of a fixture without base = %q", got)
	}
}

func TestBaseKeyNamesThePackagesSorted(t *testing.T) {
	c := matrix.Cell{Fixture: &matrix.Fixture{Base: &matrix.FixtureBase{Suite: "bookworm", Packages: []string{"python3", "libstdc++6"}}}, Platform: "linux/amd64"}
	if got := baseKey(c); got != "bookworm+libstdc++6,python3 linux/amd64" {
		t.Errorf("baseKey with packages = %q", got)
	}
	if c.Fixture.Base.Packages[0] != "python3" {
		t.Error("baseKey sorted the fixture's own list")
	}
}

func TestEmulatedPlatformSets(t *testing.T) {
	host := "linux/" + runtime.GOARCH
	other := "linux/arm64"
	if runtime.GOARCH == "arm64" {
		other = "linux/amd64"
	}
	for p, want := range map[string]bool{host: false, other: true, host + "," + other: true, other + "," + host: true} {
		if got := emulated(p); got != want {
			t.Errorf("emulated(%q) = %v, want %v", p, got, want)
		}
	}
}

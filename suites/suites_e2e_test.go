//go:build e2e

// Package suites_test runs the matrix suite itself, as `make matrix` does,
// on small matrices, and checks what a user reads afterwards: the exit
// status, junit.xml, summary.md and results.json.
package suites_test

import (
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/repro-matrix/repro-matrix/internal/report"
)

// runSuite runs the Ginkgo suite on a matrix file and profile and returns
// its reports folder, its combined output and whether it passed.
func runSuite(t *testing.T, matrixFile, profile string, extra ...string) (string, string, bool) {
	t.Helper()
	reports := t.TempDir()
	args := append([]string{"tool", "ginkgo", "-p", "--procs=2", "--tags", "matrix"}, extra...)
	args = append(args, "./matrix", "--", "-matrix="+matrixFile, "-profile="+profile, "-reports="+reports)
	cmd := exec.Command("go", args...)
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("run ginkgo: %v", err)
	}
	return reports, string(out), err == nil
}

func readRun(t *testing.T, reports string) report.Run {
	t.Helper()
	run, err := report.ReadJSON(filepath.Join(reports, "results.json"))
	if err != nil {
		t.Fatalf("results.json: %v", err)
	}
	return run
}

// junitCases returns the test cases of junit.xml by name, with their
// failure message ("" when they passed).
func junitCases(t *testing.T, reports string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(reports, "junit.xml"))
	if err != nil {
		t.Fatalf("junit.xml: %v", err)
	}
	var doc struct {
		Suites []struct {
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("junit.xml: %v", err)
	}
	cases := map[string]string{}
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			cases[c.Name] = ""
			if c.Failure != nil {
				cases[c.Name] = c.Failure.Message + "\n" + c.Failure.Text
			}
		}
	}
	return cases
}

// TestSmokeProfile runs the two cells of the smoke profile (host Docker and
// host Podman, pinned BuildKit, scratch-copy) and expects one agreeing group
// equal to the golden digest.
func TestSmokeProfile(t *testing.T) {
	reports, out, ok := runSuite(t, "../../matrix.yaml", "smoke")
	if !ok {
		t.Fatalf("smoke run failed:\n%s", tail(out))
	}
	run := readRun(t, reports)
	if len(run.Results) != 2 {
		t.Fatalf("want 2 cell results, got %d", len(run.Results))
	}
	for _, r := range run.Results {
		if r.Error != "" || r.Digest == "" {
			t.Errorf("cell %s: digest %q, error %q", r.Name, r.Digest, r.Error)
		}
		if r.Golden == "" || r.Digest != r.Golden {
			t.Errorf("cell %s: digest %s, golden %q", r.Name, r.Digest, r.Golden)
		}
		if r.Env["engine_version"] == "" || r.Env["buildkit_version"] != "v0.19.0" {
			t.Errorf("cell %s: environment not recorded: %v", r.Name, r.Env)
		}
	}
	if len(run.Verdicts.Groups) != 1 || run.Verdicts.Groups[0].State != report.GroupAgree {
		t.Fatalf("want one agreeing group, got %+v", run.Verdicts.Groups)
	}
	selfChecked := 0
	for _, r := range run.Results {
		if r.SelfCheck != "" {
			selfChecked++
			if r.SelfCheck != r.Digest {
				t.Errorf("cell %s rebuilt %s on a fresh builder, built %s", r.Name, r.SelfCheck, r.Digest)
			}
		}
	}
	if selfChecked != 1 {
		t.Errorf("want the group's reference cell self-checked once, got %d", selfChecked)
	}
	cases := junitCases(t, reports)
	group := "verdicts group: fixture=scratch-copy/platform=linux-amd64/exporter=docker"
	if msg, ok := cases[group]; !ok || msg != "" {
		t.Errorf("junit: group case %q missing or failed (%q); cases: %v", group, msg, keys(cases))
	}
	if left := leftovers(); len(left) > 0 {
		t.Errorf("left behind after the run: %v", left)
	}
	summary, err := os.ReadFile(filepath.Join(reports, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PASSED", "docker-20.10.24", "podman-4.3.1", report.ShortDigest(run.Results[0].Digest)} {
		if !strings.Contains(string(summary), want) {
			t.Errorf("summary.md lacks %q", want)
		}
	}
}

// TestNonReproducibleFixtureFails runs a fixture that writes random bytes:
// the run must fail with the group not-reproducible (its reference cell,
// rebuilt on a fresh builder, gave another digest), not disagree, and
// JUnit and Markdown must say so with the diff of the two builds.
func TestNonReproducibleFixtureFails(t *testing.T) {
	reports, out, ok := runSuite(t, "../testdata/matrix.yaml", "nonrepro")
	if ok {
		t.Fatalf("a non-reproducible fixture passed:\n%s", tail(out))
	}
	run := readRun(t, reports)
	if len(run.Verdicts.Groups) != 1 {
		t.Fatalf("want one group, got %d", len(run.Verdicts.Groups))
	}
	g := run.Verdicts.Groups[0]
	if g.State != report.GroupNotReproducible {
		t.Fatalf("group state %s; want not-reproducible", g.State)
	}
	var checked *report.CellResult
	for i, r := range run.Results {
		if r.Error != "" || r.Digest == "" {
			t.Fatalf("cell %s did not build: %s", r.Name, r.Error)
		}
		if r.SelfCheck != "" {
			checked = &run.Results[i]
		}
	}
	if checked == nil || checked.SelfCheck == checked.Digest || !strings.Contains(checked.Name, "engine=docker-20.10.24") {
		t.Fatalf("want the host Docker cell self-checked with another digest, got %+v", checked)
	}
	cases := junitCases(t, reports)
	msg, found := cases["verdicts group: fixture=nonrepro/platform=linux-amd64/exporter=docker"]
	if !found || !strings.Contains(msg, "not deterministic") || !strings.Contains(msg, checked.Name) {
		t.Fatalf("junit: the group case does not say the fixture is not deterministic (%q); cases: %v", msg, keys(cases))
	}
	summary, _ := os.ReadFile(filepath.Join(reports, "summary.md"))
	if !strings.Contains(string(summary), "FAILED") || !strings.Contains(string(summary), "not reproducible") {
		t.Errorf("summary.md does not show the group not reproducible:\n%s", summary)
	}
	if len(g.Pairs) == 0 || !g.Pairs[0].SelfCheck || g.Pairs[0].DiffSummary == "" || strings.HasPrefix(g.Pairs[0].DiffSummary, "no diff") {
		t.Errorf("the two builds of the self-check are not diffed: %+v", g.Pairs)
	} else if !strings.Contains(string(g.Pairs[0].Diff), "/random") {
		t.Errorf("the diff does not name the file that differs (/random): %s", g.Pairs[0].DiffSummary)
	}
	if left := leftovers(); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func tail(s string) string {
	if len(s) > 4000 {
		return s[len(s)-4000:]
	}
	return s
}

// TestInterruptWritesReportsAndLeavesNothing sends Ctrl-C to a run while
// its cells build: the reports must still be written, with the cells
// marked interrupted, and no container, builder or volume of the run may
// remain on either engine.
func TestInterruptWritesReportsAndLeavesNothing(t *testing.T) {
	if left := leftovers(); len(left) > 0 {
		t.Fatalf("the host is not idle: %v", left)
	}
	r := startSuite(t, "interrupt")
	if !waitFor(5*time.Minute, runContainersExist) {
		t.Fatalf("no build container appeared:\n%s", tail(r.out.String()))
	}
	time.Sleep(5 * time.Second) // into the RUN step of a minute
	r.interrupt()
	select {
	case err := <-r.done:
		if err == nil {
			t.Errorf("an interrupted run exited 0")
		}
	case <-time.After(5 * time.Minute):
		t.Fatalf("the run did not stop within 5 minutes of Ctrl-C:\n%s", tail(r.out.String()))
	}
	reports, out := r.reports, &r.out
	run := readRun(t, reports)
	if !run.Interrupted {
		t.Errorf("results.json does not say the run was interrupted:\n%s", tail(out.String()))
	}
	for _, r := range run.Results {
		if r.Digest == "" && r.Error == "" {
			t.Errorf("cell %s has neither digest nor error", r.Name)
		}
	}
	if _, err := os.Stat(filepath.Join(reports, "summary.md")); err != nil {
		t.Errorf("summary.md not written: %v", err)
	}
	if left := leftovers(); len(left) > 0 {
		t.Errorf("left behind after Ctrl-C: %v\n%s", left, tail(out.String()))
	}
}

// suiteRun is the suite running in the background on testdata/matrix.yaml.
type suiteRun struct {
	cmd     *exec.Cmd
	out     strings.Builder
	done    chan error
	reports string
}

// startSuite starts the suite on a profile of testdata/matrix.yaml. If the
// test ends first, the run gets Ctrl-C (so that it cleans up) and then, a
// while later, is killed.
func startSuite(t *testing.T, profile string) *suiteRun {
	ginkgo := filepath.Join(t.TempDir(), "ginkgo")
	if out, err := exec.Command("go", "build", "-o", ginkgo, "github.com/onsi/ginkgo/v2/ginkgo").CombinedOutput(); err != nil {
		t.Fatalf("build ginkgo: %v\n%s", err, out)
	}
	r := &suiteRun{done: make(chan error, 1), reports: t.TempDir()}
	r.cmd = exec.Command(ginkgo, "-p", "--procs=2", "--tags", "matrix", "--grace-period=2m", "./matrix", "--",
		"-matrix=../testdata/matrix.yaml", "-profile="+profile, "-reports="+r.reports)
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
	// Its own process group, as a terminal gives it: Ctrl-C reaches the
	// Ginkgo CLI and the suite's processes together.
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { r.done <- r.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
			return
		default:
		}
		r.interrupt()
		select {
		case <-exited:
		case <-time.After(3 * time.Minute):
			r.cmd.Process.Kill()
			<-exited
		}
	})
	return r
}

// interrupt is Ctrl-C: SIGINT to the run's process group.
func (r *suiteRun) interrupt() { syscall.Kill(-r.cmd.Process.Pid, syscall.SIGINT) }

// runContainersExist reports whether a matrix cell's build container runs.
func runContainersExist() bool { return len(leftovers()) > 0 }

// leftovers lists what matrix runs create on the host engines: containers
// and volumes labelled org.repro-matrix.run, cell builders and their state.
func leftovers() []string {
	var found []string
	queries := [][]string{
		{"docker", "ps", "-aq", "--filter", "label=org.repro-matrix.run"},
		{"docker", "ps", "-aq", "--filter", "name=buildx_buildkit_repro-matrix-run-"},
		{"docker", "volume", "ls", "-q", "--filter", "name=buildx_buildkit_repro-matrix-run-"},
		{"docker", "volume", "ls", "-q", "--filter", "label=org.repro-matrix.run"},
		{"docker", "network", "ls", "-q", "--filter", "label=org.repro-matrix.run"},
		{"podman", "ps", "-aq", "--filter", "label=org.repro-matrix.run"},
	}
	for _, q := range queries {
		out, _ := exec.Command(q[0], q[1:]...).Output()
		for _, id := range strings.Fields(string(out)) {
			found = append(found, q[0]+" "+q[1]+" "+id)
		}
	}
	return found
}

func waitFor(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(500 * time.Millisecond)
	}
	return false
}

// TestEngineDiesMidBuild kills a containerized Docker while its cell
// builds: that cell must fail with a message that names the engine and
// carries its log, the host engine's cell must still build, and nothing of
// the run may be left.
func TestEngineDiesMidBuild(t *testing.T) {
	if left := leftovers(); len(left) > 0 {
		t.Fatalf("the host is not idle: %v", left)
	}
	r := startSuite(t, "engine-dies")
	reports, out, done := r.reports, &r.out, r.done
	engineCtr := ""
	// The cell builds once the engine's own dockerd runs a buildx builder;
	// its socket is in the run's folder.
	building := func() bool {
		socks, _ := filepath.Glob(filepath.Join(os.TempDir(), "repro-matrix-run-*", "engines", "docker-26.1.5", "docker.sock"))
		for _, sock := range socks {
			inner, err := exec.Command("docker", "-H", "unix://"+sock, "ps", "-q", "--filter", "name=buildx_buildkit").Output()
			if err != nil || len(strings.TrimSpace(string(inner))) == 0 {
				continue
			}
			names, _ := exec.Command("docker", "ps", "--filter", "label=org.repro-matrix.run", "--format", "{{.Names}}").Output()
			for _, n := range strings.Fields(string(names)) {
				if strings.HasSuffix(n, "-docker-26.1.5") {
					engineCtr = n
					return true
				}
			}
		}
		return false
	}
	if !waitFor(20*time.Minute, building) {
		t.Fatalf("the containerized engine never started a build:\n%s", tail(out.String()))
	}
	time.Sleep(5 * time.Second) // into the RUN step
	if b, err := exec.Command("docker", "kill", engineCtr).CombinedOutput(); err != nil {
		t.Fatalf("docker kill %s: %v: %s", engineCtr, err, b)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("a run with a dead engine exited 0")
		}
	case <-time.After(15 * time.Minute):
		t.Fatalf("the run did not finish after the engine died:\n%s", tail(out.String()))
	}
	run := readRun(t, reports)
	var dead, host *report.CellResult
	for i, r := range run.Results {
		switch r.Axes.Engine {
		case "docker-26.1.5":
			dead = &run.Results[i]
		case "docker-20.10.24":
			host = &run.Results[i]
		}
	}
	if dead == nil || host == nil {
		t.Fatalf("want a result for both engines, got %+v\n(%d bytes of output)\n%s", run.Results, out.Len(), tail(out.String()))
	}
	if dead.Digest != "" || !strings.Contains(dead.Error, "engine docker-26.1.5 died") {
		t.Errorf("the dead engine's cell: digest %q, error %q", dead.Digest, dead.Error)
	}
	if host.Error != "" || host.Digest == "" {
		t.Errorf("the host engine's cell did not go on: %q", host.Error)
	}
	if logs, err := os.ReadFile(filepath.Join(reports, "engine-logs", "docker-26.1.5.log")); err != nil || len(logs) == 0 {
		t.Errorf("the dead engine's log is not in the reports: %v", err)
	}
	if _, err := os.Stat(filepath.Join(reports, "engine-logs", "docker-20.10.24.log")); err == nil {
		t.Errorf("the log of an engine whose cells passed was kept")
	}
	if left := leftovers(); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	if out, err := exec.Command("ip", "link", "show", "docker0").CombinedOutput(); err != nil {
		t.Errorf("the host's docker0 bridge is gone: %v: %s", err, out)
	}
}

// TestVariationThatBreaksAFixtureIsNamed runs a fixture that copies a
// folder's mode under the setgid and path variations: the group must fail
// as varies, naming setgid with the diff of the two builds, while path
// holds.
func TestVariationThatBreaksAFixtureIsNamed(t *testing.T) {
	reports, out, ok := runSuite(t, "../testdata/matrix.yaml", "vary")
	if ok {
		t.Fatalf("a fixture that depends on its checkout's folder modes passed:\n%s", tail(out))
	}
	run := readRun(t, reports)
	if len(run.Verdicts.Groups) != 1 || run.Verdicts.Groups[0].State != report.GroupVaries {
		t.Fatalf("want one group that varies, got %+v", run.Verdicts.Groups)
	}
	var varied []report.Variation
	for _, r := range run.Results {
		if r.Error != "" {
			t.Fatalf("cell %s did not build: %s", r.Name, r.Error)
		}
		if len(r.Variations) > 0 {
			for _, v := range r.Variations {
				if (v.Name == "setgid") == (v.Digest == r.Digest) || v.Error != "" {
					t.Errorf("variation %s: digest %s, cell %s, error %q", v.Name, v.Digest, r.Digest, v.Error)
				}
			}
			varied = r.Variations
		}
	}
	if len(varied) != 2 {
		t.Fatalf("want setgid and path rebuilt, got %+v", varied)
	}
	cases := junitCases(t, reports)
	msg := cases["verdicts group: fixture=setgid/platform=linux-amd64/exporter=docker"]
	if !strings.Contains(msg, "varying setgid") {
		t.Errorf("junit: the group case does not name the setgid variation: %q", msg)
	}
	summary, _ := os.ReadFile(filepath.Join(reports, "summary.md"))
	if !strings.Contains(string(summary), "setgid") || !strings.Contains(string(summary), "varies") {
		t.Errorf("summary.md does not name the variation:\n%s", summary)
	}
	var pair *report.Pair
	for i, p := range run.Verdicts.Groups[0].Pairs {
		if p.Variation == "setgid" {
			pair = &run.Verdicts.Groups[0].Pairs[i]
		}
	}
	if pair == nil || !strings.Contains(string(pair.Diff), "/app/conf") {
		t.Errorf("the setgid rebuild is not diffed against the cell, naming /app/conf: %+v", pair)
	}
	if left := leftovers(); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestTimeVariationMovesTheClock runs, under the host's Docker (buildx)
// and Podman (buildctl), a fixture that writes the month of its build's
// clock and one that writes the month of SOURCE_DATE_EPOCH, each varied
// with the time variation: the first must vary (the rebuild 398 days
// ahead writes another month, named in the diff), the second must hold,
// so the variation moves the clock of RUN steps and nothing else.
func TestTimeVariationMovesTheClock(t *testing.T) {
	for _, profile := range []string{"clock-docker", "clock-podman"} {
		reports, out, ok := runSuite(t, "../testdata/matrix.yaml", profile)
		if ok {
			t.Fatalf("%s: a fixture that writes its build's month passed:\n%s", profile, tail(out))
		}
		run := readRun(t, reports)
		if len(run.Results) != 2 {
			t.Fatalf("%s: want 2 cells, got %d", profile, len(run.Results))
		}
		for _, r := range run.Results {
			if r.Error != "" || len(r.Variations) != 1 || r.Variations[0].Name != "time" || r.Variations[0].Error != "" {
				t.Fatalf("%s: cell %s: error %q, variations %+v", profile, r.Name, r.Error, r.Variations)
			}
			if changed := r.Variations[0].Digest != r.Digest; changed != (r.Axes.Fixture == "clock") {
				t.Errorf("%s: cell %s: time variation %s, cell %s: want changed only for clock", profile, r.Name, r.Variations[0].Digest, r.Digest)
			}
		}
		for _, g := range run.Verdicts.Groups {
			want := report.GroupAgreeSingle
			if g.Fixture == "clock" {
				want = report.GroupVaries
			}
			if g.State != want {
				t.Errorf("%s: group %s: %s, want %s", profile, g.Key, g.State, want)
			}
			for _, p := range g.Pairs {
				if p.Variation == "time" && !strings.Contains(p.DiffText, "/month: content") {
					t.Errorf("%s: the time rebuild's diff does not name /month:\n%s", profile, p.DiffText)
				}
			}
		}
	}
	if left := leftovers(); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

package report

import (
	"bytes"
	"path/filepath"
	"testing"
)

func TestVariationMarkdown(t *testing.T) {
	md := markdown(t, variationRun())
	golden(t, filepath.Join("markdown", "variations.md"), md)
	for _, want := range []string{
		"**Variations (3 groups, a cell of each rebuilt with one aspect of its build environment changed):** " +
			"5 variations held in 3 groups: mtime, umask, order, path, locale · `setgid` changed the digest in 1 of 3 groups · `tz` did not build in 1 of 3 groups",
		"1 varies with the build environment",
		"❌ `fixture=timestamps/platform=linux-amd64/exporter=docker`: varies with the build environment: 🔁 rebuilt identically; " +
			"🌀 varying `setgid` gives `sha256:dddddddddddd`, not `sha256:aaaaaaaaaaaa`",
		"the image depends on the build environment: varying setgid (the setgid bit on the context's folders (drwxr-sr-x)) gives sha256:dddddddddddd instead of sha256:aaaaaaaaaaaa",
		"<code>docker-20 · v0.19.0 sha256:aaaaaaaaaaaa</code> vs <code>docker-20 · v0.19.0 (varied: setgid) sha256:dddddddddddd</code>: layer 1: mode of /app differs (drwxr-sr-x, not drwxr-xr-x)",
		"- setgid-dir: a folder of the context carries the setgid bit",
		"🌀 7 variations held",
		"💥 variation `tz` of `docker-20 · v0.19.0`",
		"<details><summary>💥 variation <code>tz</code> of <code>fixture=umask/platform=linux-amd64/engine=docker-20/buildkit=v0.19.0/exporter=oci</code>: buildx: exit status 1 …</summary>",
	} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

// A group whose variations all held stays agree, and the summary says
// that they held.
func TestVariationsThatHeldMarkdown(t *testing.T) {
	rs := pinnedFour([4]string{dA, dA, dA, dA}, dA, map[int][]func(*CellResult){0: {rebuilt(dA), variedAll(nil)}})
	md := markdown(t, newRun(rs, nil))
	for _, want := range []string{
		"# repro-matrix: ✅ PASSED",
		"**Variations (1 group, a cell of each rebuilt with one aspect of its build environment changed):** " +
			"7 variations held in 1 group: mtime, umask, setgid, order, path, tz, locale  ",
		"| linux-amd64 · docker | ✅ agree | 4 | `sha256:aaaaaaaaaaaa` | `sha256:aaaaaaaaaaaa` | 🔁 rebuilt identically<br>🌀 7 variations held |",
	} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	// Variations that ran in some groups only say where they held.
	rs = append(rs, result("umask", "linux-amd64", "docker-20", "v0.19.0", "oci", dB, dB, pinnedAs(true), func(r *CellResult) {
		r.Variations = []Variation{{Name: "setgid", Digest: dB}}
	}))
	md = markdown(t, newRun(rs, nil))
	want := "7 variations held wherever they ran: mtime (1 group), umask (1 group), setgid (2 groups), order (1 group), path (1 group), tz (1 group), locale (1 group)"
	if !bytes.Contains(md, []byte(want)) {
		t.Errorf("markdown lacks %q:\n%s", want, md)
	}
}

// Results recorded before variations say nothing of them.
func TestResultsWithoutVariationsMarkdown(t *testing.T) {
	for _, f := range []string{"results.json", "results-before-pinned.json"} {
		run, err := ReadJSON(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if md := markdown(t, run); bytes.Contains(md, []byte("Variations")) || bytes.Contains(md, []byte("🌀")) {
			t.Errorf("%s: the summary speaks of variations", f)
		}
	}
}

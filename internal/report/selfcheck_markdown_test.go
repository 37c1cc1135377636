package report

import (
	"bytes"
	"path/filepath"
	"testing"
)

func TestSelfCheckMarkdown(t *testing.T) {
	run := selfCheckRun()
	md := markdown(t, run)
	golden(t, filepath.Join("markdown", "self-checks.md"), md)
	name := "fixture=timestamps/platform=linux-amd64/engine=docker-20/buildkit=v0.19.0/exporter=docker"
	for _, want := range []string{
		"**Self-checks (3 groups, a cell of each rebuilt on a fresh builder):** 1 rebuilt identically · 1 not reproducible · 1 rebuild failed",
		"1 not reproducible",
		"❌ `fixture=timestamps/platform=linux-amd64/exporter=docker`: not reproducible: 🔁 `docker-20 · v0.19.0` rebuilt `sha256:dddddddddddd`, not `sha256:aaaaaaaaaaaa`; ❌ `podman-4 · v0.19.0`",
		"the fixture is not deterministic: " + name + " built sha256:aaaaaaaaaaaa, then sha256:dddddddddddd when rebuilt on a fresh builder",
		"<code>docker-20 · v0.19.0 sha256:aaaaaaaaaaaa</code> vs <code>docker-20 · v0.19.0 (rebuilt on a fresh builder) sha256:dddddddddddd</code>: layer 2: file /var/lib/dbus/machine-id differs",
		"🔁 rebuilt identically",
		"💥 self-check of `docker-20 · v0.19.0`",
		"<details><summary>💥 self-check of <code>fixture=umask/platform=linux-amd64/engine=docker-20/buildkit=v0.19.0/exporter=oci</code>: buildx: exit status 1 …</summary>",
	} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

package oci

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// realDir holds tarballs built by BuildKit itself (docker and OCI exporters),
// each NAME.tar beside NAME.digest: the image digest BuildKit printed.
const realDir = "testdata/real"

// TestRealTarballs checks that Analyze reports BuildKit's own digest for
// every tarball in testdata/real, each with its digest file.
func TestRealTarballs(t *testing.T) {
	tarballs, err := filepath.Glob(filepath.Join(realDir, "*.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tarballs) < 5 {
		t.Fatalf("%s holds %d tarballs, want the 5 its README lists", realDir, len(tarballs))
	}
	for _, p := range tarballs {
		t.Run(filepath.Base(p), func(t *testing.T) { checkReal(t, p) })
	}
}

func checkReal(t *testing.T, tarball string) {
	want := readDigestFile(t, strings.TrimSuffix(tarball, ".tar")+".digest")
	a, err := Analyze(context.Background(), tarball)
	if err != nil {
		t.Fatalf("Analyze: %v", err)
	}
	if a.ImageDigest != want {
		t.Errorf("image digest %s, BuildKit printed %s", a.ImageDigest, want)
	}
}

// readDigestFile reads a digest as BuildKit prints it: "sha256:HEX", or the
// bare hex, possibly followed by a newline.
func readDigestFile(t *testing.T, p string) digest.Digest {
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("digest file for %s: %v", p, err)
	}
	s := strings.TrimSpace(string(raw))
	if !strings.Contains(s, ":") {
		s = "sha256:" + s
	}
	d, err := digest.Parse(s)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return d
}

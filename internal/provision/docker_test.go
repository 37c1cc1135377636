package provision

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckRelease(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "versions.yaml")
	// releases/versions.yaml of github.com/moby/moby/v2@v2.0.0-beta.24.
	if err := os.WriteFile(file, []byte("---\ndocker:\n  last: \"29.8.0\"\n  next: \"29.8.1\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const mod = "github.com/moby/moby/v2@v2.0.0-beta.24"
	if err := checkRelease(file, mod, "29.8.1"); err != nil {
		t.Errorf("the release it was cut for: %v", err)
	}
	for _, v := range []string{"29.8.0", "29.8", "29.9.0"} {
		err := checkRelease(file, mod, v)
		if err == nil || !strings.Contains(err.Error(), `cut for Docker "29.8.1"`) || !strings.Contains(err.Error(), v) {
			t.Errorf("version %s: err = %v, want one naming 29.8.1 and %s", v, err, v)
		}
	}
	err := checkRelease(filepath.Join(dir, "absent.yaml"), mod, "29.8.1")
	if err == nil || !strings.Contains(err.Error(), "does not say which Docker release") {
		t.Errorf("no versions.yaml: err = %v", err)
	}
}

func TestShortName(t *testing.T) {
	for in, want := range map[string]string{
		"github.com/moby/moby/v2":  "moby",
		"github.com/moby/buildkit": "buildkit",
		"github.com/docker/cli":    "cli",
		"example.com/v":            "v",
	} {
		if got := shortName(in); got != want {
			t.Errorf("shortName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClientConfigHoldsThePlugin(t *testing.T) {
	c := Cache{Dir: t.TempDir()}
	bin := filepath.Join(t.TempDir(), "buildx")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := ClientConfig(c, bin)
	if err != nil {
		t.Fatal(err)
	}
	target, err := os.Readlink(filepath.Join(dir, "cli-plugins", "docker-buildx"))
	if err != nil || target != bin {
		t.Errorf("cli-plugins/docker-buildx -> %q (%v), want %s", target, err, bin)
	}
	again, err := ClientConfig(c, bin)
	if err != nil || again != dir {
		t.Errorf("second call: %q, %v; want the same folder %s", again, err, dir)
	}
}

package provision

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestRefusedNamesVersionAndModule(t *testing.T) {
	out := []byte(`go: finding module for package github.com/tonistiigi/go-actions-cache
go: repro-matrix.local/buildkit imports
	github.com/moby/buildkit/cmd/buildkitd imports
	github.com/moby/buildkit/cache/remotecache/gha imports
	github.com/tonistiigi/go-actions-cache: github.com/tonistiigi/go-actions-cache@v0.0.0-20250219102945-1a5174abd055: reading https://goproxy.example/github.com/tonistiigi/go-actions-cache/@v/v0.0.0-20250219102945-1a5174abd055.zip: 403 Forbidden
	server response: This module version is not available.
`)
	err := refused(BuildKitModule, "v0.20.0", out, errors.New("exit status 1"))
	if !errors.Is(err, ErrModuleRefused) {
		t.Fatalf("err %v is not ErrModuleRefused", err)
	}
	for _, want := range []string{"v0.20.0", "github.com/tonistiigi/go-actions-cache@v0.0.0-20250219102945-1a5174abd055", "403 Forbidden"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	other := refused(BuildKitModule, "v0.19.0", []byte("compile error: x.go:1: syntax error"), errors.New("exit status 2"))
	if errors.Is(other, ErrModuleRefused) || !strings.Contains(other.Error(), "syntax error") {
		t.Errorf("a build failure reads as %v", other)
	}
}

func TestModuleSum(t *testing.T) {
	sum := []byte("github.com/moby/buildkit v0.19.0 h1:abc=\ngithub.com/moby/buildkit v0.19.0/go.mod h1:def=\n")
	if got := moduleSum(sum, BuildKitModule, "v0.19.0"); got != "h1:abc=" {
		t.Errorf("moduleSum = %q", got)
	}
	if got := moduleSum(sum, BuildKitModule, "v0.20.0"); got != "" {
		t.Errorf("moduleSum of another version = %q", got)
	}
}

func TestProduceIsAtomicAndOnce(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "artefact")
	if err := Produce(dst, func(tmp string) error {
		os.WriteFile(tmp, []byte("half"), 0o644)
		return errors.New("boom")
	}); err == nil {
		t.Fatal("a failing recipe succeeded")
	}
	if entries, _ := os.ReadDir(filepath.Dir(dst)); len(entries) != 1 || entries[0].Name() != "artefact.lock" {
		t.Fatalf("a failed recipe left files: %v", entries)
	}
	var mu sync.Mutex
	runs := 0
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := Produce(dst, func(tmp string) error {
				mu.Lock()
				runs++
				mu.Unlock()
				return os.WriteFile(tmp, []byte("whole"), 0o644)
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if runs != 1 {
		t.Errorf("recipe ran %d times, want once", runs)
	}
	if data, _ := os.ReadFile(dst); string(data) != "whole" {
		t.Errorf("artefact = %q", data)
	}
}

func TestKeyDependsOnEveryPart(t *testing.T) {
	if key("a", "bc") == key("ab", "c") || key("a") == key("b") || key("x", "y") != key("x", "y") {
		t.Error("key does not separate its parts")
	}
}

func TestDebianMirrorFromAptSources(t *testing.T) {
	dir := t.TempDir()
	sources := filepath.Join(dir, "debian.sources")
	os.WriteFile(sources, []byte("Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\nTypes: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n"), 0o644)
	if got := deb822Mirror(sources); got != "http://mirror.example/debian" {
		t.Errorf("deb822Mirror = %q", got)
	}
	list := filepath.Join(dir, "sources.list")
	os.WriteFile(list, []byte("# comment\ndeb [arch=amd64] http://mirror.example/debian bookworm main\n"), 0o644)
	if got := oneLineMirror(list); got != "http://mirror.example/debian" {
		t.Errorf("oneLineMirror = %q", got)
	}
	t.Setenv("REPRO_MATRIX_DEBIAN_MIRROR", "http://other.example/debian")
	if got, err := DebianMirror(); err != nil || got != "http://other.example/debian" {
		t.Errorf("DebianMirror with the variable = %q, %v", got, err)
	}
}

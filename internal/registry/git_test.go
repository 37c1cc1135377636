package registry

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGitContextServed: a fixture committed twice gives one commit id, and
// a shallow clone (BuildKit fetches with --depth=1) over the registry's
// smart HTTP gets its files.
func TestGitContextServed(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "Dockerfile"), []byte("FROM scratch\nCOPY hello.txt /\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "hello.txt"), []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	id, err := CommitRepo(ctx, root, "fx", src, 1700000000)
	if err != nil {
		t.Fatal(err)
	}
	again, err := CommitRepo(ctx, t.TempDir(), "fx", src, 1700000000)
	if err != nil || again != id {
		t.Errorf("the same files committed again: %s (%v), first %s", again, err, id)
	}
	r, err := StartWithGit(ctx, "127.0.0.1:0", root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	dst := filepath.Join(t.TempDir(), "clone")
	out, err := exec.Command("git", "clone", "--quiet", "--depth=1", "--branch=main", "http://"+r.Addr+GitPrefix+"fx.git", dst).CombinedOutput()
	if err != nil {
		t.Fatalf("git clone: %v: %s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "hello.txt")); err != nil || string(b) != "hello\n" {
		t.Errorf("hello.txt in the clone: %q, %v", b, err)
	}
	head, _ := exec.Command("git", "-C", dst, "rev-parse", "HEAD").Output()
	if string(head) != id+"\n" {
		t.Errorf("clone's HEAD %q, want %s", head, id)
	}
	// The registry still serves the distribution API beside it.
	resp, err := httpGet("http://" + r.Addr + "/v2/")
	if err != nil || resp != 200 {
		t.Errorf("GET /v2/: %d, %v", resp, err)
	}
}

func httpGet(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

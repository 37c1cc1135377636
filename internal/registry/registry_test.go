package registry

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestPushAndPullOnLoopback(t *testing.T) {
	r, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := r.Push(context.Background(), img, "library/debian", "bookworm")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if !strings.HasPrefix(ref, r.Addr+"/library/debian:bookworm@"+want.String()) {
		t.Errorf("reference %s does not pin %s", ref, want)
	}
	pinned, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(pinned)
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	if d, _ := got.Digest(); d != want {
		t.Errorf("pulled %s, pushed %s", d, want)
	}
}

func TestServesOnlyLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "10.0.0.1:5000", ":5000", "localhost"} {
		if r, err := Start(addr); err == nil {
			r.Close()
			t.Errorf("Start(%q) accepted a non-loopback address", addr)
		}
	}
}

func TestCloseRemovesBlobs(t *testing.T) {
	r, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	img, _ := random.Image(64, 1)
	if _, err := r.Push(context.Background(), img, "x/y", "z"); err != nil {
		t.Fatal(err)
	}
	dir := r.blobs
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(r.Addr+"/x/y:z", name.Insecure)
	if _, err := remote.Image(ref); err == nil {
		t.Error("registry still answers after Close")
	}
	if entries, err := readDir(dir); err == nil {
		t.Errorf("blobs folder %s left behind: %v", dir, entries)
	}
}

func readDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, err
}

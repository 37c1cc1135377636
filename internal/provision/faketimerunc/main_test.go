package main

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestBundleOf(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--log", "/l", "--log-format", "json", "run", "--bundle", "/b", "--pid-file", "/p", "id"}, "/b"},
		{[]string{"create", "-b", "/b", "id"}, "/b"},
		{[]string{"run", "--bundle=/b", "id"}, "/b"},
		{[]string{"kill", "id", "9"}, ""},
		{[]string{"delete", "--force", "id"}, ""},
	} {
		if got := bundleOf(tt.args); got != tt.want {
			t.Errorf("bundleOf(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

// TestPatchSpec: the spec gains the preload and clock after its own
// environment and the library's mount after its own mounts (after /dev's
// tmpfs, so the mount point is made in it), and keeps what it had.
func TestPatchSpec(t *testing.T) {
	in := `{"ociVersion":"1.0.2","process":{"args":["/bin/sh","-c","date"],"env":["PATH=/usr/bin"]},"mounts":[{"destination":"/dev","type":"tmpfs","source":"tmpfs"}],"root":{"path":"rootfs"}}`
	out, err := patchSpec([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		OCIVersion string `json:"ociVersion"`
		Process    struct {
			Args []string `json:"args"`
			Env  []string `json:"env"`
		} `json:"process"`
		Mounts []struct {
			Destination string   `json:"destination"`
			Source      string   `json:"source"`
			Options     []string `json:"options"`
		} `json:"mounts"`
		Root struct{ Path string } `json:"root"`
	}
	if err := json.Unmarshal(out, &spec); err != nil {
		t.Fatal(err)
	}
	if spec.OCIVersion != "1.0.2" || spec.Root.Path != "rootfs" || len(spec.Process.Args) != 3 {
		t.Errorf("lost fields: %s", out)
	}
	if !slices.Equal(spec.Process.Env, append([]string{"PATH=/usr/bin"}, env...)) {
		t.Errorf("env %q", spec.Process.Env)
	}
	if len(spec.Mounts) != 2 || spec.Mounts[0].Destination != "/dev" || spec.Mounts[1].Destination != mountDir ||
		spec.Mounts[1].Source != libDir || !slices.Contains(spec.Mounts[1].Options, "ro") {
		t.Errorf("mounts %+v", spec.Mounts)
	}
	if _, err := patchSpec([]byte(`{"mounts":[]}`)); err == nil {
		t.Error("a spec without process: no error")
	}
}

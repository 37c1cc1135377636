package capfilter

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// withoutSysResource is this project's CI host: every capability but 24.
const withoutSysResource = Set(0x1fffeffffff)

func TestFilterArgsCreate(t *testing.T) {
	dir := t.TempDir()
	spec := `{"ociVersion":"1.0.2","process":{"args":["sh"],"capabilities":{` +
		`"bounding":["CAP_CHOWN","CAP_SYS_RESOURCE"],"effective":["CAP_SYS_RESOURCE"],` +
		`"permitted":["CAP_CHOWN"]}},"root":{"path":"rootfs"}}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--root", "/run/runc", "--log", "x.log", "create", "--bundle", dir, "id1"}
	if err := FilterArgs(args, withoutSysResource); err != nil {
		t.Fatal(err)
	}
	var got struct {
		OCIVersion string `json:"ociVersion"`
		Process    struct {
			Args []string            `json:"args"`
			Caps map[string][]string `json:"capabilities"`
		} `json:"process"`
		Root map[string]string `json:"root"`
	}
	data, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Process.Caps["bounding"], []string{"CAP_CHOWN"}) || len(got.Process.Caps["effective"]) != 0 {
		t.Errorf("CAP_SYS_RESOURCE not removed: %s", data)
	}
	if got.OCIVersion != "1.0.2" || got.Root["path"] != "rootfs" || got.Process.Args[0] != "sh" {
		t.Errorf("other fields changed: %s", data)
	}
}

func TestFilterArgsExecProcessFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "process.json")
	os.WriteFile(p, []byte(`{"args":["ls"],"capabilities":{"bounding":["CAP_SYS_RESOURCE","CAP_KILL"]}}`), 0o600)
	if err := FilterArgs([]string{"exec", "--process=" + p, "id"}, withoutSysResource); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	if want := `{"args":["ls"],"capabilities":{"bounding":["CAP_KILL"]}}`; string(data) != want {
		t.Errorf("got %s, want %s", data, want)
	}
}

func TestFullBoundingSetChangesNothing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.json")
	orig := `{"process": {"capabilities": {"bounding": ["CAP_SYS_RESOURCE"]}}}`
	os.WriteFile(p, []byte(orig), 0o600)
	if err := FilterArgs([]string{"run", "-b", filepath.Dir(p), "id"}, Set(1<<41-1)); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(p); string(data) != orig {
		t.Errorf("spec rewritten on a full bounding set: %s", data)
	}
}

func TestReadStatus(t *testing.T) {
	p := filepath.Join(t.TempDir(), "status")
	os.WriteFile(p, []byte("Name:\tx\nCapBnd:\t000001fffeffffff\n"), 0o600)
	s, err := readStatus(p)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Missing(), []string{"CAP_SYS_RESOURCE"}) {
		t.Errorf("missing = %v", s.Missing())
	}
	os.WriteFile(p, []byte("Name:\tx\n"), 0o600)
	if _, err := readStatus(p); err == nil {
		t.Error("no CapBnd line accepted")
	}
}

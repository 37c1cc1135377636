// Command faketimerunc is the OCI runtime a BuildKit daemon runs instead
// of runc (buildkitd --oci-worker-binary) for the time variation: for
// `run` and `create` it adds libfaketime to the container's spec, preloaded
// with a clock 398 days ahead, then executes the real runc (buildkit-runc,
// as moby/buildkit names it, else runc). Its source is embedded in the
// provision package, which builds it static into the BuildKit image's
// clock layer (provision.WithFakeTime).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
)

// Where the clock layer puts libfaketime, and where containers see it: a
// folder under /dev, which the runtime mounts as a tmpfs before this
// mount, so its mount point never reaches a layer.
const (
	libDir    = "/usr/local/lib/repro-faketime"
	mountDir  = "/dev/.repro-faketime"
	libName   = "libfaketime.so.1"
	clockSkew = "+398d"
)

// env is what a container's processes get: the library preloaded, the
// clock ahead, monotonic clocks and file times as the kernel gives them
// (a later wall clock does not change the times of existing files).
var env = []string{
	"LD_PRELOAD=" + mountDir + "/" + libName,
	"FAKETIME=" + clockSkew,
	"FAKETIME_DONT_FAKE_MONOTONIC=1",
	"NO_FAKE_STAT=1",
}

func main() {
	args := os.Args[1:]
	if bundle := bundleOf(args); bundle != "" {
		if err := patch(filepath.Join(bundle, "config.json")); err != nil {
			fmt.Fprintln(os.Stderr, "faketimerunc:", err)
			os.Exit(1)
		}
	}
	runc, err := exec.LookPath("buildkit-runc")
	if err != nil {
		if runc, err = exec.LookPath("runc"); err != nil {
			fmt.Fprintln(os.Stderr, "faketimerunc: no buildkit-runc or runc in PATH")
			os.Exit(1)
		}
	}
	err = syscall.Exec(runc, append([]string{runc}, args...), os.Environ())
	fmt.Fprintln(os.Stderr, "faketimerunc: exec", runc+":", err)
	os.Exit(1)
}

// bundleOf is the bundle folder of a `runc run` or `runc create` command
// line (--bundle, -b, or --bundle=), "" for any other command.
func bundleOf(args []string) string {
	if !slices.Contains(args, "run") && !slices.Contains(args, "create") {
		return ""
	}
	for i, a := range args {
		switch {
		case (a == "--bundle" || a == "-b") && i+1 < len(args):
			return args[i+1]
		case len(a) > len("--bundle=") && a[:len("--bundle=")] == "--bundle=":
			return a[len("--bundle="):]
		}
	}
	return ""
}

// patch adds env and the library's read-only bind mount to the spec at
// path, keeping every other field as it is.
func patch(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := patchSpec(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, out, 0o600)
}

// patchSpec is patch on the spec's bytes.
func patchSpec(data []byte) ([]byte, error) {
	var spec map[string]any
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, err
	}
	process, ok := spec["process"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("no process in the spec")
	}
	list, _ := process["env"].([]any)
	for _, e := range env {
		list = append(list, e)
	}
	process["env"] = list
	mounts, _ := spec["mounts"].([]any)
	spec["mounts"] = append(mounts, map[string]any{
		"destination": mountDir, "type": "bind", "source": libDir,
		"options": []any{"rbind", "ro", "nosuid", "nodev"},
	})
	return json.Marshal(spec)
}

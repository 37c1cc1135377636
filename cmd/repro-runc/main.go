// Command repro-runc is an OCI runtime wrapper for hosts whose capability
// bounding set lacks capabilities that privileged containers ask for (see
// shared/ENVIRONMENT.md, trap 1). It removes those capabilities from the
// container spec (config.json for create/run, the --process file for exec)
// and then executes the real runc with the same arguments.
//
// Install it as the default runtime of dockerd and podman only on such hosts;
// on an ordinary host it is never needed.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/repro-matrix/repro-matrix/internal/capfilter"
)

// realRuntime is the runc that does the work; REPRO_RUNC overrides it.
func realRuntime() string {
	if p := os.Getenv("REPRO_RUNC"); p != "" {
		return p
	}
	for _, p := range []string{"/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc", "/usr/local/bin/runc"} {
		if self, _ := os.Executable(); p != self {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	return "runc"
}

func main() {
	bounding, err := capfilter.Bounding()
	if err == nil && len(os.Args) == 2 && os.Args[1] == "--list-missing" {
		fmt.Println(strings.Join(bounding.Missing(), " "))
		return
	}
	if err == nil {
		err = capfilter.FilterArgs(os.Args[1:], bounding)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "repro-runc:", err)
		os.Exit(1)
	}
	runc := realRuntime()
	if !filepath.IsAbs(runc) {
		fmt.Fprintln(os.Stderr, "repro-runc: runc not found; set REPRO_RUNC")
		os.Exit(1)
	}
	argv := append([]string{runc}, os.Args[1:]...)
	if err := syscall.Exec(runc, argv, os.Environ()); err != nil {
		fmt.Fprintln(os.Stderr, "repro-runc: exec", runc+":", err)
		os.Exit(1)
	}
}

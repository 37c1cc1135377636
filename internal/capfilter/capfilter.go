// Package capfilter removes, from OCI runtime specs, the capabilities that
// the host's capability bounding set cannot grant. Privileged containers ask
// for every capability; on a host whose bounding set lacks one (this
// project's CI machines lack CAP_SYS_RESOURCE) runc then fails with
// "unable to apply caps: operation not permitted".
package capfilter

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// names maps capability names to their numbers (linux/capability.h).
var names = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// Set is a capability bounding set as read from /proc/self/status.
type Set uint64

// Has reports whether the set holds the named capability. Unknown names are
// kept: only capabilities known to be missing are removed.
func (s Set) Has(name string) bool {
	for i, n := range names {
		if n == name {
			return s&(1<<uint(i)) != 0
		}
	}
	return true
}

// Missing lists the known capabilities the set lacks.
func (s Set) Missing() []string {
	var out []string
	for i, n := range names {
		if s&(1<<uint(i)) == 0 {
			out = append(out, n)
		}
	}
	return out
}

// Bounding reads the calling process's capability bounding set.
func Bounding() (Set, error) {
	return readStatus("/proc/self/status")
}

func readStatus(path string) (Set, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapBnd:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("parse CapBnd in %s: %w", path, err)
			}
			return Set(n), nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no CapBnd line in %s", path)
}

// FilterArgs finds the spec files that a runc command line will read and
// removes the capabilities missing from bounding: the bundle's config.json
// for create and run, the --process file for exec.
func FilterArgs(args []string, bounding Set) error {
	if len(bounding.Missing()) == 0 {
		return nil
	}
	cmd, rest := subcommand(args)
	switch cmd {
	case "create", "run":
		bundle := flagValue(rest, "--bundle", "-b")
		if bundle == "" {
			bundle = "."
		}
		return FilterFile(filepath.Join(bundle, "config.json"), "process", bounding)
	case "exec":
		if p := flagValue(rest, "--process", "-p"); p != "" {
			return FilterFile(p, "", bounding)
		}
	}
	return nil
}

// subcommand skips runc's global flags (all of which take a value except
// the boolean ones listed) and returns the subcommand and its arguments.
func subcommand(args []string) (string, []string) {
	boolFlags := map[string]bool{"--debug": true, "--systemd-cgroup": true, "--rootless": false}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return a, args[i+1:]
		}
		if !strings.Contains(a, "=") && !boolFlags[a] {
			i++ // skip the flag's value
		}
	}
	return "", nil
}

// flagValue returns the value of a flag given as "--f v", "--f=v", "-f v".
func flagValue(args []string, long, short string) string {
	for i, a := range args {
		for _, name := range []string{long, short} {
			if a == name && i+1 < len(args) {
				return args[i+1]
			}
			if v, ok := strings.CutPrefix(a, name+"="); ok {
				return v
			}
		}
	}
	return ""
}

// FilterFile rewrites a JSON spec in place. key names the object holding
// "capabilities" ("process" in config.json, "" for an exec process file).
// Every other field is kept as it was.
func FilterFile(path, key string, bounding Set) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	changed, err := filterDoc(doc, key, bounding)
	if err != nil || !changed {
		return err
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o600)
}

func filterDoc(doc map[string]json.RawMessage, key string, bounding Set) (bool, error) {
	if key != "" {
		raw, ok := doc[key]
		if !ok {
			return false, nil
		}
		var inner map[string]json.RawMessage
		if err := json.Unmarshal(raw, &inner); err != nil {
			return false, fmt.Errorf("parse %s: %w", key, err)
		}
		changed, err := filterDoc(inner, "", bounding)
		if err != nil || !changed {
			return changed, err
		}
		doc[key], err = json.Marshal(inner)
		return true, err
	}
	raw, ok := doc["capabilities"]
	if !ok || string(raw) == "null" {
		return false, nil
	}
	var caps map[string][]string
	if err := json.Unmarshal(raw, &caps); err != nil {
		return false, fmt.Errorf("parse capabilities: %w", err)
	}
	changed := false
	for set, list := range caps {
		kept := list[:0:0]
		for _, c := range list {
			if bounding.Has(c) {
				kept = append(kept, c)
			}
		}
		if len(kept) != len(list) {
			caps[set], changed = kept, true
		}
	}
	if !changed {
		return false, nil
	}
	var err error
	doc["capabilities"], err = json.Marshal(caps)
	return true, err
}

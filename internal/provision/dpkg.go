package provision

import (
	"archive/tar"
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// dpkgVersion reads the installed version of pkg from a rootfs tar's
// var/lib/dpkg/status.
func dpkgVersion(rootfs, pkg string) (string, error) {
	f, err := os.Open(rootfs)
	if err != nil {
		return "", err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return "", fmt.Errorf("%s: no var/lib/dpkg/status", filepath.Base(rootfs))
		}
		if err != nil {
			return "", fmt.Errorf("read %s: %w", filepath.Base(rootfs), err)
		}
		if strings.TrimPrefix(h.Name, "./") != "var/lib/dpkg/status" {
			continue
		}
		v, ok := statusVersion(tr, pkg)
		if !ok {
			return "", fmt.Errorf("%s: package %s is not installed", filepath.Base(rootfs), pkg)
		}
		return v, nil
	}
}

// statusVersion finds the Version of an installed package in a dpkg
// status file.
func statusVersion(r io.Reader, pkg string) (string, bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var name, version, status string
	flush := func() bool { return name == pkg && strings.HasSuffix(status, " installed") && version != "" }
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if flush() {
				return version, true
			}
			name, version, status = "", "", ""
			continue
		}
		if v, ok := strings.CutPrefix(line, "Package: "); ok {
			name = v
		} else if v, ok := strings.CutPrefix(line, "Version: "); ok {
			version = v
		} else if v, ok := strings.CutPrefix(line, "Status: "); ok {
			status = v
		}
	}
	if flush() {
		return version, true
	}
	return "", false
}

// debianUpstream is the upstream part of a Debian version:
// 26.1.5+dfsg1-9+deb13u1+b1 -> 26.1.5, 1:2.3-1 -> 2.3.
func debianUpstream(v string) string {
	if _, after, ok := strings.Cut(v, ":"); ok {
		v = after
	}
	if i := strings.LastIndex(v, "-"); i >= 0 {
		v = v[:i]
	}
	if i := strings.IndexAny(v, "+~"); i >= 0 {
		v = v[:i]
	}
	return v
}

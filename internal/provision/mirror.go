package provision

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// DebianMirror returns the Debian archive to make root filesystems from:
// $REPRO_MATRIX_DEBIAN_MIRROR, else the first Debian archive the host's apt
// sources name (so a local mirror is used wherever apt uses one).
func DebianMirror() (string, error) {
	if m := os.Getenv("REPRO_MATRIX_DEBIAN_MIRROR"); m != "" {
		return m, nil
	}
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, f := range files {
		if uri := deb822Mirror(f); uri != "" {
			return uri, nil
		}
	}
	lists, _ := filepath.Glob("/etc/apt/sources.list.d/*.list")
	for _, f := range append([]string{"/etc/apt/sources.list"}, lists...) {
		if uri := oneLineMirror(f); uri != "" {
			return uri, nil
		}
	}
	return "", errors.New("no Debian archive in the host's apt sources: set REPRO_MATRIX_DEBIAN_MIRROR")
}

// isArchive tells the main archive from security and ports archives.
func isArchive(uri string) bool {
	return strings.HasSuffix(strings.TrimSuffix(uri, "/"), "/debian")
}

// deb822Mirror reads URIs: of a "Types: deb" stanza in a .sources file.
func deb822Mirror(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if uris, ok := strings.CutPrefix(sc.Text(), "URIs:"); ok {
			for _, u := range strings.Fields(uris) {
				if isArchive(u) {
					return strings.TrimSuffix(u, "/")
				}
			}
		}
	}
	return ""
}

// oneLineMirror reads "deb URI suite components" lines.
func oneLineMirror(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 3 && fields[0] == "deb" {
			for _, u := range fields[1:] {
				if strings.Contains(u, "://") && isArchive(u) {
					return strings.TrimSuffix(u, "/")
				}
			}
		}
	}
	return ""
}

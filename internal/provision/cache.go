// Package provision makes the images that cannot be pulled here: BuildKit
// built from the Go module proxy, Debian base images made from Debian's
// archive. Results are cached by content: a recipe's key is the hash of
// everything that goes into it, so a second run costs seconds.
package provision

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Cache is a folder of content-addressed artefacts.
type Cache struct{ Dir string }

// DefaultCache is $REPRO_MATRIX_CACHE, else ~/.cache/repro-matrix.
func DefaultCache() Cache {
	if d := os.Getenv("REPRO_MATRIX_CACHE"); d != "" {
		return Cache{Dir: d}
	}
	if d, err := os.UserCacheDir(); err == nil {
		return Cache{Dir: filepath.Join(d, "repro-matrix")}
	}
	return Cache{Dir: filepath.Join(os.TempDir(), "repro-matrix-cache")}
}

// key hashes the parts of a recipe into a short hex name.
func key(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		io.WriteString(h, p)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Path returns the cache path of an artefact, creating its parent folder.
func (c Cache) Path(kind, name string) (string, error) {
	dir := filepath.Join(c.Dir, kind)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	return filepath.Join(dir, name), nil
}

// has reports whether a cached artefact exists.
func has(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Produce runs make into a temporary path beside dst and renames it into
// place only when make succeeds, so a cache never holds half an artefact.
// A lock file serialises processes that want the same artefact (parallel
// test packages, Ginkgo processes): the second waits and then finds it.
func Produce(dst string, make func(tmp string) error) error {
	if has(dst) {
		return nil
	}
	lock, err := os.OpenFile(dst+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("cache lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("cache lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if has(dst) {
		return nil
	}
	tmp := dst + ".tmp-" + fmt.Sprint(os.Getpid())
	os.RemoveAll(tmp)
	if err := make(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	return nil
}

// tail returns the last n lines of command output, for error messages.
func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

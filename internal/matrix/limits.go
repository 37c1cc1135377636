package matrix

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ErrLimit is wrapped by every LimitError: the input exceeds one of the
// Limits that bound the work of loading it.
var ErrLimit = errors.New("limit exceeded")

// LimitsEnv is the environment variable that changes the default Limits of
// every command that loads a matrix (validate, cells, goldens, report, the
// suite): comma-separated key=value pairs whose keys are the Limits' keys,
// e.g. REPRO_MATRIX_LIMITS=nodes=200000,bytes=1048576.
const LimitsEnv = "REPRO_MATRIX_LIMITS"

// Limits bound the work and memory of loading a matrix, whatever the file
// holds: a file within them is loaded in well under a second and a few tens
// of MB. Each is a count; zero or less means the default. Every limit has a
// key, used by LimitsEnv, by LimitError.Key and by the validate command's
// flags (--max-<key>).
//
// The defaults are generous: this project's matrix.yaml is about 7 KB, 290
// YAML nodes, 5 levels deep, with no alias, and 2,880 cell checks.
type Limits struct {
	// Bytes (key bytes) is the largest matrix or golden.yaml file read, in
	// bytes. yaml.v3 holds about 100 bytes of memory per byte of the worst
	// YAML, so this bounds the parser's memory. Default 256 KiB.
	Bytes int64
	// Aliases (key aliases) is how many aliases (*name) the file may hold.
	// Default 1,000.
	Aliases int
	// Depth (key depth) is how deeply collections may nest, counted with
	// every alias replaced by what it stands for; the schema needs 6.
	// Default 64.
	Depth int
	// Nodes (key nodes) is how many YAML nodes (scalars, lists, mappings,
	// keys included) the file may hold with every alias replaced by what it
	// stands for: the bound on "billion laughs" and merge-key (<<) bombs,
	// which a few hundred bytes make expand to millions. Default 50,000.
	Nodes int
	// Cells (key cells) is how many cell checks expanding every profile may
	// take: each profile checks every cell of the whole matrix (fixtures x
	// their platforms x engines x BuildKits x exporters) once, and once more
	// against each of its include and exclude patterns. Default 1,000,000.
	Cells int
}

// DefaultLimits are the limits Load uses when neither LimitsEnv nor
// WithLimits says otherwise.
var DefaultLimits = Limits{Bytes: 256 << 10, Aliases: 1000, Depth: 64, Nodes: 50000, Cells: 1000000}

// LimitKeys are the keys of the limits, in the order of the Limits fields.
var LimitKeys = []string{"bytes", "aliases", "depth", "nodes", "cells"}

// orDefault fills every unset limit of l from DefaultLimits.
func (l Limits) orDefault() Limits { return l.over(DefaultLimits) }

// over is d with every limit that l sets (above zero) set so.
func (l Limits) over(d Limits) Limits {
	if l.Bytes > 0 {
		d.Bytes = l.Bytes
	}
	if l.Aliases > 0 {
		d.Aliases = l.Aliases
	}
	if l.Depth > 0 {
		d.Depth = l.Depth
	}
	if l.Nodes > 0 {
		d.Nodes = l.Nodes
	}
	if l.Cells > 0 {
		d.Cells = l.Cells
	}
	return d
}

// Set sets the limit named key (one of LimitKeys) to value, which must be
// a positive integer.
func (l *Limits) Set(key string, value int64) error {
	if value <= 0 {
		return fmt.Errorf("limit %s: %d: want a positive integer", key, value)
	}
	switch key {
	case "bytes":
		l.Bytes = value
	case "aliases":
		l.Aliases = int(min(value, 1<<31-1))
	case "depth":
		l.Depth = int(min(value, 1<<31-1))
	case "nodes":
		l.Nodes = int(min(value, 1<<31-1))
	case "cells":
		l.Cells = int(min(value, 1<<31-1))
	default:
		return fmt.Errorf("unknown limit %q (known: %s)", key, strings.Join(LimitKeys, ", "))
	}
	return nil
}

// LimitsFromEnv returns DefaultLimits changed by LimitsEnv, if set. A
// malformed variable is an error naming it.
func LimitsFromEnv() (Limits, error) {
	l := DefaultLimits
	v := strings.TrimSpace(os.Getenv(LimitsEnv))
	if v == "" {
		return l, nil
	}
	for _, kv := range strings.Split(v, ",") {
		key, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return l, fmt.Errorf("%s: %q: want key=value, e.g. nodes=200000", LimitsEnv, cut(kv))
		}
		n, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
		if err != nil {
			return l, fmt.Errorf("%s: %s=%q: want a positive integer", LimitsEnv, cut(key), cut(val))
		}
		if err := l.Set(strings.TrimSpace(key), n); err != nil {
			return l, fmt.Errorf("%s: %w", LimitsEnv, err)
		}
	}
	return l, nil
}

// WithLimits sets the limits of Load; unset (zero) ones keep their default
// (DefaultLimits as LimitsEnv changes it).
func WithLimits(l Limits) Option {
	return func(o *loadOptions) { o.limits = l.over(o.limits) }
}

// LimitError is an input that exceeds one of the Limits. It wraps ErrLimit.
// Its Error names the file, the line where the limit was crossed when there
// is one, what was exceeded and how to raise the limit.
type LimitError struct {
	File  string // the file, absolute
	Line  int    // 0 when the limit is not crossed at a line (bytes, cells)
	Key   string // the limit's key: bytes, aliases, depth, nodes, cells
	Limit int64  // the limit in force
	What  string // what exceeded it: "the file is larger than 262144 bytes"
}

func (e *LimitError) Error() string {
	where := e.File
	if e.Line > 0 {
		where += fmt.Sprintf(": line %d", e.Line)
	}
	return fmt.Sprintf("%s: %s (limit %s=%d); if the file really needs more, raise the limit with %s=%s=N",
		where, e.What, e.Key, e.Limit, LimitsEnv, e.Key)
}

// Is makes errors.Is(err, ErrLimit) true for any LimitError.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

package matrix

import (
	"fmt"
	"slices"
	"strings"
)

// Variations (matrix.yaml's vary, issue 13): the reference cell of a group
// rebuilt with one aspect of its build environment changed, each required
// to give the digest of the unvaried build, as reprotest varies a build.
// The package doc lists what each one changes.
const (
	// VariationMtime: the context's files and folders get the current time
	// as their modification time.
	VariationMtime = "mtime"
	// VariationUmask: the context as a checkout under umask 002 makes it
	// (files 0664, executables and folders 0775) instead of 022.
	VariationUmask = "umask"
	// VariationSetgid: the setgid bit on the context's folders
	// (drwxr-sr-x, a checkout inside a setgid folder).
	VariationSetgid = "setgid"
	// VariationOrder: the context's files created in reverse order
	// (another directory entry order).
	VariationOrder = "order"
	// VariationPath: the context at another absolute path.
	VariationPath = "path"
	// VariationTZ: TZ of the building process (the engine's CLI) set to
	// another zone (e.g. Pacific/Kiritimati, UTC+14).
	VariationTZ = "tz"
	// VariationLocale: LANG and LC_ALL of the building process set to
	// another locale (e.g. tr_TR.UTF-8).
	VariationLocale = "locale"
	// VariationTime: the wall clock of the build's RUN steps 398 days
	// ahead (libfaketime preloaded into them, as reprotest's time
	// variation runs a build under faketime). linux/amd64 cells only: the
	// library is an amd64 one, which emulated steps would not load.
	VariationTime = "time"
)

// Variations are the variation names in their canonical order, the order
// of Cell.Vary whatever order the file lists them in.
var Variations = []string{VariationMtime, VariationUmask, VariationSetgid, VariationOrder, VariationPath, VariationTZ, VariationLocale, VariationTime}

// cellVary is the variations of lists that apply to c, in canonical order:
// the time variation only on linux/amd64 (see VariationTime).
func cellVary(c Cell, lists ...[]string) []string {
	vary := unionVary(lists...)
	if c.Platform != "linux/amd64" {
		vary = slices.DeleteFunc(vary, func(v string) bool { return v == VariationTime })
	}
	if len(vary) == 0 {
		return nil
	}
	return vary
}

// checkVary checks a vary list at field (fixtures[0].vary,
// profiles.local.vary): every name one of Variations, none twice.
func checkVary(p *problems, field string, vary []string) {
	seen := map[string]bool{}
	for i, v := range vary {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case !slices.Contains(Variations, v):
			p.add(f, "unknown variation %q (known: %s)", v, strings.Join(Variations, ", "))
		case seen[v]:
			p.add(f, "duplicate variation %s", v)
		}
		seen[v] = true
	}
}

// unionVary is the union of the vary lists, without duplicates, in the
// canonical order of Variations; names that are none of them (a matrix
// changed after Load, which Validate refuses) follow in the order given,
// so that none disappears silently. nil when every list is empty.
func unionVary(lists ...[]string) []string {
	var out, unknown []string
	for _, v := range Variations {
		if slices.ContainsFunc(lists, func(l []string) bool { return slices.Contains(l, v) }) {
			out = append(out, v)
		}
	}
	for _, l := range lists {
		for _, v := range l {
			if !slices.Contains(Variations, v) && !slices.Contains(unknown, v) {
				unknown = append(unknown, v)
			}
		}
	}
	return append(out, unknown...)
}

package report

import "errors"

// Sentinel errors of the package; match them with errors.Is.
var (
	// ErrDuplicateCell: two results carry the same cell name (Merge).
	ErrDuplicateCell = errors.New("duplicate cell")
	// ErrRunMismatch: shards that do not belong to the same run (Merge).
	ErrRunMismatch = errors.New("shards of different runs")
)

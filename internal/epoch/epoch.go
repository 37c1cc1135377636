// Package epoch reads SOURCE_DATE_EPOCH from an ISO 8601 date or
// date-time, as repro-build's --datetime does (Python's
// datetime.fromisoformat): the CLI and matrix.yaml take the same forms.
package epoch

import (
	"fmt"
	"time"
)

// layouts are the accepted forms; one without a zone is UTC.
var layouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
}

// ParseDatetime parses an ISO 8601 date or date-time, UTC unless it names
// a zone.
func ParseDatetime(s string) (time.Time, error) {
	for _, layout := range layouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: want an ISO 8601 date or date-time, e.g. 2025-01-01 or 2025-01-01T12:00:00+02:00", s)
}

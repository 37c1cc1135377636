package build

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// isoLayouts are the ISO 8601 forms --datetime accepts, as Python's
// datetime.fromisoformat does for repro-build.
var isoLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
}

// SourceDateEpoch returns SOURCE_DATE_EPOCH from exactly one of an epoch
// (seconds, as text) and an ISO date or date-time; a date-time without a
// zone is UTC.
func SourceDateEpoch(epoch, datetime string) (int64, error) {
	switch {
	case epoch != "" && datetime != "":
		return 0, errors.New("--source-date-epoch and --datetime: give one, not both")
	case epoch == "" && datetime == "":
		return 0, errors.New("give a SOURCE_DATE_EPOCH with --source-date-epoch or a date with --datetime")
	case epoch != "":
		n, err := strconv.ParseInt(epoch, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("--source-date-epoch %q: want a non-negative number of seconds", epoch)
		}
		return n, nil
	}
	for _, layout := range isoLayouts {
		if t, err := time.ParseInLocation(layout, datetime, time.UTC); err == nil {
			if t.Unix() < 0 {
				return 0, fmt.Errorf("--datetime %q: before 1970", datetime)
			}
			return t.Unix(), nil
		}
	}
	return 0, fmt.Errorf("--datetime %q: want an ISO date like 2024-05-01 or 2024-05-01T12:00:00+02:00", datetime)
}

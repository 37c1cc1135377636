package build

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/repro-matrix/repro-matrix/internal/epoch"
)

// SourceDateEpoch returns SOURCE_DATE_EPOCH from exactly one of an epoch
// (seconds, as text) and an ISO date or date-time; a date-time without a
// zone is UTC.
func SourceDateEpoch(seconds, datetime string) (int64, error) {
	switch {
	case seconds != "" && datetime != "":
		return 0, errors.New("--source-date-epoch and --datetime: give one, not both")
	case seconds == "" && datetime == "":
		return 0, errors.New("give a SOURCE_DATE_EPOCH with --source-date-epoch or a date with --datetime")
	case seconds != "":
		n, err := strconv.ParseInt(seconds, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("--source-date-epoch %q: want a non-negative number of seconds", seconds)
		}
		return n, nil
	}
	t, err := epoch.ParseDatetime(datetime)
	if err != nil {
		return 0, fmt.Errorf("--datetime %w", err)
	}
	if t.Unix() < 0 {
		return 0, fmt.Errorf("--datetime %q: before 1970", datetime)
	}
	return t.Unix(), nil
}

package epoch

import "testing"

func TestParseDatetime(t *testing.T) {
	for in, want := range map[string]int64{
		"2024-05-01":                1714521600,
		"2024-05-01T12:00:00":       1714564800,
		"2024-05-01 12:00:00":       1714564800,
		"2024-05-01T12:00:00+02:00": 1714557600,
		"2024-05-01T12:00:00Z":      1714564800,
		"2024-05-01T12:00":          1714564800,
		"2024-05-01T12:00:00.5Z":    1714564800,
	} {
		got, err := ParseDatetime(in)
		if err != nil || got.Unix() != want {
			t.Errorf("ParseDatetime(%q) = %v, %v; want %d", in, got.Unix(), err, want)
		}
	}
	for _, bad := range []string{"", "May 1st", "2024-13-01", "2024-05-01T25:00"} {
		if _, err := ParseDatetime(bad); err == nil {
			t.Errorf("ParseDatetime(%q) accepted", bad)
		}
	}
}

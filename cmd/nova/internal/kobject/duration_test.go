package kobject

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{
		"PT0.2S":        200 * time.Millisecond,
		"PT0,5S":        500 * time.Millisecond,
		"PT1S":          time.Second,
		"PT1M30S":       90 * time.Second,
		"PT1H":          time.Hour,
		"PT1.5H":        90 * time.Minute,
		"P1D":           24 * time.Hour,
		"P1DT2H":        26 * time.Hour,
		"P2W":           14 * 24 * time.Hour,
		"PT0S":          0,
		"PT10M":         10 * time.Minute,
		"P1Y":           time.Duration(365.2425 * 24 * float64(time.Hour)),
		"PT0.001S":      time.Millisecond,
		"P0DT0H0M0.01S": 10 * time.Millisecond,
	}
	for in, want := range good {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "P", "PT", "soon", "1S", "PT1", "PTS", "PT1S1M", "P1H", "PT1D", "PT1S2S",
		"PT.5S", "PT5.S", "PT1.2.3S", "-PT1S", "PT-1S", "P1DT", "pt1s", "PT1e3S", "P99999999999999999999Y"} {
		if got, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
		}
	}
}

package kobject

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// Nominal lengths used for the calendar designators; Knative converts a
// period to a duration with the same approximations, so a manifest means the
// same here as on a cluster.
const (
	day   = 24 * time.Hour
	week  = 7 * day
	year  = time.Duration(365.2425 * float64(day))
	month = year / 12
)

var errDuration = errors.New("is not an ISO-8601 duration")

// ParseDuration reads an ISO-8601 duration such as PT0.2S, PT1M30S, P1D or
// P2W, the format Knative uses for backoffDelay and timeout. A decimal
// fraction (point or comma) is allowed on any component, as ISO-8601 allows
// it on the smallest one given. Negative durations are refused: a delay or a
// timeout below zero means nothing.
func ParseDuration(s string) (time.Duration, error) {
	rest, ok := strings.CutPrefix(s, "P")
	if !ok || rest == "" || rest == "T" {
		return 0, errDuration
	}
	var total float64
	inTime := false
	last := -1 // designators must come in order, each at most once
	seen := false
	for rest != "" {
		if rest[0] == 'T' {
			if inTime {
				return 0, errDuration
			}
			inTime = true
			rest = rest[1:]
			if rest == "" {
				return 0, errDuration
			}
			continue
		}
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.' || rest[i] == ',') {
			i++
		}
		if i == 0 || i == len(rest) {
			return 0, errDuration
		}
		num := strings.ReplaceAll(rest[:i], ",", ".")
		if strings.Count(num, ".") > 1 || num[0] == '.' || num[len(num)-1] == '.' {
			return 0, errDuration
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, errDuration
		}
		unit := rest[i]
		var d time.Duration
		var idx int
		switch {
		case !inTime && unit == 'Y':
			d, idx = year, 0
		case !inTime && unit == 'M':
			d, idx = month, 1
		case !inTime && unit == 'W':
			d, idx = week, 2
		case !inTime && unit == 'D':
			d, idx = day, 3
		case inTime && unit == 'H':
			d, idx = time.Hour, 4
		case inTime && unit == 'M':
			d, idx = time.Minute, 5
		case inTime && unit == 'S':
			d, idx = time.Second, 6
		default:
			return 0, errDuration
		}
		if idx <= last {
			return 0, errDuration
		}
		last = idx
		total += v * float64(d)
		seen = true
		rest = rest[i+1:]
	}
	if !seen || total >= math.MaxInt64 {
		return 0, errDuration
	}
	return time.Duration(math.Round(total)), nil
}

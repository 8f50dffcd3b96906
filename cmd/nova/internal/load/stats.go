package load

import (
	"fmt"
	"slices"
	"time"
)

// Summary describes a set of latencies.
type Summary struct {
	Count               int
	Avg, Max            time.Duration
	P50, P95, P99, P999 time.Duration
}

// Summarize computes the summary of d; d is sorted in place.
func Summarize(d []time.Duration) Summary {
	if len(d) == 0 {
		return Summary{}
	}
	slices.Sort(d)
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	at := func(q float64) time.Duration {
		// Nearest rank: the smallest value with at least q of the set at or
		// below it.
		i := int(q*float64(len(d))+0.999999) - 1
		return d[min(max(i, 0), len(d)-1)]
	}
	return Summary{
		Count: len(d),
		Avg:   sum / time.Duration(len(d)),
		Max:   d[len(d)-1],
		P50:   at(0.50),
		P95:   at(0.95),
		P99:   at(0.99),
		P999:  at(0.999),
	}
}

// ms renders d in milliseconds with two decimals, the unit of every report.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond))
}

package testrig

import (
	"slices"
	"testing"
	"time"
)

// ReportLatency adds the p50 and p99 of d, in milliseconds, to b's
// results as "<label>-p50-ms" and "<label>-p99-ms".
func ReportLatency(b *testing.B, label string, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	s := slices.Clone(d)
	slices.Sort(s)
	pct := func(p float64) float64 {
		return float64(s[min(len(s)-1, int(p*float64(len(s))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), label+"-p50-ms")
	b.ReportMetric(pct(0.99), label+"-p99-ms")
}

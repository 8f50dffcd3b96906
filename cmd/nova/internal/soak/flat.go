package soak

import (
	"errors"
	"fmt"
	"time"
)

// A series is flat when its mean over the last half of the samples after
// warm-up exceeds that over the first half by no more than its allowance:
// a share of the first half's mean plus an absolute slack, so a small
// series (a dozen connections) is not failed by one more, nor a large one
// (hundreds of megabytes) by the garbage collector's rhythm.
type allowance struct {
	name  string
	value func(Sample) float64
	share float64 // of the first half's mean
	slack float64 // in the series' unit
}

func allowances() []allowance {
	return []allowance{
		{"resident memory (bytes)", func(s Sample) float64 { return float64(s.RSS) }, 0.25, 32 << 20},
		{"Go heap in use (bytes)", func(s Sample) float64 { return float64(s.Heap) }, 0.25, 32 << 20},
		{"goroutines", func(s Sample) float64 { return float64(s.Goroutines) }, 0.10, 50},
		{"open files", func(s Sample) float64 { return float64(s.FDs) }, 0.10, 20},
		{"PostgreSQL connections", func(s Sample) float64 { return float64(s.PGConns) }, 0, 3},
	}
}

// Flat reports, as an error naming each series, whatever grew after warmUp
// beyond its allowance. It needs at least four samples after warm-up.
func Flat(samples []Sample, warmUp time.Duration) error {
	var after []Sample
	for _, s := range samples {
		if s.At >= warmUp {
			after = append(after, s)
		}
	}
	if len(after) < 4 {
		return fmt.Errorf("soak: %d samples after the %v warm-up, want at least 4 to judge", len(after), warmUp)
	}
	first, last := after[:len(after)/2], after[len(after)/2:]
	var errs []error
	for _, a := range allowances() {
		m1, m2 := mean(first, a.value), mean(last, a.value)
		if limit := m1*(1+a.share) + a.slack; m2 > limit {
			errs = append(errs, fmt.Errorf("%s grew from a mean of %.0f to %.0f (allowed up to %.0f)", a.name, m1, m2, limit))
		}
	}
	return errors.Join(errs...)
}

func mean(ss []Sample, v func(Sample) float64) float64 {
	var sum float64
	for _, s := range ss {
		sum += v(s)
	}
	return sum / float64(len(ss))
}

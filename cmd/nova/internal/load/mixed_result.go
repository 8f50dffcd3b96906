package load

import (
	"time"
)

// OpResult is what one operation measured.
type OpResult struct {
	Name    string
	Count   int            // requests made
	Errors  map[string]int // by HTTP status, or "transport"
	Latency Summary        // every request, failed ones included
	Elapsed time.Duration
	// FirstError is the first failure, for the report.
	FirstError string
}

// OK is the number of requests answered as expected.
func (r OpResult) OK() int {
	n := r.Count
	for _, e := range r.Errors {
		n -= e
	}
	return n
}

// PerSec is requests per second over the load.
func (r OpResult) PerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Count) / r.Elapsed.Seconds()
}

// BacklogResult is what one backlog did.
type BacklogResult struct {
	Name       string
	Peak       int64
	PeakAfter  time.Duration // from the start of the load
	AtEnd      int64         // when the load ended
	Samples    int
	ReadErrors int
	LastErr    string
}

// MixedResult is the report of a run.
type MixedResult struct {
	Config     MixedConfig
	SetupTook  time.Duration
	Baseline   *OpResult
	Ops        []OpResult
	Scheduled  int // operations due at the target rate
	Skipped    int // found every slot busy
	Elapsed    time.Duration
	Backlogs   []BacklogResult
	Drained    bool
	DrainAfter time.Duration // from the end of the load until every backlog was zero
	// Feeds is the check that the last posts reached their followers'
	// feeds, when Check was run.
	FeedsChecked, FeedsMissing int
}

// Errors is the number of failed requests across the workload (the
// baseline included).
func (r MixedResult) Errors() int {
	n := 0
	for _, o := range r.Ops {
		n += o.Count - o.OK()
	}
	if r.Baseline != nil {
		n += r.Baseline.Count - r.Baseline.OK()
	}
	return n
}

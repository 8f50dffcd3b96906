package rank

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Weights are what one engagement of each kind is worth.
type Weights struct {
	Like, Comment, Share, View float64
}

// Config tunes the ranker. DefaultConfig gives working values.
type Config struct {
	Weights Weights
	// HalfLife is the age at which a post needs twice the engagement to
	// rank level with a new one.
	HalfLife time.Duration
	// EmitInterval is the least time between two PostScoreUpdated of one
	// post.
	EmitInterval time.Duration
	// FlushEvery is how often the flusher looks for due posts.
	FlushEvery time.Duration
	// Lease is how long a taken post stays with the replica that took it
	// before another may take it again.
	Lease time.Duration
	// FlushBatch bounds the posts taken per round.
	FlushBatch int
	// EmitConcurrency bounds the events in flight to the broker.
	EmitConcurrency int
	// ProcessedTTL is how long processed markers and deletion tombstones are
	// kept: longer than any redelivery.
	ProcessedTTL time.Duration
	// Retention is how long a post's counters outlive its last event.
	Retention time.Duration
	// Prefix starts every key, so several rankers (or tests) can share one
	// Redis.
	Prefix string
}

// DefaultConfig returns the production defaults.
func DefaultConfig() Config {
	return Config{
		Weights:         Weights{Like: 1, Comment: 3, Share: 5, View: 0.1},
		HalfLife:        12 * time.Hour,
		EmitInterval:    2 * time.Second,
		FlushEvery:      200 * time.Millisecond,
		Lease:           30 * time.Second,
		FlushBatch:      500,
		EmitConcurrency: 32,
		ProcessedTTL:    7 * 24 * time.Hour,
		Retention:       14 * 24 * time.Hour,
		Prefix:          "ranking:",
	}
}

// Validate reports a configuration the ranker cannot work with.
func (c Config) Validate() error {
	var errs []error
	for name, w := range map[string]float64{"like": c.Weights.Like, "comment": c.Weights.Comment,
		"share": c.Weights.Share, "view": c.Weights.View} {
		if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			errs = append(errs, fmt.Errorf("weight %s = %v must be a finite number >= 0", name, w))
		}
	}
	for name, d := range map[string]time.Duration{"half life": c.HalfLife, "emit interval": c.EmitInterval,
		"flush every": c.FlushEvery, "lease": c.Lease, "processed ttl": c.ProcessedTTL, "retention": c.Retention} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s %v must be positive", name, d))
		}
	}
	if c.Lease <= c.FlushEvery {
		errs = append(errs, fmt.Errorf("lease %v must exceed flush every %v", c.Lease, c.FlushEvery))
	}
	if c.FlushBatch < 1 || c.EmitConcurrency < 1 {
		errs = append(errs, fmt.Errorf("flush batch %d and emit concurrency %d must be positive", c.FlushBatch, c.EmitConcurrency))
	}
	if c.Prefix == "" {
		errs = append(errs, errors.New("prefix must not be empty"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ranking config: %w", err)
	}
	return nil
}

// Epoch is where the score's age term starts; any fixed instant would do,
// a recent one keeps the numbers readable.
var Epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Counters are a post's engagement.
type Counters struct {
	Views, Likes, Comments, Shares int64
}

// Score is the formula of the package doc.
func (c Config) Score(n Counters, created time.Time) float64 {
	e := c.Weights.Like*float64(max(0, n.Likes)) + c.Weights.Comment*float64(max(0, n.Comments)) +
		c.Weights.Share*float64(max(0, n.Shares)) + c.Weights.View*float64(max(0, n.Views))
	return math.Log2(1+e) + float64(created.Sub(Epoch))/float64(c.HalfLife)
}

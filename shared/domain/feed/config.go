package feed

import (
	"errors"
	"fmt"
	"time"

	"github.com/nova-social/nova/shared/envconf"
)

// Config tunes the feed store. The zero value is not valid; start from
// DefaultConfig.
type Config struct {
	// Cap is the number of posts a home feed keeps (Mastodon keeps 800).
	Cap int
	// TrimEvery spreads the trimming of feeds: a write trims the feed it
	// touched about once in TrimEvery writes, so fan-out costs one command per
	// follower instead of two. Reads never look past Cap.
	TrimEvery int
	// AuthorPostsCap is the number of recent posts kept per author for
	// back-fill on follow and for the celebrity merge.
	AuthorPostsCap int
	// CelebrityThreshold is the follower count from which an author is
	// fanned out on read.
	CelebrityThreshold int64
	// BatchSize is the number of followers written per pipeline round trip.
	BatchSize int
	// Writers is how many pipelines of one fan-out are in flight at once.
	Writers int
	// BackfillLimit is how many of a followee's recent posts a follow copies
	// into the follower's feed.
	BackfillLimit int
	// DedupeTTL is how long an applied event id and a deleted post's
	// tombstone are remembered (the design document asks for 7 days).
	DedupeTTL time.Duration
	// RankedWindow is how many of the newest feed entries ranked reads order
	// by score.
	RankedWindow int
}

// DefaultConfig returns the production defaults.
func DefaultConfig() Config {
	return Config{
		Cap:                800,
		TrimEvery:          8,
		AuthorPostsCap:     800,
		CelebrityThreshold: 10000,
		BatchSize:          1000,
		Writers:            4,
		BackfillLimit:      100,
		DedupeTTL:          7 * 24 * time.Hour,
		RankedWindow:       400,
	}
}

// ConfigFromEnv reads the settings a deployment tunes over the defaults:
// FEED_CAP, FEED_CELEBRITY_THRESHOLD, FEED_BATCH_SIZE and
// FEED_BACKFILL_LIMIT. Every process that writes or reads feeds reads them
// alike (from nova-config in a cluster), so that a feed is kept and read
// with the same cap and threshold. A malformed value is an error naming it.
func ConfigFromEnv(env map[string]string) (Config, error) {
	c := DefaultConfig()
	e := envconf.New(env)
	c.Cap = e.Int("FEED_CAP", c.Cap)
	c.CelebrityThreshold = e.Int64("FEED_CELEBRITY_THRESHOLD", c.CelebrityThreshold)
	c.BatchSize = e.Int("FEED_BATCH_SIZE", c.BatchSize)
	c.BackfillLimit = e.Int("FEED_BACKFILL_LIMIT", c.BackfillLimit)
	if err := e.Err(); err != nil {
		return c, fmt.Errorf("feed: %w", err)
	}
	return c, c.Validate()
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	var errs []error
	positive := func(name string, v int64) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("feed: %s must be positive, got %d", name, v))
		}
	}
	positive("Cap", int64(c.Cap))
	positive("TrimEvery", int64(c.TrimEvery))
	positive("AuthorPostsCap", int64(c.AuthorPostsCap))
	positive("CelebrityThreshold", c.CelebrityThreshold)
	positive("BatchSize", int64(c.BatchSize))
	positive("Writers", int64(c.Writers))
	positive("BackfillLimit", int64(c.BackfillLimit))
	positive("DedupeTTL", int64(c.DedupeTTL))
	positive("RankedWindow", int64(c.RankedWindow))
	if c.BackfillLimit > c.Cap {
		errs = append(errs, fmt.Errorf("feed: BackfillLimit %d exceeds Cap %d", c.BackfillLimit, c.Cap))
	}
	return errors.Join(errs...)
}

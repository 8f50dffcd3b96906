package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/shared/domain/post"
)

// Store is the feed state in Redis.
type Store struct {
	rdb redis.UniversalClient
	cfg Config
}

// NewStore returns a store on rdb.
func NewStore(rdb redis.UniversalClient, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Store{rdb: rdb, cfg: cfg}, nil
}

// Config returns the store's configuration.
func (s *Store) Config() Config { return s.cfg }

// Processed reports whether the event (source, id) was already applied.
func (s *Store) Processed(ctx context.Context, source, id string) (bool, error) {
	n, err := s.rdb.Exists(ctx, processedKey(source, id)).Result()
	if err != nil {
		return false, fmt.Errorf("feed: check processed: %w", err)
	}
	return n > 0, nil
}

// MarkProcessed remembers that the event (source, id) was applied, for
// Config.DedupeTTL.
func (s *Store) MarkProcessed(ctx context.Context, source, id string) error {
	if err := s.rdb.Set(ctx, processedKey(source, id), "1", s.cfg.DedupeTTL).Err(); err != nil {
		return fmt.Errorf("feed: mark processed: %w", err)
	}
	return nil
}

// Result says what applying an event did, for FeedUpdated and metrics.
type Result struct {
	// FeedsWritten counts the home feeds changed.
	FeedsWritten int64
	// FanoutOnRead is true when the author is a celebrity.
	FanoutOnRead bool
	// Ignored is true when the event was stale or about a deleted post.
	Ignored bool
}

func score(t time.Time) float64 { return float64(t.UnixMilli()) }

// Summary returns the cached summary of a post, or ok=false.
func (s *Store) Summary(ctx context.Context, id string) (post.Summary, bool, error) {
	raw, err := s.rdb.Get(ctx, postKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return post.Summary{}, false, nil
	}
	if err != nil {
		return post.Summary{}, false, fmt.Errorf("feed: read post %s: %w", id, err)
	}
	var p post.Summary
	if err := json.Unmarshal(raw, &p); err != nil {
		return post.Summary{}, false, fmt.Errorf("feed: decode cached post %s: %w", id, err)
	}
	return p, true, nil
}

func (s *Store) saveSummary(ctx context.Context, p post.Summary) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("feed: encode post %s: %w", p.ID, err)
	}
	if err := s.rdb.Set(ctx, postKey(p.ID), raw, 0).Err(); err != nil {
		return fmt.Errorf("feed: cache post %s: %w", p.ID, err)
	}
	return nil
}

// IsCelebrity reports whether author is fanned out on read.
func (s *Store) IsCelebrity(ctx context.Context, author string) (bool, error) {
	ok, err := s.rdb.SIsMember(ctx, celebritiesKey, author).Result()
	if err != nil {
		return false, fmt.Errorf("feed: celebrity check: %w", err)
	}
	return ok, nil
}

// PostCreated caches the post and writes it into the author's own feed and,
// when followers may see it and the author is not a celebrity, into every
// follower's feed.
func (s *Store) PostCreated(ctx context.Context, p post.Summary) (Result, error) {
	gone, err := s.rdb.Exists(ctx, tombstoneKey(p.ID)).Result()
	if err != nil {
		return Result{}, fmt.Errorf("feed: tombstone check: %w", err)
	}
	if gone > 0 {
		return Result{Ignored: true}, nil
	}
	if cur, ok, err := s.Summary(ctx, p.ID); err != nil {
		return Result{}, err
	} else if ok && cur.UpdatedAt.After(p.UpdatedAt) {
		// An update was applied already; keep it.
		p = cur
	}
	if err := s.saveSummary(ctx, p); err != nil {
		return Result{}, err
	}
	if err := s.addOne(ctx, p.AuthorID, p.ID, score(p.CreatedAt)); err != nil {
		return Result{}, err
	}
	res := Result{FeedsWritten: 1}
	if !p.Reachable() {
		return res, nil
	}
	return s.publish(ctx, p, res)
}

// publish makes a reachable post visible to followers: author:posts and,
// for non-celebrities, the followers' feeds.
func (s *Store) publish(ctx context.Context, p post.Summary, res Result) (Result, error) {
	pipe := s.rdb.Pipeline()
	pipe.ZAdd(ctx, authorPostsKey(p.AuthorID), redis.Z{Score: score(p.CreatedAt), Member: p.ID})
	pipe.ZRemRangeByRank(ctx, authorPostsKey(p.AuthorID), 0, int64(-s.cfg.AuthorPostsCap-1))
	if _, err := pipe.Exec(ctx); err != nil {
		return res, fmt.Errorf("feed: author posts: %w", err)
	}
	celeb, err := s.IsCelebrity(ctx, p.AuthorID)
	if err != nil {
		return res, err
	}
	if celeb {
		res.FanoutOnRead = true
		return res, nil
	}
	n, err := s.forEachFollowerBatch(ctx, p.AuthorID, func(pipe redis.Pipeliner, follower string) {
		s.queueAdd(ctx, pipe, follower, p.ID, score(p.CreatedAt))
	})
	res.FeedsWritten += n
	return res, err
}

// retract removes a post from every feed but its author's own.
func (s *Store) retract(ctx context.Context, p post.Summary, res Result) (Result, error) {
	if err := s.rdb.ZRem(ctx, authorPostsKey(p.AuthorID), p.ID).Err(); err != nil {
		return res, fmt.Errorf("feed: author posts: %w", err)
	}
	n, err := s.forEachFollowerBatch(ctx, p.AuthorID, func(pipe redis.Pipeliner, follower string) {
		pipe.ZRem(ctx, feedKey(follower), p.ID)
	})
	res.FeedsWritten += n
	return res, err
}

// PostUpdated refreshes the cached summary; a change of reach (visibility
// to or from PRIVATE, hidden or restored by moderation) adds the post to or
// removes it from followers' feeds. A hidden post leaves its author's feed
// too. Updates older than the cache are ignored.
func (s *Store) PostUpdated(ctx context.Context, apply func(post.Summary) (post.Summary, bool), id string) (Result, error) {
	cur, ok, err := s.Summary(ctx, id)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		// Nothing cached: the post was deleted (its tombstone says so) or the
		// creation was never seen; either way there is nothing to refresh.
		return Result{Ignored: true}, nil
	}
	next, changed := apply(cur)
	if !changed {
		return Result{Ignored: true}, nil
	}
	if err := s.saveSummary(ctx, next); err != nil {
		return Result{}, err
	}
	res := Result{}
	if next.Hidden != cur.Hidden {
		if next.Hidden {
			if err := s.rdb.ZRem(ctx, feedKey(next.AuthorID), next.ID).Err(); err != nil {
				return res, fmt.Errorf("feed: hide from author: %w", err)
			}
		} else if err := s.addOne(ctx, next.AuthorID, next.ID, score(next.CreatedAt)); err != nil {
			return res, err
		}
		res.FeedsWritten++
	}
	switch {
	case cur.Reachable() && !next.Reachable():
		return s.retract(ctx, next, res)
	case !cur.Reachable() && next.Reachable():
		return s.publish(ctx, next, res)
	}
	return res, nil
}

// PostDeleted removes the post from every feed and from the cache, and
// leaves a tombstone so a late duplicate of its creation is ignored.
func (s *Store) PostDeleted(ctx context.Context, id, author string) (Result, error) {
	if err := s.rdb.Set(ctx, tombstoneKey(id), "1", s.cfg.DedupeTTL).Err(); err != nil {
		return Result{}, fmt.Errorf("feed: tombstone: %w", err)
	}
	pipe := s.rdb.Pipeline()
	pipe.ZRem(ctx, feedKey(author), id)
	pipe.ZRem(ctx, scoresKey, id)
	if _, err := pipe.Exec(ctx); err != nil {
		return Result{}, fmt.Errorf("feed: delete from author: %w", err)
	}
	res, err := s.retract(ctx, post.Summary{ID: id, AuthorID: author}, Result{FeedsWritten: 1})
	if err != nil {
		return res, err
	}
	// The cache goes last: a retry after a failure above still finds the post.
	if err := s.rdb.Del(ctx, postKey(id)).Err(); err != nil {
		return res, fmt.Errorf("feed: drop cached post: %w", err)
	}
	return res, nil
}

// Follow records that follower follows followee, marks followee a celebrity
// once they reach the threshold, and back-fills the followee's recent posts
// into the follower's feed (celebrities' posts are merged at read time).
func (s *Store) Follow(ctx context.Context, follower, followee string) (Result, error) {
	pipe := s.rdb.TxPipeline()
	pipe.SAdd(ctx, followersKey(followee), follower)
	pipe.SAdd(ctx, followingKey(follower), followee)
	count := pipe.SCard(ctx, followersKey(followee))
	if _, err := pipe.Exec(ctx); err != nil {
		return Result{}, fmt.Errorf("feed: follow: %w", err)
	}
	if count.Val() >= s.cfg.CelebrityThreshold {
		if err := s.rdb.SAdd(ctx, celebritiesKey, followee).Err(); err != nil {
			return Result{}, fmt.Errorf("feed: mark celebrity: %w", err)
		}
		return Result{FanoutOnRead: true}, nil
	}
	recent, err := s.rdb.ZRevRangeWithScores(ctx, authorPostsKey(followee), 0, int64(s.cfg.BackfillLimit-1)).Result()
	if err != nil {
		return Result{}, fmt.Errorf("feed: back-fill read: %w", err)
	}
	if len(recent) == 0 {
		return Result{}, nil
	}
	pipe = s.rdb.Pipeline()
	pipe.ZAdd(ctx, feedKey(follower), recent...)
	pipe.ZRemRangeByRank(ctx, feedKey(follower), 0, int64(-s.cfg.Cap-1))
	if _, err := pipe.Exec(ctx); err != nil {
		return Result{}, fmt.Errorf("feed: back-fill: %w", err)
	}
	return Result{FeedsWritten: 1}, nil
}

// Unfollow forgets the follow and removes the followee's posts from the
// follower's feed.
func (s *Store) Unfollow(ctx context.Context, follower, followee string) (Result, error) {
	posts, err := s.rdb.ZRange(ctx, authorPostsKey(followee), 0, -1).Result()
	if err != nil {
		return Result{}, fmt.Errorf("feed: unfollow read: %w", err)
	}
	pipe := s.rdb.TxPipeline()
	pipe.SRem(ctx, followersKey(followee), follower)
	pipe.SRem(ctx, followingKey(follower), followee)
	if len(posts) > 0 {
		members := make([]any, len(posts))
		for i, p := range posts {
			members[i] = p
		}
		pipe.ZRem(ctx, feedKey(follower), members...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return Result{}, fmt.Errorf("feed: unfollow: %w", err)
	}
	return Result{FeedsWritten: 1}, nil
}

// Follows reports whether follower follows followee in the local index.
func (s *Store) Follows(ctx context.Context, follower, followee string) (bool, error) {
	ok, err := s.rdb.SIsMember(ctx, followersKey(followee), follower).Result()
	if err != nil {
		return false, fmt.Errorf("feed: follows: %w", err)
	}
	return ok, nil
}

// FollowerCount returns how many followers the local index holds for user.
func (s *Store) FollowerCount(ctx context.Context, user string) (int64, error) {
	n, err := s.rdb.SCard(ctx, followersKey(user)).Result()
	if err != nil {
		return 0, fmt.Errorf("feed: follower count: %w", err)
	}
	return n, nil
}

// SetScore stores a post's ranking score for ranked reads.
func (s *Store) SetScore(ctx context.Context, id string, v float64) error {
	if err := s.rdb.ZAdd(ctx, scoresKey, redis.Z{Score: v, Member: id}).Err(); err != nil {
		return fmt.Errorf("feed: store score: %w", err)
	}
	return nil
}

// addOne writes one post into one feed and trims it.
func (s *Store) addOne(ctx context.Context, user, id string, sc float64) error {
	pipe := s.rdb.Pipeline()
	pipe.ZAdd(ctx, feedKey(user), redis.Z{Score: sc, Member: id})
	pipe.ZRemRangeByRank(ctx, feedKey(user), 0, int64(-s.cfg.Cap-1))
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("feed: write feed of %s: %w", user, err)
	}
	return nil
}

// queueAdd queues the write of one post into one follower's feed, with the
// amortised trim described on Config.TrimEvery.
func (s *Store) queueAdd(ctx context.Context, pipe redis.Pipeliner, follower, id string, sc float64) {
	pipe.ZAdd(ctx, feedKey(follower), redis.Z{Score: sc, Member: id})
	if trimTurn(follower, id, s.cfg.TrimEvery) {
		pipe.ZRemRangeByRank(ctx, feedKey(follower), 0, int64(-s.cfg.Cap-1))
	}
}

// trimTurn spreads trims evenly and deterministically over (feed, post)
// pairs, so a retried fan-out trims the same feeds.
func trimTurn(follower, id string, every int) bool {
	if every <= 1 {
		return true
	}
	h := fnv.New32a()
	h.Write([]byte(follower))
	h.Write([]byte(id))
	return h.Sum32()%uint32(every) == 0
}

// forEachFollowerBatch scans author's followers and runs fn for each inside
// pipelines of Config.BatchSize, Config.Writers of them in flight at once,
// returning how many followers it covered. Scanning overlaps writing, so a
// large fan-out is bound by Redis, not by round trips.
func (s *Store) forEachFollowerBatch(ctx context.Context, author string, fn func(redis.Pipeliner, string)) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []string, s.cfg.Writers)
	var (
		mu    sync.Mutex
		total int64
		errs  []error
		wg    sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		cancel()
	}
	for range s.cfg.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range batches {
				pipe := s.rdb.Pipeline()
				for _, f := range batch {
					fn(pipe, f)
				}
				if _, err := pipe.Exec(ctx); err != nil {
					fail(fmt.Errorf("feed: fan-out to %d feeds: %w", len(batch), err))
					continue
				}
				mu.Lock()
				total += int64(len(batch))
				mu.Unlock()
			}
		}()
	}
	var cursor uint64
	batch := make([]string, 0, s.cfg.BatchSize)
	send := func() bool {
		select {
		case batches <- batch:
			batch = make([]string, 0, s.cfg.BatchSize)
			return true
		case <-ctx.Done():
			return false
		}
	}
scan:
	for {
		keys, next, err := s.rdb.SScan(ctx, followersKey(author), cursor, "", int64(s.cfg.BatchSize)).Result()
		if err != nil {
			fail(fmt.Errorf("feed: scan followers of %s: %w", author, err))
			break
		}
		for _, k := range keys {
			batch = append(batch, k)
			if len(batch) == s.cfg.BatchSize && !send() {
				break scan
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	if len(batch) > 0 {
		send()
	}
	close(batches)
	wg.Wait()
	return total, errors.Join(errs...)
}

// formatScore renders a feed score for cursors.
func formatScore(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

package feed

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// EraseUser removes a deleted account from the feed state: its posts from
// its followers' feeds, the post cache and the scores (its PostDeleted
// events do the same post by post; this covers them arriving late, as
// topics are not ordered against each other), its follow edges from both
// sides of the index, and its own feed, author index, profile and
// celebrity mark. Every step is a removal, so running it again, or after
// a failure half-way, is safe; the followers go last of all, since the
// other steps find the feeds to clean through them.
func (s *Store) EraseUser(ctx context.Context, user string) error {
	posts, err := s.rdb.ZRange(ctx, authorPostsKey(user), 0, -1).Result()
	if err != nil {
		return fmt.Errorf("feed: erase %s: read posts: %w", user, err)
	}
	members := make([]any, len(posts))
	for i, p := range posts {
		members[i] = p
	}
	if _, err := s.forEachFollowerBatch(ctx, user, func(pipe redis.Pipeliner, follower string) {
		if len(members) > 0 {
			pipe.ZRem(ctx, feedKey(follower), members...)
		}
		pipe.SRem(ctx, followingKey(follower), user)
	}); err != nil {
		return fmt.Errorf("feed: erase %s: %w", user, err)
	}
	if len(posts) > 0 {
		pipe := s.rdb.Pipeline()
		for _, p := range posts {
			pipe.Del(ctx, postKey(p))
		}
		pipe.ZRem(ctx, scoresKey, members...)
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("feed: erase %s: drop cached posts: %w", user, err)
		}
	}
	var cursor uint64
	for {
		followees, next, err := s.rdb.SScan(ctx, followingKey(user), cursor, "", int64(s.cfg.BatchSize)).Result()
		if err != nil {
			return fmt.Errorf("feed: erase %s: scan following: %w", user, err)
		}
		if len(followees) > 0 {
			pipe := s.rdb.Pipeline()
			for _, f := range followees {
				pipe.SRem(ctx, followersKey(f), user)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				return fmt.Errorf("feed: erase %s: leave followers: %w", user, err)
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	pipe := s.rdb.TxPipeline()
	pipe.Del(ctx, feedKey(user), authorPostsKey(user), followingKey(user), profileKey(user), followersKey(user))
	pipe.SRem(ctx, celebritiesKey, user)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("feed: erase %s: %w", user, err)
	}
	return nil
}

// Package feed holds Nova's home feeds in Redis: the decentralised state the
// feed-fanout function keeps from events (follower index, post summaries,
// scores) and the reads nova-api serves from it.
//
// Keys (all ids are UUIDs, so tests and tenants of one Redis never collide):
//
//	feed:{user}            ZSET  post id → created_at (unix ms); the home feed
//	author:posts:{user}    ZSET  the author's posts that followers may see
//	followers:{user}       SET   who follows user (from UserFollowed/Unfollowed)
//	following:{user}       SET   whom user follows
//	celebrities            SET   authors fanned out on read, not on write
//	post:{id}              STRING JSON Post summary (the local post cache)
//	post:gone:{id}         STRING tombstone of a deleted post (kept DedupeTTL)
//	post:scores            ZSET  post id → ranking score
//	processed:{src}:{id}   STRING an event already applied (kept DedupeTTL)
//
// Every write is idempotent by construction (ZADD of the same member and
// score, SADD, ZREM), so a redelivered event changes nothing even before the
// processed marker is consulted. Events of one author arrive in order because
// content-events is keyed by author; a PostUpdated older than the cached
// summary is ignored, and a tombstone stops a duplicated PostCreated from
// bringing a deleted post back.
//
// Hybrid fan-out: an author whose follower count reaches
// Config.CelebrityThreshold becomes a celebrity. Their posts are not written
// into followers' feeds; readers merge the author:posts of the celebrities
// they follow at read time, so one post never writes millions of keys. The
// status is sticky: posts written while an author was a celebrity are only
// reachable through the merge, so dropping back would hide them.
package feed

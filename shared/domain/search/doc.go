// Package search is Nova's full-text search: the index the search-indexer
// function keeps from content-events and user-events (Indexer), and the
// GET /v1/search endpoint nova-api serves from it (Service).
//
// # Decentralised state
//
// The index lives in its own tables (search_posts, search_users,
// search_follows) and is fed only by events: search never reads the content
// or identity tables, so it can move to its own database, and what it shows
// is what the events said. Both the function and nova-api call Migrate; the
// schema, its writer and its reader are kept in this one package so the SQL
// that shapes a document and the SQL that queries it cannot drift apart.
//
// # Idempotence and order
//
// Every write is an upsert guarded by the change's time: a post's
// updated_at, a user's updated_at, a follow's changed_at. A redelivered or
// stale event finds a newer row and changes nothing. A deleted post leaves
// a tombstone (its text erased) so that a late redelivery of its creation
// cannot bring it back.
//
// # Ranking
//
// Posts match on a tsvector of their tags (weight A) and content (weight
// B), English configuration, GIN-indexed. A hit's score blends relevance and
// recency:
//
//	relevance = ts_rank_cd(document, query, 32)      // in [0, 1); 1 for a tags-only query
//	recency   = 1 / (1 + age_hours / 72)             // 1 now, 1/2 at 3 days, 1/10 at 27 days
//	score     = relevance × (0.3 + 0.7 × recency)
//
// so among equally relevant posts the newer wins, and an old post keeps 30%
// of its relevance. Age is measured from the time of the first page, which
// the cursor carries, so later pages continue the same order.
//
// Users match by username or display name: exact username first, then
// prefix, then substring, then trigram similarity (pg_trgm), which also
// finds misspelt names.
//
// # Who sees what
//
// A post is found by: everyone when PUBLIC; the author's followers when
// FOLLOWERS_ONLY (the follower index is kept from UserFollowed and
// UserUnfollowed); nobody else when PRIVATE. The author finds their own
// posts of every visibility, as GET /v1/posts/{id} shows them to the author.
// A post hidden by moderation is found by nobody, its author included (the
// author still reads it, and why it was hidden, through /v1/posts/{id}); a
// deleted post by nobody. Nor does a searcher find a user they blocked or
// who blocked them, or that user's posts: no event carries blocks, so
// nova-api's Service filters its hits through Config.Blocks as it reads
// them.
package search

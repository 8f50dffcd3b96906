// Package timeline serves a user's home feed: GET /v1/feed.
//
// Pages come from the feed store in Redis (feed.Store.Read), which the
// feed-fanout function keeps from events: newest first, or by ranking score
// with order=ranked. The posts on a page are hydrated from the feed's own
// post cache, or — with direct calls enabled (ENABLE_DIRECT_CALL), the design
// document's rollback path — from the content service itself, which then
// also decides what the reader may see. The page's order and membership come
// from Redis either way.
package timeline

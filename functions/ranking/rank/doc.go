// Package rank is the ranking function's logic: it counts each post's
// engagement in Redis, scores the post, and announces the score as
// PostScoreUpdated on ranking-updates, coalesced so that a viral post does
// not flood the topic.
//
// # The score
//
//	E     = w_like·max(0, likes) + w_comment·comments + w_share·shares + w_view·views
//	score = log2(1 + E) + (created_at − 2024-01-01T00:00Z) / half_life
//
// with the defaults w_like 1, w_comment 3, w_share 5, w_view 0.1 and
// half_life 12h (Config). Comparing two posts at any moment t, the second
// term is the same as subtracting age/half_life, so the order is that of
//
//	(1 + E) · 2^(−age / half_life)
//
// — engagement decayed exponentially with the post's age: a post half a day
// older needs twice the engagement to rank level. This is the Reddit "hot"
// form rather than the Hacker News one ((E)/(age+2)^gravity) on purpose:
// because every post decays at the same rate, a score computed once stays
// correct relative to every other score forever, so the feed can store it
// (post:scores) and order by it without anyone recomputing old posts as the
// clock moves. With a power-law decay every stored score would be stale the
// moment it was written. The logarithm also keeps a viral post's lead
// bounded: its 10,000th like moves it less than its 10th.
//
// # The post's age
//
// Engagement events (analytics-events) do not carry the post's creation
// time, so the ranking source also reads content-events: PostCreated gives
// the created_at (and a first score, so a fresh post without engagement is
// ranked by its age alone), PostDeleted stops scoring the post. Topics are
// not ordered against each other, so engagement may come first; until the
// PostCreated arrives, the earliest engagement time stands in for the
// creation time (a post cannot be engaged with before it exists, so this
// errs on the side of "older").
//
// # Coalescing and delivery
//
// Every engagement updates the counters and schedules the post in a pending
// set (a ZSET of post → due time) in the same Lua script that sets the
// event's processed marker, so a redelivered event changes nothing. A post
// is due at most once per Config.EmitInterval: the due time is
// max(now, last emit + interval), and scheduling a post already pending
// keeps its due time. The flusher (Run) takes due posts under a lease (their
// due time is pushed Lease ahead), emits one PostScoreUpdated each with the
// newest counters, and then either drops the post from the pending set or,
// when engagement arrived meanwhile, schedules it one interval later. N
// engagements on one post in a burst of T seconds thus produce about
// T/interval + 1 events, whatever N is.
//
// Nothing is lost: the pending set lives in Redis, not in the process. A
// replica that dies between taking a post and emitting leaves it leased;
// when the lease runs out any replica takes it again (at least once). Stop
// flushes every pending post, due or not. An event's id is derived from
// (post, counter version), so a re-emission after a crash carries the same
// id and the feed deduplicates it.
//
// # Keys (Config.Prefix, "ranking:" by default)
//
//	ranking:post:{id}             HASH counters, created (unix ms, from PostCreated), seen
//	                                   (earliest engagement), author, v (version), vt (its time),
//	                                   last (last emit, unix ms), score (last emitted)
//	ranking:pending               ZSET post id → due (unix ms)
//	ranking:gone:{id}             STRING a deleted post (kept ProcessedTTL)
//	ranking:processed:{src}:{id}  STRING an event already applied (kept ProcessedTTL)
package rank

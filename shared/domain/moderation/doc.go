// Package moderation is trust-safety-service's state and its review
// endpoints in nova-api.
//
// The trust-safety function judges every new and edited post and records
// its verdict with Store.Record: the post's newest judged version
// (moderation_subjects), a review-queue entry for a FLAG or HIDE
// (moderation_queue), and the ModerationDecision event, in one PostgreSQL
// transaction through the outbox. The queue therefore lives where the
// verdicts are made, is never out of step with the decisions on
// trust-safety-events, and needs no consumer of its own; nova-api reads the
// same tables, because they are this domain's, which it hosts (as it hosts
// identity and content) until the domain moves to a function of its own.
//
// Admins review the queue:
//
//	GET  /v1/moderation/queue?limit=&cursor=          → 200 {items, next_cursor}
//	POST /v1/moderation/queue/{post_id}/decision      {"action": "allow|remove|hide", "reason": "..."}
//	                                                  → 200 the ModerationDecision written
//
// A decision removes the entry and writes a ModerationDecision with
// decided_by set to the reviewer's user id, about the post version that was
// queued; the moderation-apply function applies it to the post.
package moderation

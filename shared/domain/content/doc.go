// Package content is nova-api's content domain: posts, likes, comments and
// views.
//
// Every change writes its rows and the event announcing it in one
// PostgreSQL transaction through the outbox, so an event exists if and only
// if its change committed:
//
//   - PostCreated, PostUpdated and PostDeleted go to content-events, keyed by
//     the author, so that consumers see a post's changes in order;
//   - Engagement (VIEW, LIKE, UNLIKE, COMMENT, SHARE) goes to
//     analytics-events, keyed by the post, with the author filled in so that
//     consumers need no lookup. Views and shares are recorded as events only.
//
// # Who sees what
//
// PUBLIC posts are seen by every signed-in user, FOLLOWERS_ONLY posts by the
// author's followers and the author, PRIVATE posts by the author only. A post
// hidden by moderation is seen by its author only, with the reason. A user
// who may not see a post is told it does not exist (404), never that it is
// forbidden, so the API does not reveal what a user cannot read; only a post
// the caller can see but does not own answers 403 to a change.
//
// Whether a viewer follows an author is asked of a FollowGraph, only when a
// FOLLOWERS_ONLY post is read by someone other than its author.
//
// # Idempotence
//
// Liking twice or unliking a post one has not liked changes nothing and
// emits nothing; an edit that changes nothing writes nothing and emits
// nothing.
package content

// Package notification is Nova's notification inbox (notification-service):
// the notifications table, the write side the notifier function calls
// (Record) and the read side nova-api serves (List, MarkRead, MarkAllRead,
// Mount).
//
// # What is notified
//
// A new message to a recipient who is offline, a new follower, and a like
// or a comment on one's post. Deciding which events become notifications
// (presence, never notifying oneself) is the notifier function's job; this
// package stores what it is given.
//
// # Deduplication
//
// Record takes the CloudEvents (source, id) of the triggering event and
// writes it to notification_triggers in the same transaction as the
// notifications it produces, so a redelivered event changes nothing — not
// even when the recipient's presence changed in between.
//
// # Grouping
//
// Actions of one kind on one subject (likes on a post, comments on a post,
// messages in a conversation, follows of the recipient) fold into one
// notification while that notification is unread and younger than
// Config.GroupWindow (default 1h): its count grows, the actor moves to the
// front of actor_ids (capped at MaxActors) and the notification rises to the
// top of the inbox. Reading it closes the group; the next action opens a new
// one. A like or follow by someone already listed changes nothing (a
// like–unlike–like is one like); a further message or comment by the same
// person counts.
//
// # NotificationCreated
//
// Every notification created or grown is announced as NotificationCreated
// on notification-events, through the transactional outbox in the same
// transaction, keyed by recipient. A grown notification is announced again
// with the same notification_id and its new count and text, so a push
// provider replaces the earlier push instead of stacking another (the id is
// the collapse key).
//
// # Text
//
// Events carry user ids, not names, and no service calls another, so the
// stored text names no one ("Your post has 3 new likes"); clients resolve
// actor_ids to profiles for display.
package notification

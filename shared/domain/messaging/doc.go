// Package messaging is nova-api's messaging domain (the design document's
// messaging-service): conversations, their participants and their messages.
//
// # Conversations
//
// A conversation is DIRECT (two people, created without a title) or GROUP
// (a title, or more than two people; up to Config.MaxParticipants). There is
// at most one DIRECT conversation per pair of users: creating it again
// returns the existing one. The creator is always a participant.
//
// # Consent and blocks
//
// With Config.Relations (nova-api and chat-persist set it), someone added
// to a GROUP who does not follow its creator is INVITED: they see the
// conversation (listed in invited_ids) but read, send and receive nothing,
// pushes and notifications included, until they accept (POST …/accept);
// POST …/decline declines, or leaves a group. Following the creator is the
// consent: whoever follows someone already takes their posts. A blocked
// pair cannot open a conversation together (refused as for a user who does
// not exist, so a block is not revealed), their DIRECT conversation takes
// no more messages (404 to both), and in a group neither is a recipient of
// the other's messages.
//
// # Messages
//
// Each message has a UUIDv7 id, its sender's client_message_id (unique per
// sender) and a sequence number in its conversation (1, 2, …), drawn in the
// storing transaction under the conversation row's lock, so sequence order
// is commit order. Storing is idempotent per (sender, client_message_id): a
// retry returns the stored message and emits nothing. Send is the one way in,
// used both by POST /v1/conversations/{id}/messages and by chat-persist for
// messages typed on a websocket, so both paths store a message the same way
// and exactly once.
//
// MessageSent (messaging-events, key conversation_id) is written through
// the outbox in the same transaction: every member but the sender is a
// recipient, invitees and a blocked pair aside. Because the outbox
// serialises the writers of a key and the conversation row lock is taken
// first, a conversation's events reach Kafka in sequence order.
//
// # Who sees what
//
// Only participants read or write a conversation. Anyone else is told it
// does not exist (ErrNotFound, 404), never that it is forbidden, so ids
// cannot be probed.
//
// # Media
//
// Media ids are resolved by a MediaResolver (the media domain), which checks
// they exist and belong to the sender and returns what the message carries.
// Without one, messages with media are refused.
package messaging

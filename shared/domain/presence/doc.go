// Package presence records which users are online and where.
//
// A user is online while at least one of their connections has a live
// heartbeat. Each user has two Redis keys:
//
//	presence:{user_id}     sorted set: member = connection id, score = expiry (unix ms)
//	presence:gw:{user_id}  hash: connection id -> id of the gateway replica holding it
//
// Connect and Heartbeat push a connection's expiry to now+TTL; Disconnect
// removes it. A connection whose gateway died without saying goodbye simply
// stops being refreshed and counts as gone once its expiry passes, so no
// sweeper is needed: reads ignore expired members and every write prunes
// them. Both keys also carry a Redis expiry at the latest connection expiry,
// so an abandoned user leaves nothing behind.
//
// The gateway id is what lets a pusher reach a connection: a gateway replica
// subscribes to its own channel and the pusher publishes to the channels of
// the gateways Connections names.
package presence

// Package analytics is Nova's analytics: the counters the analytics
// function keeps from analytics-events, content-events and user-events
// (Recorder), and what nova-api serves from them (Service): a post's
// counters to its author, the daily active users and the events per topic
// per hour to admins, and the same counters to Prometheus (Collector).
//
// # What is counted
//
//   - Per post: views, likes (net: an UNLIKE takes one off), comments and
//     shares, from Engagement; the author and creation from PostCreated.
//   - Per user per UTC day: the events the user caused (posts, edits,
//     deletes, registration, profile changes, follows, unfollows and
//     engagements). A user with at least one is active that day.
//   - Per topic, event, engagement kind and UTC hour: every event.
//
// # Exactly once
//
// The counters change in one transaction with the row that marks the event
// processed, keyed by its CloudEvents (source, id), so a redelivery counts
// nothing and a crash half-way counts nothing either. An Engagement is also
// keyed by its engagement_id, so the same engagement sent again under a new
// CloudEvents id counts once.
//
// # Decentralised state
//
// The tables are fed only by events and never joined with the content or
// identity tables. The function and nova-api both call Migrate.
//
// # Prometheus
//
// A Knative CloudEvents function has no /metrics of its own, and counters
// held in one replica's memory would split across replicas and vanish on
// scale-to-zero. So the counters are read from the tables by Collector,
// which nova-api serves at GET /v1/analytics/metrics (admins only,
// Prometheus text format) and which any other registry (nova run's, a
// sidecar's) can register as it is. Its series carry no user or post ids,
// so their number stays small whatever the traffic.
package analytics

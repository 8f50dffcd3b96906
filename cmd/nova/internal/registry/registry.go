// Package registry lists the functions nova run hosts. A Go program can only
// run code it was built with, so each function in functions/ is imported here
// by hand; the package's test fails when a functions/<name>/func.yaml has no
// entry, so a new function cannot be forgotten.
package registry

import (
	novaapi "github.com/nova-social/nova"
	analytics "github.com/nova-social/nova/functions/analytics"
	chatpersist "github.com/nova-social/nova/functions/chat-persist"
	chatpush "github.com/nova-social/nova/functions/chat-push"
	contentsync "github.com/nova-social/nova/functions/content-sync"
	deadletter "github.com/nova-social/nova/functions/dead-letter"
	feedfanout "github.com/nova-social/nova/functions/feed-fanout"
	mediaattach "github.com/nova-social/nova/functions/media-attach"
	moderationapply "github.com/nova-social/nova/functions/moderation-apply"
	notifier "github.com/nova-social/nova/functions/notifier"
	ranking "github.com/nova-social/nova/functions/ranking"
	realtimegateway "github.com/nova-social/nova/functions/realtime-gateway"
	searchindexer "github.com/nova-social/nova/functions/search-indexer"
	trustsafety "github.com/nova-social/nova/functions/trust-safety"
)

// Function is one hostable function.
type Function struct {
	// Name is the func.yaml name, which is also its Knative Service's name
	// and what KafkaSource sinks refer to.
	Name string
	// Dir holds its func.yaml, relative to the repository root.
	Dir string
	// Slot fixes its local port: the port base plus Slot. Slots never
	// change once given, so addresses stay the same from run to run; a new
	// function takes the next free one.
	Slot int
	// New returns a fresh instance, as the kn func scaffold calls it.
	New func() any
	// Public functions are reached from outside the cluster (users' HTTP
	// and websockets); every other one is cluster-local, reached only by
	// Knative's data plane.
	Public bool
}

// Functions returns every function, nova-api first.
func Functions() []Function {
	return []Function{
		{Name: "nova-api", Dir: ".", Slot: 0, New: func() any { return novaapi.New() }, Public: true},
		{Name: "dead-letter", Dir: "functions/dead-letter", Slot: 1, New: func() any { return deadletter.New() }},
		{Name: "feed-fanout", Dir: "functions/feed-fanout", Slot: 2, New: func() any { return feedfanout.New() }},
		{Name: "media-attach", Dir: "functions/media-attach", Slot: 3, New: func() any { return mediaattach.New() }},
		{Name: "realtime-gateway", Dir: "functions/realtime-gateway", Slot: 4, New: func() any { return realtimegateway.New() }, Public: true},
		{Name: "chat-push", Dir: "functions/chat-push", Slot: 5, New: func() any { return chatpush.New() }},
		{Name: "chat-persist", Dir: "functions/chat-persist", Slot: 6, New: func() any { return chatpersist.New() }},
		{Name: "notifier", Dir: "functions/notifier", Slot: 7, New: func() any { return notifier.New() }},
		{Name: "search-indexer", Dir: "functions/search-indexer", Slot: 8, New: func() any { return searchindexer.New() }},
		{Name: "analytics", Dir: "functions/analytics", Slot: 9, New: func() any { return analytics.New() }},
		{Name: "ranking", Dir: "functions/ranking", Slot: 10, New: func() any { return ranking.New() }},
		{Name: "trust-safety", Dir: "functions/trust-safety", Slot: 11, New: func() any { return trustsafety.New() }},
		{Name: "moderation-apply", Dir: "functions/moderation-apply", Slot: 12, New: func() any { return moderationapply.New() }},
		{Name: "content-sync", Dir: "functions/content-sync", Slot: 13, New: func() any { return contentsync.New() }},
	}
}

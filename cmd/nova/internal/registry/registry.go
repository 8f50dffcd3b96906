// Package registry lists the functions nova run hosts. A Go program can only
// run code it was built with, so each function in functions/ is imported here
// by hand; the package's test fails when a functions/<name>/func.yaml has no
// entry, so a new function cannot be forgotten.
package registry

import (
	novaapi "github.com/nova-social/nova"
	deadletter "github.com/nova-social/nova/functions/dead-letter"
	feedfanout "github.com/nova-social/nova/functions/feed-fanout"
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
}

// Functions returns every function, nova-api first.
func Functions() []Function {
	return []Function{
		{Name: "nova-api", Dir: ".", Slot: 0, New: func() any { return novaapi.New() }},
		{Name: "dead-letter", Dir: "functions/dead-letter", Slot: 1, New: func() any { return deadletter.New() }},
		{Name: "feed-fanout", Dir: "functions/feed-fanout", Slot: 2, New: func() any { return feedfanout.New() }},
	}
}

// Package deadletters is how Nova's tools read and replay the dead-letter
// store the dead-letter function keeps in PostgreSQL (its SQL is in
// functions/dead-letter/store): entries gathered by the record they
// failed, their consumers named, their values decoded, and replay, which
// sends a failed record back to its topic once however many consumers
// failed it. nova dead-letters, nova replay and the console share it.
package deadletters

import (
	"fmt"

	"github.com/nova-social/nova/functions/dead-letter/store"
)

// Failed is one record that one or more consumers failed: the dead-letter
// entries read from the same topic, partition and offset (the store keeps
// an entry per destination that failed an event, and a plain record is
// wrapped under each KafkaSource's own source), or, where that is unknown,
// of the same event.
type Failed struct {
	// Entries in the order listed.
	Entries []store.Entry
}

// Group gathers entries by the record they failed, each group where its
// first entry was.
func Group(entries []store.Entry) []Failed {
	var out []Failed
	at := map[string]int{}
	for _, e := range entries {
		k := RecordOf(e)
		if i, ok := at[k]; ok {
			out[i].Entries = append(out[i].Entries, e)
			continue
		}
		at[k] = len(out)
		out = append(out, Failed{Entries: []store.Entry{e}})
	}
	return out
}

// Pending counts the entries not replayed yet.
func (f Failed) Pending() int {
	n := 0
	for _, e := range f.Entries {
		if e.ReplayedAt == nil {
			n++
		}
	}
	return n
}

// RecordOf names the record e failed: where it was read
// (topic/partition/offset), else the event.
func RecordOf(e store.Entry) string {
	if e.Topic != "" && e.Partition != nil && e.Offset != nil {
		return fmt.Sprintf("%s/%d/%d", e.Topic, *e.Partition, *e.Offset)
	}
	return "event " + e.Source + " " + e.ID
}

// Where is the record's place as a person reads it:
// topic[partition]@offset, or "-" when unknown.
func Where(e store.Entry) string {
	from := e.Topic
	if e.Partition != nil && e.Offset != nil {
		from += fmt.Sprintf("[%d]@%d", *e.Partition, *e.Offset)
	}
	if from == "" {
		return "-"
	}
	return from
}

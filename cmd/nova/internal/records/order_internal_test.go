package records

import (
	"slices"
	"testing"
	"time"
)

// Records of different partitions written in the same millisecond (a
// record's timestamp has no finer grain) are ordered by their events' own
// time; one partition's by offset; an earlier millisecond comes after.
func TestNewestFirstWithinAMillisecond(t *testing.T) {
	ms := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	at := func(ns int) *time.Time { tm := ms.Add(time.Duration(ns)); return &tm }
	lines := []Line{
		{ID: "first", Partition: 2, Offset: 7, Timestamp: ms, Time: at(100)},
		{ID: "second", Partition: 0, Offset: 3, Timestamp: ms, Time: at(200)},
		{ID: "third", Partition: 1, Offset: 9, Timestamp: ms, Time: at(300)},
		{ID: "fourth", Partition: 1, Offset: 10, Timestamp: ms, Time: at(400)},
		{ID: "earlier", Partition: 0, Offset: 2, Timestamp: ms.Add(-time.Millisecond), Time: at(900)},
	}
	newestFirst(lines)
	var got []string
	for _, l := range lines {
		got = append(got, l.ID)
	}
	if want := []string{"fourth", "third", "second", "first", "earlier"}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

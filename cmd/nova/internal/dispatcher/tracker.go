package dispatcher

import "sync"

// tracker finds how far a partition's offsets may be committed when events
// finish out of order: only up to the first event that is not done, so a
// restart never skips an unfinished event that a later one overtook.
type tracker struct {
	mu      sync.Mutex
	pending []int64        // offsets started and not yet committable, in arrival order
	done    map[int64]bool // finished offsets still behind an unfinished one
}

func newTracker() *tracker { return &tracker{done: map[int64]bool{}} }

// start records that the event at offset is being delivered. Offsets arrive
// in increasing order from a partition claim.
func (t *tracker) start(offset int64) {
	t.mu.Lock()
	t.pending = append(t.pending, offset)
	t.mu.Unlock()
}

// finish records that the event at offset is done and, when that moves the
// commit point, calls mark with the next offset to consume (the Kafka commit
// convention), under the tracker's lock so marks never go backwards.
func (t *tracker) finish(offset int64, mark func(next int64)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done[offset] = true
	n := 0
	for n < len(t.pending) && t.done[t.pending[n]] {
		delete(t.done, t.pending[n])
		n++
	}
	if n == 0 {
		return
	}
	next := t.pending[n-1] + 1
	t.pending = t.pending[n:]
	mark(next)
}

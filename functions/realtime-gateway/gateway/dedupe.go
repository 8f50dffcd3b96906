package gateway

import (
	"bytes"
	"sync"
)

// A MessageSent can be handled by chat-push more than once (a redelivery
// after a broker restart or a retried request), and each handling publishes
// the frame again. The gateway is the one place that sees every frame a
// connection gets, so it drops a message frame whose message id this
// connection was already sent. Ids are kept for the last dedupeWindow
// messages per connection: redeliveries come soon after the first, and a
// client reconnecting later reads history anyway.
const dedupeWindow = 512

// messagePrefix starts every message frame push.NewMessageFrame makes:
// the frame type, then the message with its id first (encoding/json keeps
// the struct field order).
var messagePrefix = []byte(`{"type":"message","message":{"id":"`)

// messageID is the id of the message a pushed frame carries, "" for any
// other frame (those are passed on as they are). It reads the id at the
// frame's start rather than decoding the frame: Run already decoded the
// delivery once, and a second full decode of every frame would slow every
// push.
func messageID(frame []byte) string {
	rest, ok := bytes.CutPrefix(frame, messagePrefix)
	if !ok {
		return ""
	}
	end := bytes.IndexByte(rest, '"')
	if end <= 0 || end > 128 || bytes.IndexByte(rest[:end], '\\') >= 0 {
		return ""
	}
	return string(rest[:end])
}

// recentIDs is a bounded set: adding past its size forgets the oldest.
type recentIDs struct {
	mu   sync.Mutex
	ids  map[string]struct{}
	ring []string
	next int
}

func newRecentIDs(size int) *recentIDs {
	return &recentIDs{ids: make(map[string]struct{}, size), ring: make([]string, size)}
}

// add records id and reports whether it is new.
func (r *recentIDs) add(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, seen := r.ids[id]; seen {
		return false
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.ids, old)
	}
	r.ring[r.next] = id
	r.next = (r.next + 1) % len(r.ring)
	r.ids[id] = struct{}{}
	return true
}

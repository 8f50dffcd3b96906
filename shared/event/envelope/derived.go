package envelope

import (
	"crypto/sha256"
	"strings"
	"time"

	"github.com/google/uuid"
)

// At is when the event happened: its time attribute, or now for an event
// that has none.
func (d Decoded) At() time.Time {
	if at := d.Event.Time(); !at.IsZero() {
		return at
	}
	return time.Now()
}

// DerivedID is a UUIDv7 whose time is at and whose other bits come from a
// hash of parts (joined with NUL), so an event a function emits in reaction
// to another gets the same id on every redelivery of its trigger, and
// consumers deduplicate it (RFC 9562 lets the random bits come from any
// source).
func DerivedID(at time.Time, parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	var u uuid.UUID
	ms := uint64(at.UnixMilli())
	for i := range 6 {
		u[i] = byte(ms >> (40 - 8*i))
	}
	copy(u[6:], sum[:10])
	u[6] = 0x70 | (u[6] & 0x0f) // version 7
	u[8] = 0x80 | (u[8] & 0x3f) // RFC 9562 variant
	return u.String()
}

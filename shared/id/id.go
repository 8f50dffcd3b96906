// Package id holds Nova's typed identifiers.
//
// Every entity id is a UUID in its lowercase canonical text form
// (8-4-4-4-12 hex digits). Each kind of id is its own Go type, so a PostID
// cannot be passed where a UserID is expected, and a value of one of these
// types is only ever made by a Parse function (which validates it) or a New
// function (which mints a UUIDv7). The one exception Go allows is a plain
// conversion such as UserID("…"); code outside tests does not do that.
//
// New ids are UUIDv7: time-ordered, so rows inserted in creation order stay
// close together in a B-tree index and ids sort roughly by creation time,
// which keyset pagination relies on.
//
// Parsing accepts only the canonical form, because ids are compared and
// used as map and Redis keys as strings: "ABC…" and "abc…" must never be two
// different users. The nil UUID and the max UUID are rejected (they are
// sentinels, never entity ids), as are UUIDs whose variant is not the
// RFC 9562 one.
package id

import (
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// ErrInvalid is matched (errors.Is) by every parse failure.
var ErrInvalid = errors.New("invalid id")

// ParseError says which kind of id could not be parsed and why.
type ParseError struct {
	Kind   string // "user", "post", …
	Input  string // the rejected input, truncated for logs
	Reason string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("invalid %s id %q: %s", e.Kind, e.Input, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ParseError) Unwrap() error { return ErrInvalid }

// canonicalLen is the length of the 8-4-4-4-12 text form.
const canonicalLen = 36

// maxEchoed bounds how much of a bad input an error repeats; inputs come
// from requests and end up in logs.
const maxEchoed = 64

// parse validates s as a canonical lowercase UUID.
func parse(kind, s string) (string, error) {
	fail := func(reason string) (string, error) {
		in := s
		if len(in) > maxEchoed {
			in = in[:maxEchoed] + "…"
		}
		return "", &ParseError{Kind: kind, Input: in, Reason: reason}
	}
	if s == "" {
		return fail("empty")
	}
	if len(s) != canonicalLen {
		return fail("not a UUID in 8-4-4-4-12 form")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return fail("not a UUID in 8-4-4-4-12 form")
			}
			continue
		}
		switch {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			return fail("upper-case hex digits (ids are lower-case)")
		default:
			return fail("not a UUID in 8-4-4-4-12 form")
		}
	}
	// Version is the 13th hex digit, the variant the top bits of the 17th;
	// the nil and max UUIDs fail these checks too but earn their own words.
	version, variant := hexVal(s[14]), hexVal(s[19])
	switch {
	case s == "00000000-0000-0000-0000-000000000000":
		return fail("the nil UUID")
	case s == "ffffffff-ffff-ffff-ffff-ffffffffffff":
		return fail("the max UUID")
	case variant&0xc != 0x8:
		return fail("not an RFC 9562 variant UUID")
	case version < 1 || version > 8:
		return fail("unknown UUID version")
	}
	return s, nil
}

// Check validates s as an id whose kind the caller names only for the
// error ("engagement", "subject"): the event contract's rule for fields
// that hold an id of no typed kind, or of one of several.
func Check(kind, s string) error {
	_, err := parse(kind, s)
	return err
}

// mint returns a fresh UUIDv7 in canonical form.
func mint() string {
	// NewV7 fails only when the system's random source does, and since
	// Go 1.24 crypto/rand cannot fail without crashing the process.
	return uuid.Must(uuid.NewV7()).String()
}

// hexVal is the value of a lower-case hex digit already validated.
func hexVal(c byte) byte {
	if c >= 'a' {
		return c - 'a' + 10
	}
	return c - '0'
}

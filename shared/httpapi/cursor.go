package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// MaxCursorLen bounds a cursor as received; Nova's are a few dozen bytes.
const MaxCursorLen = 512

var cursorEncoding = base64.RawURLEncoding.Strict()

// EncodeCursor returns the opaque cursor of position v (a struct such as
// {"t": created_at, "id": post_id}): unpadded base64url of its JSON, safe
// in a query string as it is. Clients must not parse it; its shape may
// change.
func EncodeCursor[T any](v T) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode cursor: %w", err)
	}
	return cursorEncoding.EncodeToString(b), nil
}

// DecodeCursor reads a cursor made by EncodeCursor[T]. It is strict — base64url
// without padding, one JSON object with T's fields only — and, when T has a
// Validate() error method, validated, since a client can send anything.
// Failures are a 400 invalid_cursor *Error.
func DecodeCursor[T any](s string) (T, error) {
	var v T
	bad := func(why string, err error) (T, error) {
		var zero T
		return zero, NewError(http.StatusBadRequest, CodeInvalidCursor, "invalid cursor: "+why).Wrap(err)
	}
	if s == "" {
		return bad("empty", nil)
	}
	if len(s) > MaxCursorLen {
		return bad("too long", nil)
	}
	raw, err := cursorEncoding.DecodeString(s)
	if err != nil {
		return bad("not base64url", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return bad("unreadable", err)
	}
	if dec.More() {
		return bad("unreadable", errors.New("trailing data"))
	}
	if val, ok := any(&v).(interface{ Validate() error }); ok {
		if err := val.Validate(); err != nil {
			return bad("out of range", err)
		}
	}
	return v, nil
}

// PageConfig bounds the page size of a list endpoint.
type PageConfig struct {
	DefaultLimit int // default 20
	MaxLimit     int // default 100
}

// Defaults returns c with zero fields set to their defaults.
func (c PageConfig) Defaults() PageConfig {
	if c.DefaultLimit == 0 {
		c.DefaultLimit = 20
	}
	if c.MaxLimit == 0 {
		c.MaxLimit = 100
	}
	return c
}

// Validate reports inconsistent bounds.
func (c PageConfig) Validate() error {
	if c.DefaultLimit < 1 || c.MaxLimit < c.DefaultLimit {
		return fmt.Errorf("page config: want 1 <= default limit (%d) <= max limit (%d)", c.DefaultLimit, c.MaxLimit)
	}
	return nil
}

// PageRequest is the ?limit=&cursor= of a list request.
type PageRequest[T any] struct {
	Limit int
	// Cursor is the decoded position to continue after; HasCursor is false
	// on the first page.
	Cursor    T
	HasCursor bool
}

// ParsePage reads ?limit= and ?cursor= from r. An absent limit is the
// default; a limit that is not an integer in [1, MaxLimit] is a 400 (a
// client asking for 10,000 items should learn the bound, not silently get
// fewer). The cursor is decoded with DecodeCursor[T].
func ParsePage[T any](r *http.Request, cfg PageConfig) (PageRequest[T], error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return PageRequest[T]{}, err
	}
	q := r.URL.Query()
	p := PageRequest[T]{Limit: cfg.DefaultLimit}
	if vs, ok := q["limit"]; ok {
		n, err := strconv.Atoi(vs[0])
		if len(vs) != 1 || err != nil || n < 1 || n > cfg.MaxLimit {
			return PageRequest[T]{}, Errorf(http.StatusBadRequest, CodeBadRequest,
				"limit must be one integer from 1 to %d", cfg.MaxLimit)
		}
		p.Limit = n
	}
	if vs, ok := q["cursor"]; ok {
		if len(vs) != 1 {
			return PageRequest[T]{}, NewError(http.StatusBadRequest, CodeInvalidCursor, "invalid cursor: given twice")
		}
		c, err := DecodeCursor[T](vs[0])
		if err != nil {
			return PageRequest[T]{}, err
		}
		p.Cursor, p.HasCursor = c, true
	}
	return p, nil
}

// Page is the body of a list response: {"items": [...], "next_cursor": …}.
// next_cursor is null on the last page.
type Page[I any] struct {
	Items      []I     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// NewPage returns a page of items; next is the cursor of the following
// page, "" on the last one. Items is never null in JSON.
func NewPage[I any](items []I, next string) Page[I] {
	if items == nil {
		items = []I{}
	}
	p := Page[I]{Items: items}
	if next != "" {
		p.NextCursor = &next
	}
	return p
}

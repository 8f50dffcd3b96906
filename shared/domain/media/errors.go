package media

import (
	"errors"
	"fmt"
)

var (
	// ErrUnsupported: the bytes are not a format Nova accepts.
	ErrUnsupported = errors.New("media: unsupported file type")
	// ErrCorrupt: the bytes start like an accepted format but cannot be
	// read as one (truncated, malformed).
	ErrCorrupt = errors.New("media: corrupt file")
	// ErrTooLarge is matched by every *TooLargeError.
	ErrTooLarge = errors.New("media: too large")
	// ErrInvalid: a malformed request (no file, a bad post_id, …).
	ErrInvalid = errors.New("media: invalid request")
	// ErrNotFound: no such media or stored object.
	ErrNotFound = errors.New("media: not found")
)

// TooLargeError says which limit an upload broke.
type TooLargeError struct {
	What   string
	Detail string
}

func (e *TooLargeError) Error() string { return fmt.Sprintf("%s: %s", e.What, e.Detail) }

// Unwrap makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Unwrap() error { return ErrTooLarge }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

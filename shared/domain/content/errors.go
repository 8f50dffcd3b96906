package content

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound: the post (or comment) does not exist, was deleted, or
	// the caller may not see it.
	ErrNotFound = errors.New("content: not found")
	// ErrForbidden: the caller sees the post but may not change it.
	ErrForbidden = errors.New("content: forbidden")
	// ErrInvalid is matched by every *InputError.
	ErrInvalid = errors.New("content: invalid input")
)

// InputError says which field of a request was refused and why. Its message
// is meant for the caller.
type InputError struct {
	Field   string
	Message string
}

func (e *InputError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Message) }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *InputError) Unwrap() error { return ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &InputError{Field: field, Message: fmt.Sprintf(format, args...)}
}

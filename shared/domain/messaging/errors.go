package messaging

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound: the conversation does not exist or the caller is not one
	// of its participants (the two are never told apart).
	ErrNotFound = errors.New("messaging: conversation not found")
	// ErrConflict: the sender already used the client_message_id for a
	// message of another conversation.
	ErrConflict = errors.New("messaging: client_message_id already used")
	// ErrInvalid is matched by every *InputError.
	ErrInvalid = errors.New("messaging: invalid input")
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

// wrap adds context to unexpected errors and leaves the domain's own as they
// are, so callers match them with errors.Is either way.
func wrap(op string, err error) error {
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) || errors.Is(err, ErrInvalid) {
		return err
	}
	return fmt.Errorf("messaging: %s: %w", op, err)
}

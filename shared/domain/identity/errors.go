package identity

import (
	"errors"
	"fmt"
)

// Errors of the Service (match with errors.Is).
var (
	// ErrInvalid matches every *ValidationError: the input itself is wrong.
	ErrInvalid = errors.New("identity: invalid input")
	// ErrUsernameTaken: another account has the username (in any case).
	ErrUsernameTaken = errors.New("identity: username taken")
	// ErrEmailTaken: another account has the email address (in any case).
	ErrEmailTaken = errors.New("identity: email taken")
	// ErrInvalidCredentials: no account has that username or email, or the
	// password is wrong. The two are deliberately one error.
	ErrInvalidCredentials = errors.New("identity: invalid credentials")
	// ErrNotFound: no user has the id.
	ErrNotFound = errors.New("identity: user not found")
	// ErrUsernameReserved: the username is reserved (DefaultReserved,
	// Config.Reserved).
	ErrUsernameReserved = errors.New("identity: username reserved")
	// ErrWrongPassword: a signed-in user's current password is wrong.
	ErrWrongPassword = errors.New("identity: wrong password")
	// ErrSessionNotFound: the user has no live session with that id.
	ErrSessionNotFound = errors.New("identity: session not found")
	// ErrSelfFollow: a user cannot follow or unfollow themselves.
	ErrSelfFollow = errors.New("identity: cannot follow yourself")
	// ErrSelfBlock: a user cannot block or unblock themselves.
	ErrSelfBlock = errors.New("identity: cannot block yourself")
	// ErrBlocked: the caller blocked the user they act on (following them)
	// and must unblock them first. The other way round, a user who blocked
	// the caller, is ErrNotFound: a block is not revealed to the blocked.
	ErrBlocked = errors.New("identity: you blocked this user")
)

// ValidationError says which field of an input is wrong and why.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return fmt.Sprintf("%s %s", e.Field, e.Reason) }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

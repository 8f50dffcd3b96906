package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// Error codes. A code is stable API: clients switch on it; the message is
// for humans and may change.
const (
	CodeBadRequest           = "bad_request"
	CodeInvalidJSON          = "invalid_json"
	CodeValidation           = "validation_failed"
	CodeInvalidCursor        = "invalid_cursor"
	CodeUnauthorized         = "unauthorized"
	CodeForbidden            = "forbidden"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeConflict             = "conflict"
	CodePayloadTooLarge      = "payload_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeTooManyRequests      = "too_many_requests"
	CodeInternal             = "internal"
	CodeUnavailable          = "unavailable"
)

// Error is an error meant for the caller: its Status, Code and Message are
// sent as they are. Err, the cause, is only logged.
type Error struct {
	Status  int
	Code    string
	Message string
	Err     error
	// header is set on the response (WWW-Authenticate, Allow, Retry-After).
	header http.Header
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// WithHeader returns a copy of e that also sets a response header.
func (e *Error) WithHeader(key, value string) *Error {
	c := *e
	c.header = e.header.Clone()
	if c.header == nil {
		c.header = http.Header{}
	}
	c.header.Set(key, value)
	return &c
}

// Wrap returns a copy of e with cause err (logged, never shown).
func (e *Error) Wrap(err error) *Error {
	c := *e
	c.Err = err
	return &c
}

// NewError returns an error with the given status, code and message.
func NewError(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// Errorf returns an error whose message is formatted.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Shorthands for the common cases.
func BadRequest(message string) *Error {
	return NewError(http.StatusBadRequest, CodeBadRequest, message)
}
func Invalid(message string) *Error { return NewError(http.StatusBadRequest, CodeValidation, message) }
func Unauthorized(message string) *Error {
	return NewError(http.StatusUnauthorized, CodeUnauthorized, message)
}
func Forbidden(message string) *Error { return NewError(http.StatusForbidden, CodeForbidden, message) }
func NotFound(message string) *Error  { return NewError(http.StatusNotFound, CodeNotFound, message) }
func Conflict(message string) *Error  { return NewError(http.StatusConflict, CodeConflict, message) }
func Unavailable(message string) *Error {
	return NewError(http.StatusServiceUnavailable, CodeUnavailable, message)
}

// MethodNotAllowed answers 405 with the Allow header.
func MethodNotAllowed(allow string) *Error {
	return NewError(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method not allowed").WithHeader("Allow", allow)
}

// errorBody is the wire form.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// internalMessage is all a caller learns of an unexpected failure.
const internalMessage = "internal server error"

// WriteError answers r with err: a *Error as it is (4xx logged at debug,
// 5xx at error with the cause), anything else as a logged 500.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var e *Error
	if !errors.As(err, &e) {
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			// The client went away; nobody reads this answer, and it is
			// no server failure, so it is not logged as one.
			log.LogAttrs(r.Context(), slog.LevelInfo, "request cancelled by client", requestAttrs(r)...)
			WriteJSON(w, r, log, http.StatusServiceUnavailable,
				errorBody{Error: errorDetail{Code: CodeUnavailable, Message: "request cancelled"}})
			return
		}
		e = NewError(http.StatusInternalServerError, CodeInternal, internalMessage).Wrap(err)
	}
	if e.Status < 400 || e.Status > 599 {
		e = NewError(http.StatusInternalServerError, CodeInternal, internalMessage).Wrap(
			fmt.Errorf("error with non-error status %d: %w", e.Status, err))
	}
	level := slog.LevelDebug
	if e.Status >= 500 {
		level = slog.LevelError
	}
	if log.Enabled(r.Context(), level) {
		attrs := append(requestAttrs(r), slog.Int("status", e.Status), slog.String("code", e.Code))
		if e.Err != nil {
			attrs = append(attrs, slog.String("error", e.Err.Error()))
		}
		log.LogAttrs(r.Context(), level, "request failed", attrs...)
	}
	for k, vs := range e.header {
		w.Header()[k] = vs
	}
	WriteJSON(w, r, log, e.Status, errorBody{Error: errorDetail{Code: e.Code, Message: e.Message}})
}

// HandlerFunc is an endpoint that returns its error instead of writing it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handle adapts fn to http.Handler, writing a returned error with
// WriteError. A handler that already wrote its response must return nil.
func Handle(log *slog.Logger, fn HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			WriteError(w, r, log, err)
		}
	})
}

func requestAttrs(r *http.Request) []slog.Attr {
	attrs := []slog.Attr{slog.String("method", r.Method), slog.String("path", r.URL.Path)}
	if id := RequestIDFrom(r.Context()); id != "" {
		attrs = append(attrs, slog.String("request_id", id))
	}
	return attrs
}

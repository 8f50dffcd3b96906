// Package delivery tells a Knative event source what became of an event a
// function handled.
//
// KafkaSource (and the Kafka broker's Triggers) retry a delivery that failed
// with 5xx, 404, 408, 409, 429 or a transport error, and send any other
// non-2xx answer straight to the dead-letter sink. So an event that can
// never be handled (unknown type, undecodable data, a reaction that
// declares the failure permanent) must be answered with a 4xx and the
// reason, and a failure that may pass (the database is down, the function
// is still opening its connections) with a 5xx; Status makes that choice
// from the reaction's error.
package delivery

import (
	"errors"
	"net/http"

	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/lifecycle"
)

// permanent marks an error that retrying cannot fix.
type permanent struct{ err error }

func (p *permanent) Error() string { return "permanent: " + p.err.Error() }
func (p *permanent) Unwrap() error { return p.err }

// Permanent marks err as a failure retrying cannot fix, so the event goes to
// the dead-letter sink at once. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanent{err: err}
}

// IsPermanent reports whether err means the event can never be handled:
// marked with Permanent, or an envelope decode error.
func IsPermanent(err error) bool {
	var p *permanent
	return errors.As(err, &p) || envelope.IsDecodeError(err)
}

// Status is the HTTP status a function answers for the outcome err of
// handling one event: 200 when handled; 400 when it never can be (the
// source dead-letters it at once); 503 while the function is not ready
// (retried, and nothing was attempted); 500 for any other failure
// (retried).
func Status(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case IsPermanent(err):
		return http.StatusBadRequest
	case errors.Is(err, lifecycle.ErrNotReady), errors.Is(err, lifecycle.ErrStopped):
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// Package delivery tells a Knative event source what became of an event a
// function handled.
//
// KafkaSource retries a delivery that failed with 5xx, 404, 408, 409, 429 or
// a transport error, and sends any other non-2xx answer straight to the
// dead-letter sink. So an event that can never be handled (unknown type,
// undecodable data, a reaction that declares the failure permanent) must be
// answered with a 4xx and the reason, and a failure that may pass (the
// database is down) with a 5xx, and Result makes that choice from the
// reaction's error.
package delivery

import (
	"errors"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/protocol"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/nova-social/nova/shared/envelope"
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

// Result maps the error of a function's reaction to the answer its Handle
// returns: nil acknowledges the event (200); a permanent failure is a 400
// whose body is the reason; anything else is a 500 so the source retries.
// The error stays in the result's chain for errors.Is and errors.As.
func Result(err error) protocol.Result {
	switch {
	case err == nil:
		return nil
	case IsPermanent(err):
		return cehttp.NewResult(http.StatusBadRequest, "%w", err)
	default:
		return cehttp.NewResult(http.StatusInternalServerError, "%w", err)
	}
}

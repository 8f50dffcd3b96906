package delivery

import (
	"context"
	"log/slog"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/nova-social/nova/shared/envelope"
)

// Reaction applies one decoded event: a function's logic.
type Reaction func(context.Context, envelope.Decoded) error

// Handle is what every reacting function's Handle does once started:
// decode e, hand it to react, log a failure, and answer with the result a
// Knative source acts on (Result).
func Handle(ctx context.Context, codec *envelope.Codec, e event.Event, react Reaction, log *slog.Logger) error {
	d, err := codec.Decode(e)
	if err == nil {
		err = react(ctx, d)
	}
	if err != nil {
		log.ErrorContext(ctx, "event not applied", "id", e.ID(), "type", e.Type(), "error", err, "permanent", IsPermanent(err))
	}
	return Result(err)
}

package delivery

import (
	"context"
	"errors"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/nova-social/nova/shared/event/envelope"
)

// Reaction applies one decoded event: a function's logic.
type Reaction func(context.Context, envelope.Decoded) error

// Apply is what most functions do with an event: decode it into its typed
// message with codec and hand it to react. A decode failure is permanent
// (see IsPermanent).
func Apply(ctx context.Context, codec *envelope.Codec, e event.Event, react Reaction) error {
	if codec.Consumer() == "" {
		// A function's codec says which function it decodes for, or plain
		// records would be taken from every topic.
		return errors.New("delivery: the codec names no consumer (envelope.Codec.ForConsumer)")
	}
	d, err := codec.Decode(e)
	if err != nil {
		return err
	}
	return react(ctx, d)
}

// Package function is the chat-push Knative function (realtime-chat-service's
// consumer of messaging-events). Each event goes to package chatpush, which
// pushes the message to the gateways its recipients are connected to.
//
// kn func builds it with a scaffold whose main calls
// knative.dev/func-go/http.Start(New()) (func.yaml invoke: http; see
// shared/event/eventfunc for why).
package function

import (
	"context"
	"log/slog"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/functions/chat-push/chatpush"
	"github.com/nova-social/nova/shared/domain/presence"
	"github.com/nova-social/nova/shared/domain/push"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/eventfunc"
	"github.com/nova-social/nova/shared/lifecycle"
	"github.com/nova-social/nova/shared/redisdb"
)

// ChatPush is the function instance.
type ChatPush struct {
	*eventfunc.Function[*unit]
}

// New returns an unstarted instance.
func New() *ChatPush {
	return &ChatPush{eventfunc.New(catalog.ChatPush, setup)}
}

// setup reads REDIS_URL; opening connects to Redis, where presence and the
// gateways' channels are.
func setup(env map[string]string, log *slog.Logger) (lifecycle.Open[*unit], error) {
	cfg := redisdb.FromEnv(env)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	codec := envelope.NewCodec(catalog.Default()).ForConsumer(catalog.ChatPush)
	return func(ctx context.Context) (*unit, error) {
		rdb, err := redisdb.Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		ps, err := presence.New(rdb, presence.DefaultConfig())
		if err != nil {
			rdb.Close()
			return nil, err
		}
		p, err := push.NewPusher(rdb, ps)
		if err != nil {
			rdb.Close()
			return nil, err
		}
		return &unit{rdb: rdb, codec: codec, reactor: chatpush.NewReactor(p, log)}, nil
	}, nil
}

type unit struct {
	rdb     *redis.Client
	codec   *envelope.Codec
	reactor *chatpush.Reactor
}

// Receive pushes one message.
func (u *unit) Receive(ctx context.Context, e event.Event) error {
	return delivery.Apply(ctx, u.codec, e, u.reactor.React)
}

func (u *unit) Ping(ctx context.Context) error { return u.rdb.Ping(ctx).Err() }
func (u *unit) Close(context.Context) error    { return u.rdb.Close() }

// Package function is the chat-persist Knative function (messaging-service's
// consumer of realtime-chat). Each event goes to package persist, which
// stores the message; the function also runs the outbox relay that
// publishes the MessageSent events it writes.
//
// kn func builds it with a scaffold whose main calls
// knative.dev/func-go/http.Start(New()) (func.yaml invoke: http; see
// shared/event/eventfunc for why).
package function

import (
	"context"
	"errors"
	"log/slog"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/functions/chat-persist/persist"
	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/domain/media"
	"github.com/nova-social/nova/shared/domain/messaging"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/eventfunc"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/lifecycle"
	"github.com/nova-social/nova/shared/postgres"
)

// ChatPersist is the function instance.
type ChatPersist struct {
	*eventfunc.Function[*unit]
}

// New returns an unstarted instance.
func New() *ChatPersist {
	return &ChatPersist{eventfunc.New(catalog.ChatPersist, setup)}
}

// setup reads DATABASE_URL (and PGPASSWORD) and KAFKA_BROKERS; opening
// connects, applies the messaging migrations and starts the outbox relay.
func setup(env map[string]string, log *slog.Logger) (lifecycle.Open[*unit], error) {
	cfg := outbox.BackendConfig{
		Name: catalog.ChatPersist, Database: postgres.FromEnv(env), Brokers: kafka.ParseBrokers(env["KAFKA_BROKERS"]), Kafka: kafka.SecurityFromEnv(env),
		Topics: catalog.Default().WrittenBy(catalog.ChatPersist),
		// identity's too: its blocks and follows decide who may write and
		// who receives; migrating them here works whichever process starts
		// first.
		Migrations: []func(context.Context, *pgxpool.Pool) error{messaging.Migrate, identity.Migrate}, Logger: log,
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	codec := envelope.NewCodec(catalog.Default()).ForConsumer(catalog.ChatPersist)
	return func(ctx context.Context) (*unit, error) {
		b, err := outbox.OpenBackend(ctx, cfg)
		if err != nil {
			return nil, err
		}
		// Relations from the identity tables of the same database: a
		// message typed on a websocket meets the blocks and invitations a
		// message posted to nova-api meets.
		svc, err := messaging.New(messaging.Config{Pool: b.Pool, Outbox: b.Outbox(codec), Logger: log,
			Relations: identity.NewGraph(b.Pool),
			Media: messaging.OwnedMedia(func(ctx context.Context, owner id.UserID, ids []id.MediaID) (map[string]post.Media, error) {
				return media.Owned(ctx, b.Pool, owner, ids)
			})})
		if err != nil {
			return nil, errors.Join(err, b.Close(ctx))
		}
		return &unit{Backend: b, codec: codec, reactor: persist.NewReactor(svc, log)}, nil
	}, nil
}

// unit is the function's PostgreSQL with its relay (Ping, Close) and the
// reactor storing messages in it.
type unit struct {
	*outbox.Backend
	codec   *envelope.Codec
	reactor *persist.Reactor
}

// Receive stores one message. A message that can never be stored is a
// permanent failure, dead-lettered with the reason.
func (u *unit) Receive(ctx context.Context, e event.Event) error {
	return delivery.Apply(ctx, u.codec, e, u.reactor.React)
}

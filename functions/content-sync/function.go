// Package function is the content-sync Knative function (content-service's
// consumer of its own topic, content-events). Every post event goes to
// package reconcile, which makes sure content's store holds what the topic
// announced: a post written to the topic without content becomes a post in
// content when content would have accepted it, and is withdrawn everywhere
// (a PostDeleted through this function's outbox, relayed to content-events)
// otherwise. Content's own events, the common case, cost one lookup and
// change nothing.
//
// kn func builds it with a scaffold whose main calls
// knative.dev/func-go/http.Start(New()) (func.yaml invoke: http; see
// shared/event/eventfunc for why).
package function

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/functions/content-sync/reconcile"
	"github.com/nova-social/nova/shared/domain/content"
	"github.com/nova-social/nova/shared/domain/identity"
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

// ContentSync is the function instance.
type ContentSync struct {
	*eventfunc.Function[*unit]
}

// New returns an unstarted instance.
func New() *ContentSync {
	return &ContentSync{eventfunc.New(catalog.ContentSync, setup)}
}

// noFollows is the follow graph of a content service that shows no post to
// a viewer: adopting and withdrawing never ask who follows whom.
type noFollows struct{}

func (noFollows) Follows(context.Context, id.UserID, id.UserID) (bool, error) {
	return false, errors.New("content-sync: the follow graph is not available here")
}

// setup reads DATABASE_URL (and PGPASSWORD) and KAFKA_BROKERS; opening
// connects, applies the content, identity and outbox migrations and starts
// the outbox relay.
func setup(env map[string]string, log *slog.Logger) (lifecycle.Open[*unit], error) {
	// content-events may be renamed (KAFKA_TOPIC_CONTENT_EVENTS); the
	// withdrawals go wherever it is.
	cat, err := catalog.FromEnv(env)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", catalog.ContentSync, err)
	}
	cfg := outbox.BackendConfig{
		Name: catalog.ContentSync, Database: postgres.FromEnv(env), Brokers: kafka.ParseBrokers(env["KAFKA_BROKERS"]), Kafka: kafka.SecurityFromEnv(env),
		Topics: cat.WrittenBy(catalog.ContentSync),
		// identity's users table says who is an account.
		Migrations: []func(context.Context, *pgxpool.Pool) error{content.Migrate, identity.Migrate}, Logger: log,
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	codec := envelope.NewCodec(cat).ForConsumer(catalog.ContentSync)
	return func(ctx context.Context) (*unit, error) {
		b, err := outbox.OpenBackend(ctx, cfg)
		if err != nil {
			return nil, err
		}
		svc, err := content.New(content.Config{Pool: b.Pool, Outbox: b.Outbox(codec), Follows: noFollows{}, Logger: log})
		if err != nil {
			return nil, errors.Join(err, b.Close(ctx))
		}
		rec, err := reconcile.New(b.Pool, svc, log)
		if err != nil {
			return nil, errors.Join(err, b.Close(ctx))
		}
		return &unit{Backend: b, codec: codec, reconciler: rec, log: log}, nil
	}, nil
}

// unit is the function's PostgreSQL with its relay (Ping, Close) and the
// reconciler writing content's tables.
type unit struct {
	*outbox.Backend
	codec      *envelope.Codec
	reconciler *reconcile.Reconciler
	log        *slog.Logger
}

// Receive reconciles content's store with one event of content-events.
func (u *unit) Receive(ctx context.Context, e event.Event) error {
	return delivery.Apply(ctx, u.codec, e, func(ctx context.Context, d envelope.Decoded) error {
		out, err := u.reconciler.React(ctx, d)
		if err == nil {
			u.log.DebugContext(ctx, "content event reconciled", "type", e.Type(), "id", e.ID(), "outcome", out)
		}
		return err
	})
}

// Package function is the chat-persist Knative function (messaging-service's
// consumer of realtime-chat). Handle decodes the event and hands it to
// package persist; Start also runs the outbox relay that publishes the
// MessageSent events it writes.
//
// kn func builds it with a scaffold whose main calls
// knative.dev/func-go/cloudevents.Start(New()).
package function

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/functions/chat-persist/persist"
	"github.com/nova-social/nova/shared/catalog"
	"github.com/nova-social/nova/shared/delivery"
	"github.com/nova-social/nova/shared/envelope"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/kafka"
	"github.com/nova-social/nova/shared/media"
	"github.com/nova-social/nova/shared/messaging"
	"github.com/nova-social/nova/shared/outbox"
	"github.com/nova-social/nova/shared/post"
)

// ChatPersist is the function instance.
type ChatPersist struct {
	log   *slog.Logger
	codec *envelope.Codec

	mu      sync.RWMutex
	backend *outbox.Backend
	reactor *persist.Reactor
}

// New returns an unstarted instance.
func New() *ChatPersist {
	return &ChatPersist{
		log:   slog.Default().With("function", catalog.ChatPersist),
		codec: envelope.NewCodec(catalog.Default()),
	}
}

var errNotStarted = errors.New("chat-persist: not started")

// Start connects to PostgreSQL and Kafka, applies the messaging migrations
// and starts the outbox relay.
func (f *ChatPersist) Start(ctx context.Context, env map[string]string) error {
	b, err := outbox.OpenBackend(ctx, outbox.BackendConfig{
		Name: catalog.ChatPersist, DatabaseURL: env["DATABASE_URL"], Brokers: kafka.ParseBrokers(env["KAFKA_BROKERS"]),
		Migrations: []func(context.Context, *pgxpool.Pool) error{messaging.Migrate}, Logger: f.log,
	})
	if err != nil {
		return err
	}
	svc, err := messaging.New(messaging.Config{Pool: b.Pool, Outbox: outbox.New(f.codec), Logger: f.log,
		Media: messaging.OwnedMedia(func(ctx context.Context, owner id.UserID, ids []id.MediaID) (map[string]post.Media, error) {
			return media.Owned(ctx, b.Pool, owner, ids)
		})})
	if err != nil {
		return errors.Join(err, b.Close(ctx))
	}
	f.mu.Lock()
	f.backend, f.reactor = b, persist.NewReactor(svc, f.log)
	f.mu.Unlock()
	return nil
}

// Stop stops the relay and closes the connections.
func (f *ChatPersist) Stop(ctx context.Context) error {
	f.mu.Lock()
	b := f.backend
	f.backend, f.reactor = nil, nil
	f.mu.Unlock()
	if b == nil {
		return nil
	}
	return b.Close(ctx)
}

// Ready reports whether PostgreSQL answers.
func (f *ChatPersist) Ready(ctx context.Context) (bool, error) {
	f.mu.RLock()
	b := f.backend
	f.mu.RUnlock()
	if b == nil {
		return false, nil
	}
	if err := b.Ping(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// Handle stores one event. Its error is a protocol result: 4xx for an event
// that can never be stored (dead-lettered at once with the reason), 5xx for
// one that may succeed on retry.
func (f *ChatPersist) Handle(ctx context.Context, e event.Event) error {
	f.mu.RLock()
	r := f.reactor
	f.mu.RUnlock()
	if r == nil {
		return delivery.Result(errNotStarted)
	}
	return delivery.Handle(ctx, f.codec, e, r.React, f.log)
}

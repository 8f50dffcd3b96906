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
	"fmt"
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

	mu        sync.RWMutex
	pool      *pgxpool.Pool
	producer  *kafka.Producer
	reactor   *persist.Reactor
	stopRelay context.CancelFunc
	relayDone chan struct{}
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
func (f *ChatPersist) Start(ctx context.Context, env map[string]string) (err error) {
	dsn := env["DATABASE_URL"]
	if dsn == "" {
		return errors.New("chat-persist: DATABASE_URL is not set")
	}
	var brokers []string
	brokers = kafka.ParseBrokers(env["KAFKA_BROKERS"])
	if len(brokers) == 0 {
		return errors.New("chat-persist: KAFKA_BROKERS is not set")
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return fmt.Errorf("chat-persist: database: %w", err)
	}
	var producer *kafka.Producer
	defer func() {
		if err != nil {
			if producer != nil {
				producer.Close()
			}
			pool.Close()
		}
	}()
	for _, m := range []func(context.Context, *pgxpool.Pool) error{outbox.Migrate, messaging.Migrate} {
		if err := m(ctx, pool); err != nil {
			return fmt.Errorf("chat-persist: migrations: %w", err)
		}
	}
	svc, err := messaging.New(messaging.Config{Pool: pool, Outbox: outbox.New(f.codec), Logger: f.log,
		Media: messaging.OwnedMedia(func(ctx context.Context, owner id.UserID, ids []id.MediaID) (map[string]post.Media, error) {
			return media.Owned(ctx, pool, owner, ids)
		})})
	if err != nil {
		return err
	}
	if producer, err = kafka.NewProducer(kafka.DefaultProducerConfig(brokers...)); err != nil {
		return fmt.Errorf("chat-persist: kafka: %w", err)
	}
	relay, err := outbox.NewRelay(pool, producer, outbox.Config{Logger: f.log})
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := relay.Run(rctx); err != nil && !errors.Is(err, context.Canceled) {
			f.log.Error("outbox relay stopped", "error", err)
		}
	}()
	f.mu.Lock()
	f.pool, f.producer, f.reactor, f.stopRelay, f.relayDone = pool, producer, persist.NewReactor(svc, f.log), cancel, done
	f.mu.Unlock()
	return nil
}

// Stop stops the relay and closes the connections.
func (f *ChatPersist) Stop(ctx context.Context) error {
	f.mu.Lock()
	pool, producer, cancel, done := f.pool, f.producer, f.stopRelay, f.relayDone
	f.pool, f.producer, f.reactor = nil, nil, nil
	f.mu.Unlock()
	if pool == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
	case <-ctx.Done():
	}
	err := producer.Close()
	pool.Close()
	return err
}

// Ready reports whether PostgreSQL answers.
func (f *ChatPersist) Ready(ctx context.Context) (bool, error) {
	f.mu.RLock()
	pool := f.pool
	f.mu.RUnlock()
	if pool == nil {
		return false, nil
	}
	if err := pool.Ping(ctx); err != nil {
		return false, fmt.Errorf("chat-persist: database: %w", err)
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

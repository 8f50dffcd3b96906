// Package function is the notifier Knative function (notification-service's
// consumer of messaging-events, user-events and analytics-events). Handle
// decodes the event and hands it to package notify, which decides who is
// notified; the inbox (shared/notification) stores, groups and deduplicates
// in PostgreSQL and announces NotificationCreated through the outbox, which
// this function relays to Kafka.
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
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/functions/notifier/notify"
	"github.com/nova-social/nova/shared/catalog"
	"github.com/nova-social/nova/shared/delivery"
	"github.com/nova-social/nova/shared/envelope"
	"github.com/nova-social/nova/shared/kafka"
	"github.com/nova-social/nova/shared/notification"
	"github.com/nova-social/nova/shared/outbox"
	"github.com/nova-social/nova/shared/presence"
)

// Notifier is the function instance.
type Notifier struct {
	log   *slog.Logger
	codec *envelope.Codec

	mu      sync.RWMutex
	backend *outbox.Backend
	reactor *notify.Reactor
	stop    context.CancelFunc // the pruner's
	done    chan struct{}
}

// New returns an unstarted instance.
func New() *Notifier {
	return &Notifier{
		log:   slog.Default().With("function", catalog.Notifier),
		codec: envelope.NewCodec(catalog.Default()),
	}
}

var errNotStarted = errors.New("notifier: not started")

// Config is read from the function's environment (func.yaml run.envs).
type Config struct {
	DatabaseURL  string
	RedisURL     string
	KafkaBrokers []string
	// GroupWindow is how long an unread notification absorbs further
	// actions of its group (NOTIFY_GROUP_WINDOW, default 1h).
	GroupWindow time.Duration
	// TriggerRetention is how long processed events are remembered for
	// deduplication (NOTIFY_TRIGGER_RETENTION, default 7 days: Kafka's
	// retention, after which nothing can be redelivered).
	TriggerRetention time.Duration
}

// ConfigFrom reads the configuration func-go passes to Start.
func ConfigFrom(env map[string]string) (Config, error) {
	c := Config{DatabaseURL: env["DATABASE_URL"], RedisURL: env["REDIS_URL"],
		GroupWindow: time.Hour, TriggerRetention: 7 * 24 * time.Hour}
	c.KafkaBrokers = kafka.ParseBrokers(env["KAFKA_BROKERS"])
	for name, dst := range map[string]*time.Duration{"NOTIFY_GROUP_WINDOW": &c.GroupWindow, "NOTIFY_TRIGGER_RETENTION": &c.TriggerRetention} {
		if v := env[name]; v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return c, fmt.Errorf("notifier: %s=%q: %w", name, v, err)
			}
			*dst = d
		}
	}
	return c, c.Validate()
}

// Validate reports a configuration the function cannot start with.
func (c Config) Validate() error {
	var errs []error
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("DATABASE_URL is not set"))
	}
	if c.RedisURL == "" {
		errs = append(errs, errors.New("REDIS_URL is not set"))
	}
	if len(c.KafkaBrokers) == 0 {
		errs = append(errs, errors.New("KAFKA_BROKERS is not set (the outbox relay publishes there)"))
	}
	if c.GroupWindow < 0 {
		errs = append(errs, fmt.Errorf("NOTIFY_GROUP_WINDOW %s is negative", c.GroupWindow))
	}
	if c.TriggerRetention < time.Hour {
		errs = append(errs, fmt.Errorf("NOTIFY_TRIGGER_RETENTION %s is under 1h", c.TriggerRetention))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("notifier: %w", err)
	}
	return nil
}

// Start connects to PostgreSQL (migrating the inbox and the outbox), Redis
// and Kafka, and starts the outbox relay.
func (n *Notifier) Start(ctx context.Context, env map[string]string) error {
	cfg, err := ConfigFrom(env)
	if err != nil {
		return err
	}
	b, err := outbox.OpenBackend(ctx, outbox.BackendConfig{
		Name: catalog.Notifier, DatabaseURL: cfg.DatabaseURL, Brokers: cfg.KafkaBrokers, RedisURL: cfg.RedisURL,
		Migrations: []func(context.Context, *pgxpool.Pool) error{notification.Migrate}, Logger: n.log,
	})
	if err != nil {
		return err
	}
	reactor, inbox, err := n.newReactor(b, cfg)
	if err != nil {
		return errors.Join(err, b.Close(ctx))
	}
	pctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.prune(pctx, inbox, cfg.TriggerRetention)
	}()
	n.mu.Lock()
	n.backend, n.reactor, n.stop, n.done = b, reactor, stop, done
	n.mu.Unlock()
	return nil
}

func (n *Notifier) newReactor(b *outbox.Backend, cfg Config) (*notify.Reactor, *notification.Service, error) {
	online, err := presence.New(b.Redis, presence.DefaultConfig())
	if err != nil {
		return nil, nil, err
	}
	inbox, err := notification.New(notification.Config{Pool: b.Pool, Outbox: outbox.New(n.codec), Logger: n.log, GroupWindow: cfg.GroupWindow})
	if err != nil {
		return nil, nil, err
	}
	reactor, err := notify.NewReactor(inbox, online, n.log)
	return reactor, inbox, err
}

// prune forgets processed events older than retention, hourly.
func (n *Notifier) prune(ctx context.Context, inbox *notification.Service, retention time.Duration) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if c, err := inbox.Prune(ctx, time.Now().Add(-retention)); err != nil && ctx.Err() == nil {
			n.log.Warn("pruning processed events failed", "error", err)
		} else if c > 0 {
			n.log.Info("pruned processed events", "count", c)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Stop stops the pruner and the relay and closes the connections.
func (n *Notifier) Stop(ctx context.Context) error {
	n.mu.Lock()
	b, stop, done := n.backend, n.stop, n.done
	n.backend, n.reactor, n.stop, n.done = nil, nil, nil, nil
	n.mu.Unlock()
	if b == nil {
		return nil
	}
	stop()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return b.Close(ctx)
}

// Ready reports whether PostgreSQL and Redis answer.
func (n *Notifier) Ready(ctx context.Context) (bool, error) {
	n.mu.RLock()
	b := n.backend
	n.mu.RUnlock()
	if b == nil {
		return false, nil
	}
	if err := b.Ping(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// Handle files the notifications of one event. Its error is a protocol
// result: 4xx for an event that can never be applied (dead-lettered at
// once), 5xx for one that may succeed on retry.
func (n *Notifier) Handle(ctx context.Context, e event.Event) error {
	n.mu.RLock()
	r := n.reactor
	n.mu.RUnlock()
	if r == nil {
		return delivery.Result(errNotStarted)
	}
	return delivery.Handle(ctx, n.codec, e, r.React, n.log)
}

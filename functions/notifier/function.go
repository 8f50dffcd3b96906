// Package function is the notifier Knative function (notification-service's
// consumer of messaging-events, user-events and analytics-events). Each
// event goes to package notify, which decides who is
// notified; the inbox (shared/domain/notification) stores, groups and deduplicates
// in PostgreSQL and announces NotificationCreated through the outbox, which
// this function relays to Kafka.
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
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/functions/notifier/notify"
	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/domain/notification"
	"github.com/nova-social/nova/shared/domain/presence"
	"github.com/nova-social/nova/shared/envconf"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/eventfunc"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/lifecycle"
	"github.com/nova-social/nova/shared/postgres"
	"github.com/nova-social/nova/shared/redisdb"
)

// Notifier is the function instance.
type Notifier struct {
	*eventfunc.Function[*unit]
}

// New returns an unstarted instance.
func New() *Notifier {
	return &Notifier{eventfunc.New(catalog.Notifier, setup)}
}

// Config is read from the function's environment (func.yaml run.envs).
type Config struct {
	Database     postgres.Config
	Redis        redisdb.Config
	KafkaBrokers []string
	// KafkaSecurity is TLS and SASL (KAFKA_TLS*, KAFKA_SASL_*).
	KafkaSecurity kafka.Security
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
	e := envconf.New(env)
	c := Config{Database: postgres.FromEnv(env), Redis: redisdb.FromEnv(env), KafkaBrokers: kafka.ParseBrokers(env["KAFKA_BROKERS"]), KafkaSecurity: kafka.SecurityFromEnv(env),
		GroupWindow:      e.Duration("NOTIFY_GROUP_WINDOW", time.Hour),
		TriggerRetention: e.Duration("NOTIFY_TRIGGER_RETENTION", 7*24*time.Hour)}
	if err := e.Err(); err != nil {
		return c, fmt.Errorf("notifier: %w", err)
	}
	return c, c.Validate()
}

// Validate reports a configuration the function cannot start with.
func (c Config) Validate() error {
	var errs []error
	if err := c.Database.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Redis.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(c.KafkaBrokers) == 0 {
		errs = append(errs, errors.New("KAFKA_BROKERS is not set (the outbox relay publishes there)"))
	}
	if err := c.KafkaSecurity.Validate(); err != nil {
		errs = append(errs, err)
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

// setup reads the configuration; opening connects to PostgreSQL (migrating
// the inbox and the outbox), Redis and Kafka, and starts the outbox relay
// and the pruner.
func setup(env map[string]string, log *slog.Logger) (lifecycle.Open[*unit], error) {
	cfg, err := ConfigFrom(env)
	if err != nil {
		return nil, err
	}
	codec := envelope.NewCodec(catalog.Default()).ForConsumer(catalog.Notifier)
	return func(ctx context.Context) (*unit, error) {
		b, err := outbox.OpenBackend(ctx, outbox.BackendConfig{
			Name: catalog.Notifier, Database: cfg.Database, Brokers: cfg.KafkaBrokers, Kafka: cfg.KafkaSecurity, Redis: cfg.Redis,
			Topics: codec.Catalog().WrittenBy(catalog.Notifier),
			// identity's: the blocks table decides who is not notified of
			// whom; migrating it here works whichever process starts first.
			Migrations: []func(context.Context, *pgxpool.Pool) error{notification.Migrate, identity.Migrate}, Logger: log,
		})
		if err != nil {
			return nil, err
		}
		reactor, inbox, err := newReactor(b, codec, cfg, log)
		if err != nil {
			return nil, errors.Join(err, b.Close(ctx))
		}
		pctx, stop := context.WithCancel(context.Background())
		u := &unit{Backend: b, codec: codec, reactor: reactor, stop: stop, done: make(chan struct{})}
		go func() {
			defer close(u.done)
			prune(pctx, inbox, cfg.TriggerRetention, log)
		}()
		return u, nil
	}, nil
}

func newReactor(b *outbox.Backend, codec *envelope.Codec, cfg Config, log *slog.Logger) (*notify.Reactor, *notification.Service, error) {
	online, err := presence.New(b.Redis, presence.DefaultConfig())
	if err != nil {
		return nil, nil, err
	}
	inbox, err := notification.New(notification.Config{Pool: b.Pool, Outbox: b.Outbox(codec), Logger: log, GroupWindow: cfg.GroupWindow})
	if err != nil {
		return nil, nil, err
	}
	reactor, err := notify.NewReactor(inbox, online, identity.NewGraph(b.Pool), log)
	return reactor, inbox, err
}

// prune forgets processed events older than retention, hourly.
func prune(ctx context.Context, inbox *notification.Service, retention time.Duration, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if c, err := inbox.Prune(ctx, time.Now().Add(-retention)); err != nil && ctx.Err() == nil {
			log.Warn("pruning processed events failed", "error", err)
		} else if c > 0 {
			log.Info("pruned processed events", "count", c)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// unit is the function's PostgreSQL and Redis with its relay, the reactor
// filing notifications, and the pruner.
type unit struct {
	*outbox.Backend
	codec   *envelope.Codec
	reactor *notify.Reactor
	stop    context.CancelFunc // the pruner's
	done    chan struct{}
}

// Receive files the notifications of one event.
func (u *unit) Receive(ctx context.Context, e event.Event) error {
	return delivery.Apply(ctx, u.codec, e, u.reactor.React)
}

// Close stops the pruner and the relay and closes the connections.
func (u *unit) Close(ctx context.Context) error {
	u.stop()
	select {
	case <-u.done:
	case <-ctx.Done():
	}
	return u.Backend.Close(ctx)
}

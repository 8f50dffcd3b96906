package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/migrate"
	"github.com/nova-social/nova/shared/postgres"
	"github.com/nova-social/nova/shared/redisdb"
	"github.com/nova-social/nova/shared/telemetry"
)

// BackendConfig says how a function opens the PostgreSQL that holds its
// state and the events it emits.
type BackendConfig struct {
	// Name is the function's name; errors start with it.
	Name     string
	Database postgres.Config
	// Brokers is where the relay publishes, logged in as Kafka says
	// (KAFKA_TLS*, KAFKA_SASL_*).
	Brokers []string
	Kafka   kafka.Security
	// Topics are the topics the function publishes through its outbox
	// (catalog.Catalog.WrittenBy): its relay sends rows of these only, and
	// Backend.Outbox enqueues events of these only.
	Topics []string
	// Migrations run after the outbox's own, in order.
	Migrations []func(context.Context, *pgxpool.Pool) error
	// Redis, when its URL is set, opens Backend.Redis for a function that
	// keeps part of its state there; Ping and Close then cover it too.
	Redis  redisdb.Config
	Logger *slog.Logger
	// Tracer continues, in the relay, the traces the function's events
	// carry. Default: the provider OpenBackend's context carries
	// (telemetry.WithProvider; eventfunc opens every unit with its own).
	Tracer trace.TracerProvider
	// Meter makes the relay's instruments. Default: the provider
	// OpenBackend's context carries (telemetry.WithMeterProvider).
	Meter metric.MeterProvider
}

// Validate reports a configuration a function cannot start with.
func (c BackendConfig) Validate() error {
	var errs []error
	if err := c.Database.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("KAFKA_BROKERS is not set (the outbox relay publishes there)"))
	}
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(c.Topics) == 0 {
		errs = append(errs, errors.New("no topics to publish: the catalogue names this function as no topic's writer"))
	}
	if c.Redis.URL != "" {
		if err := c.Redis.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: %w", c.Name, err)
	}
	return nil
}

// Backend is a function's PostgreSQL, migrated, with an outbox relay
// publishing what the function enqueues until Close. Functions whose
// reactions write rows and emit events in one transaction open one at Start.
type Backend struct {
	Pool  *pgxpool.Pool
	Redis *redis.Client // nil unless BackendConfig.Redis names a URL

	name     string
	topics   []string
	producer *kafka.Producer
	cancel   context.CancelFunc
	done     chan struct{}
}

// OpenBackend connects, migrates and starts the relay. The relay outlives
// ctx, which ends when start-up does; on failure nothing is left open.
func OpenBackend(ctx context.Context, cfg BackendConfig) (_ *Backend, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var redisOpt *redis.Options
	if cfg.Redis.URL != "" {
		if redisOpt, err = cfg.Redis.Options(); err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.Name, err)
		}
	}
	b := &Backend{name: cfg.Name, topics: cfg.Topics}
	defer func() {
		if err != nil {
			if b.Redis != nil {
				b.Redis.Close()
			}
			if b.producer != nil {
				b.producer.Close()
			}
			if b.Pool != nil {
				b.Pool.Close()
			}
		}
	}()
	if b.Pool, err = migrate.Open(ctx, cfg.Database, append([]func(context.Context, *pgxpool.Pool) error{Migrate}, cfg.Migrations...)...); err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Name, err)
	}
	pcfg := kafka.DefaultProducerConfig(cfg.Brokers...)
	pcfg.Security = cfg.Kafka
	if b.producer, err = kafka.NewProducer(pcfg); err != nil {
		return nil, fmt.Errorf("%s: kafka: %w", cfg.Name, err)
	}
	tracer := cfg.Tracer
	if tracer == nil {
		tracer = telemetry.ProviderFrom(ctx)
	}
	meter := cfg.Meter
	if meter == nil {
		meter = telemetry.MeterProviderFrom(ctx)
	}
	relay, err := NewRelay(b.Pool, b.producer, Config{Topics: cfg.Topics, Logger: log, Tracer: tracer, Meter: meter})
	if err != nil {
		return nil, err
	}
	if redisOpt != nil {
		b.Redis = redisdb.NewClient(redisOpt)
		if err := b.Redis.Ping(ctx).Err(); err != nil {
			return nil, fmt.Errorf("%s: redis: %w", cfg.Name, err)
		}
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	b.cancel, b.done = cancel, make(chan struct{})
	go func() {
		defer close(b.done)
		relay.Run(rctx)
	}()
	return b, nil
}

// Outbox returns an Outbox that builds events with codec and takes events
// of the backend's topics only, those its relay publishes.
func (b *Backend) Outbox(codec *envelope.Codec) *Outbox {
	return New(codec, b.topics...)
}

// Ping reports whether PostgreSQL, and Redis when opened, answer.
func (b *Backend) Ping(ctx context.Context) error {
	if err := b.Pool.Ping(ctx); err != nil {
		return fmt.Errorf("%s: database: %w", b.name, err)
	}
	if b.Redis != nil {
		if err := b.Redis.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("%s: redis: %w", b.name, err)
		}
	}
	return nil
}

// Close stops the relay (rows not yet sent wait in the outbox for the next
// one), waiting for it until ctx ends, then closes the producer, Redis and
// the pool.
func (b *Backend) Close(ctx context.Context) error {
	b.cancel()
	select {
	case <-b.done:
	case <-ctx.Done():
	}
	errs := []error{b.producer.Close()}
	if b.Redis != nil {
		errs = append(errs, b.Redis.Close())
	}
	b.Pool.Close()
	return errors.Join(errs...)
}

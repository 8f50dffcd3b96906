// Package function is the media-attach Knative function (content-service's
// consumer of media-events). Handle decodes the event and hands it to
// package attach, which attaches the media to its post or keeps it pending
// for the uploader's next post. PostUpdated goes through this function's
// own outbox, which it relays to Kafka.
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
	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/functions/media-attach/attach"
	"github.com/nova-social/nova/shared/catalog"
	"github.com/nova-social/nova/shared/content"
	"github.com/nova-social/nova/shared/delivery"
	"github.com/nova-social/nova/shared/envelope"
	"github.com/nova-social/nova/shared/kafka"
	"github.com/nova-social/nova/shared/outbox"
	"github.com/nova-social/nova/shared/pendingmedia"
)

// MediaAttach is the function instance.
type MediaAttach struct {
	log *slog.Logger

	mu       sync.RWMutex
	codec    *envelope.Codec
	pool     *pgxpool.Pool
	rdb      *redis.Client
	producer *kafka.Producer
	reactor  *attach.Reactor
	stop     context.CancelFunc
	done     chan struct{}
}

// New returns an unstarted instance.
func New() *MediaAttach {
	return &MediaAttach{log: slog.Default().With("function", catalog.MediaAttach)}
}

var errNotStarted = errors.New("media-attach: not started")

// Config is read from the function's environment (func.yaml run.envs).
type Config struct {
	DatabaseURL  string
	RedisURL     string
	KafkaBrokers []string
	// Catalog names the topics; KAFKA_TOPIC_CONTENT_EVENTS renames
	// content-events, where PostUpdated goes.
	Catalog *catalog.Catalog
}

// ConfigFrom reads the configuration func-go passes to Start.
func ConfigFrom(env map[string]string) (Config, error) {
	c := Config{DatabaseURL: env["DATABASE_URL"], RedisURL: env["REDIS_URL"]}
	c.KafkaBrokers = kafka.ParseBrokers(env["KAFKA_BROKERS"])
	var err error
	if c.Catalog, err = catalog.FromEnv(env); err != nil {
		return c, fmt.Errorf("media-attach: %w", err)
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
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("media-attach: %w", err)
	}
	return nil
}

// Start connects to PostgreSQL (migrating content's tables and the outbox,
// which it writes), Redis and Kafka, and starts the outbox relay.
func (f *MediaAttach) Start(ctx context.Context, env map[string]string) (err error) {
	cfg, err := ConfigFrom(env)
	if err != nil {
		return err
	}
	var (
		pool     *pgxpool.Pool
		rdb      *redis.Client
		producer *kafka.Producer
	)
	defer func() {
		if err != nil {
			if producer != nil {
				producer.Close()
			}
			if rdb != nil {
				rdb.Close()
			}
			if pool != nil {
				pool.Close()
			}
		}
	}()
	if pool, err = pgxpool.New(ctx, cfg.DatabaseURL); err != nil {
		return fmt.Errorf("media-attach: database: %w", err)
	}
	for _, m := range []func(context.Context, *pgxpool.Pool) error{outbox.Migrate, content.Migrate} {
		if err = m(ctx, pool); err != nil {
			return fmt.Errorf("media-attach: migrations: %w", err)
		}
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("media-attach: REDIS_URL: %w", err)
	}
	rdb = redis.NewClient(opt)
	pending, err := pendingmedia.New(rdb, 0)
	if err != nil {
		return err
	}
	codec := envelope.NewCodec(cfg.Catalog)
	attacher, err := content.NewAttacher(pool, outbox.New(codec), nil)
	if err != nil {
		return err
	}
	reactor, err := attach.NewReactor(attacher, pending, nil, f.log)
	if err != nil {
		return err
	}
	if producer, err = kafka.NewProducer(kafka.DefaultProducerConfig(cfg.KafkaBrokers...)); err != nil {
		return fmt.Errorf("media-attach: kafka: %w", err)
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
	f.codec, f.pool, f.rdb, f.producer, f.reactor, f.stop, f.done = codec, pool, rdb, producer, reactor, cancel, done
	f.mu.Unlock()
	return nil
}

// Stop stops the relay and closes the connections.
func (f *MediaAttach) Stop(ctx context.Context) error {
	f.mu.Lock()
	pool, rdb, producer, stop, done := f.pool, f.rdb, f.producer, f.stop, f.done
	f.pool, f.rdb, f.producer, f.reactor, f.stop, f.done = nil, nil, nil, nil, nil, nil
	f.mu.Unlock()
	if pool == nil {
		return nil
	}
	stop()
	select {
	case <-done:
	case <-ctx.Done():
	}
	errs := []error{producer.Close(), rdb.Close()}
	pool.Close()
	return errors.Join(errs...)
}

// Ready reports whether PostgreSQL and Redis answer.
func (f *MediaAttach) Ready(ctx context.Context) (bool, error) {
	f.mu.RLock()
	pool, rdb := f.pool, f.rdb
	f.mu.RUnlock()
	if pool == nil {
		return false, nil
	}
	if err := pool.Ping(ctx); err != nil {
		return false, fmt.Errorf("media-attach: database: %w", err)
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		return false, fmt.Errorf("media-attach: redis: %w", err)
	}
	return true, nil
}

// Handle applies one media event. Its error is a protocol result: 4xx for
// an event that can never be applied (dead-lettered at once), 5xx for one
// that may succeed on retry.
func (f *MediaAttach) Handle(ctx context.Context, e event.Event) error {
	f.mu.RLock()
	r, codec := f.reactor, f.codec
	f.mu.RUnlock()
	if r == nil {
		return delivery.Result(errNotStarted)
	}
	return delivery.Handle(ctx, codec, e, func(ctx context.Context, d envelope.Decoded) error {
		out, err := r.React(ctx, d)
		if err == nil {
			f.log.DebugContext(ctx, "media event applied", "id", e.ID(), "outcome", out)
		}
		return err
	}, f.log)
}

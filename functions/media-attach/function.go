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

	mu      sync.RWMutex
	codec   *envelope.Codec
	backend *outbox.Backend
	reactor *attach.Reactor
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
func (f *MediaAttach) Start(ctx context.Context, env map[string]string) error {
	cfg, err := ConfigFrom(env)
	if err != nil {
		return err
	}
	b, err := outbox.OpenBackend(ctx, outbox.BackendConfig{
		Name: catalog.MediaAttach, DatabaseURL: cfg.DatabaseURL, Brokers: cfg.KafkaBrokers, RedisURL: cfg.RedisURL,
		Migrations: []func(context.Context, *pgxpool.Pool) error{content.Migrate}, Logger: f.log,
	})
	if err != nil {
		return err
	}
	codec := envelope.NewCodec(cfg.Catalog)
	reactor, err := newReactor(b, codec, f.log)
	if err != nil {
		return errors.Join(err, b.Close(ctx))
	}
	f.mu.Lock()
	f.codec, f.backend, f.reactor = codec, b, reactor
	f.mu.Unlock()
	return nil
}

func newReactor(b *outbox.Backend, codec *envelope.Codec, log *slog.Logger) (*attach.Reactor, error) {
	pending, err := pendingmedia.New(b.Redis, 0)
	if err != nil {
		return nil, err
	}
	attacher, err := content.NewAttacher(b.Pool, outbox.New(codec), nil)
	if err != nil {
		return nil, err
	}
	return attach.NewReactor(attacher, pending, nil, log)
}

// Stop stops the relay and closes the connections.
func (f *MediaAttach) Stop(ctx context.Context) error {
	f.mu.Lock()
	b := f.backend
	f.backend, f.reactor = nil, nil
	f.mu.Unlock()
	if b == nil {
		return nil
	}
	return b.Close(ctx)
}

// Ready reports whether PostgreSQL and Redis answer.
func (f *MediaAttach) Ready(ctx context.Context) (bool, error) {
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

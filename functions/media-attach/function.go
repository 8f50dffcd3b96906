// Package function is the media-attach Knative function (content-service's
// consumer of media-events). Each event goes to package attach, which attaches the media to its post or keeps it pending
// for the uploader's next post. PostUpdated goes through this function's
// own outbox, which it relays to Kafka.
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

	"github.com/nova-social/nova/functions/media-attach/attach"
	"github.com/nova-social/nova/shared/domain/content"
	"github.com/nova-social/nova/shared/domain/pendingmedia"
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

// MediaAttach is the function instance.
type MediaAttach struct {
	*eventfunc.Function[*unit]
}

// New returns an unstarted instance.
func New() *MediaAttach {
	return &MediaAttach{eventfunc.New(catalog.MediaAttach, setup)}
}

// Config is read from the function's environment (func.yaml run.envs).
type Config struct {
	Database     postgres.Config
	Redis        redisdb.Config
	KafkaBrokers []string
	// KafkaSecurity is TLS and SASL (KAFKA_TLS*, KAFKA_SASL_*).
	KafkaSecurity kafka.Security
	// Catalog names the topics; KAFKA_TOPIC_CONTENT_EVENTS renames
	// content-events, where PostUpdated goes.
	Catalog *catalog.Catalog
}

// ConfigFrom reads the configuration func-go passes to Start.
func ConfigFrom(env map[string]string) (Config, error) {
	c := Config{Database: postgres.FromEnv(env), Redis: redisdb.FromEnv(env), KafkaBrokers: kafka.ParseBrokers(env["KAFKA_BROKERS"]),
		KafkaSecurity: kafka.SecurityFromEnv(env)}
	var err error
	if c.Catalog, err = catalog.FromEnv(env); err != nil {
		return c, fmt.Errorf("media-attach: %w", err)
	}
	return c, c.Validate()
}

// Validate reports a configuration the function cannot start with.
func (c Config) Validate() error {
	errs := []error{c.Database.Validate(), c.Redis.Validate()}
	if len(c.KafkaBrokers) == 0 {
		errs = append(errs, errors.New("KAFKA_BROKERS is not set (the outbox relay publishes there)"))
	}
	if err := c.KafkaSecurity.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("media-attach: %w", err)
	}
	return nil
}

// setup reads the configuration; opening connects to PostgreSQL (migrating
// content's tables and the outbox, which it writes), Redis and Kafka, and
// starts the outbox relay.
func setup(env map[string]string, log *slog.Logger) (lifecycle.Open[*unit], error) {
	cfg, err := ConfigFrom(env)
	if err != nil {
		return nil, err
	}
	codec := envelope.NewCodec(cfg.Catalog).ForConsumer(catalog.MediaAttach)
	return func(ctx context.Context) (*unit, error) {
		b, err := outbox.OpenBackend(ctx, outbox.BackendConfig{
			Name: catalog.MediaAttach, Database: cfg.Database, Brokers: cfg.KafkaBrokers, Kafka: cfg.KafkaSecurity, Redis: cfg.Redis,
			Topics:     codec.Catalog().WrittenBy(catalog.MediaAttach),
			Migrations: []func(context.Context, *pgxpool.Pool) error{content.Migrate}, Logger: log,
		})
		if err != nil {
			return nil, err
		}
		reactor, err := newReactor(b, codec, log)
		if err != nil {
			return nil, errors.Join(err, b.Close(ctx))
		}
		return &unit{Backend: b, codec: codec, reactor: reactor, log: log}, nil
	}, nil
}

func newReactor(b *outbox.Backend, codec *envelope.Codec, log *slog.Logger) (*attach.Reactor, error) {
	pending, err := pendingmedia.New(b.Redis, 0)
	if err != nil {
		return nil, err
	}
	attacher, err := content.NewAttacher(b.Pool, b.Outbox(codec), nil)
	if err != nil {
		return nil, err
	}
	return attach.NewReactor(attacher, pending, nil, log)
}

// unit is the function's PostgreSQL and Redis with its relay (Ping, Close)
// and the reactor attaching media.
type unit struct {
	*outbox.Backend
	codec   *envelope.Codec
	reactor *attach.Reactor
	log     *slog.Logger
}

// Receive attaches one upload to its post, or keeps it pending.
func (u *unit) Receive(ctx context.Context, e event.Event) error {
	return delivery.Apply(ctx, u.codec, e, func(ctx context.Context, d envelope.Decoded) error {
		out, err := u.reactor.React(ctx, d)
		if err == nil {
			u.log.DebugContext(ctx, "media event applied", "id", e.ID(), "outcome", out)
		}
		return err
	})
}

// Package function is the trust-safety Knative function
// (trust-safety-service's consumer of content-events). Each event goes to
// package screen, which judges new and edited posts
// and records each verdict, its review-queue entry and its
// ModerationDecision in one PostgreSQL transaction (shared/domain/moderation); the
// function's outbox relay publishes the decisions to trust-safety-events.
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

	"github.com/nova-social/nova/functions/trust-safety/screen"
	"github.com/nova-social/nova/shared/domain/moderation"
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

// TrustSafety is the function instance.
type TrustSafety struct {
	*eventfunc.Function[*unit]
}

// New returns an unstarted instance.
func New() *TrustSafety {
	return &TrustSafety{eventfunc.New(catalog.TrustSafety, setup)}
}

// Config is read from the function's environment (func.yaml run.envs).
type Config struct {
	Database     postgres.Config
	Redis        redisdb.Config
	KafkaBrokers []string
	// KafkaSecurity is TLS and SASL (KAFKA_TLS*, KAFKA_SASL_*).
	KafkaSecurity kafka.Security
	Rules         screen.Config
	// KeyPrefix starts the function's Redis keys. Default "trust-safety:".
	KeyPrefix string
}

// ConfigFrom reads the configuration func-go passes to Start. The rules
// take their defaults (screen.DefaultConfig) unless set, and a variable set
// to the empty string clears a list:
//
//	MODERATION_BLOCKED_TERMS     comma-separated words or phrases
//	MODERATION_PATTERNS          RE2 expressions, one per line
//	MODERATION_BLOCKED_DOMAINS   comma-separated hosts
//	MODERATION_MAX_LINKS         integer
//	MODERATION_REPEAT_THRESHOLD  integer (>= 2)
//	MODERATION_REPEAT_WINDOW     duration (1h)
//	MODERATION_REPEAT_MIN_CHARS  integer
func ConfigFrom(env map[string]string) (Config, error) {
	e := envconf.New(env)
	c := Config{Database: postgres.FromEnv(env), Redis: redisdb.FromEnv(env), Rules: screen.DefaultConfig(),
		KafkaBrokers:  kafka.ParseBrokers(e.Required("KAFKA_BROKERS")),
		KafkaSecurity: kafka.SecurityFromEnv(env)}
	r := &c.Rules
	r.BlockedTerms = e.Strings("MODERATION_BLOCKED_TERMS", ",", r.BlockedTerms)
	r.Patterns = e.Strings("MODERATION_PATTERNS", "\n", r.Patterns)
	r.BlockedDomains = e.Strings("MODERATION_BLOCKED_DOMAINS", ",", r.BlockedDomains)
	r.MaxLinks = e.Int("MODERATION_MAX_LINKS", r.MaxLinks)
	r.RepeatThreshold = e.Int("MODERATION_REPEAT_THRESHOLD", r.RepeatThreshold)
	r.RepeatMinChars = e.Int("MODERATION_REPEAT_MIN_CHARS", r.RepeatMinChars)
	r.RepeatWindow = e.Duration("MODERATION_REPEAT_WINDOW", r.RepeatWindow)
	c.KeyPrefix = e.String("MODERATION_KEY_PREFIX", "trust-safety:")
	if err := errors.Join(e.Err(), c.Database.Validate(), c.Redis.Validate(), c.KafkaSecurity.Validate(), c.Rules.Validate()); err != nil {
		return c, fmt.Errorf("trust-safety: %w", err)
	}
	return c, nil
}

// setup reads the configuration and compiles the rules; opening connects
// to PostgreSQL, Redis and Kafka, applies the moderation and outbox
// migrations and starts the outbox relay.
func setup(env map[string]string, log *slog.Logger) (lifecycle.Open[*unit], error) {
	cfg, err := ConfigFrom(env)
	if err != nil {
		return nil, err
	}
	policy, err := screen.NewPolicy(cfg.Rules)
	if err != nil {
		return nil, err
	}
	codec := envelope.NewCodec(catalog.Default()).ForConsumer(catalog.TrustSafety)
	return func(ctx context.Context) (*unit, error) {
		b, err := outbox.OpenBackend(ctx, outbox.BackendConfig{
			Name: catalog.TrustSafety, Database: cfg.Database, Brokers: cfg.KafkaBrokers, Kafka: cfg.KafkaSecurity, Redis: cfg.Redis,
			Topics:     codec.Catalog().WrittenBy(catalog.TrustSafety),
			Migrations: []func(context.Context, *pgxpool.Pool) error{moderation.Migrate}, Logger: log,
		})
		if err != nil {
			return nil, err
		}
		store, err := moderation.NewStore(b.Pool, b.Outbox(codec))
		if err != nil {
			return nil, errors.Join(err, b.Close(ctx))
		}
		reactor := screen.NewReactor(policy, screen.NewRepeats(b.Redis, cfg.KeyPrefix, cfg.Rules.RepeatWindow), store, log)
		return &unit{Backend: b, codec: codec, reactor: reactor}, nil
	}, nil
}

// unit is the function's PostgreSQL and Redis with its relay (Ping, Close)
// and the reactor judging posts.
type unit struct {
	*outbox.Backend
	codec   *envelope.Codec
	reactor *screen.Reactor
}

// Receive judges one event.
func (u *unit) Receive(ctx context.Context, e event.Event) error {
	return delivery.Apply(ctx, u.codec, e, u.reactor.React)
}

// Package function is the trust-safety Knative function
// (trust-safety-service's consumer of content-events). Handle decodes the
// event and hands it to package screen, which judges new and edited posts
// and records each verdict, its review-queue entry and its
// ModerationDecision in one PostgreSQL transaction (shared/moderation); the
// function's outbox relay publishes the decisions to trust-safety-events.
//
// kn func builds it with a scaffold whose main calls
// knative.dev/func-go/cloudevents.Start(New()).
package function

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/functions/trust-safety/screen"
	"github.com/nova-social/nova/shared/catalog"
	"github.com/nova-social/nova/shared/delivery"
	"github.com/nova-social/nova/shared/envelope"
	"github.com/nova-social/nova/shared/moderation"
	"github.com/nova-social/nova/shared/outbox"
)

// TrustSafety is the function instance.
type TrustSafety struct {
	log   *slog.Logger
	codec *envelope.Codec

	mu      sync.RWMutex
	backend *outbox.Backend
	reactor *screen.Reactor
}

// New returns an unstarted instance.
func New() *TrustSafety {
	return &TrustSafety{
		log:   slog.Default().With("function", catalog.TrustSafety),
		codec: envelope.NewCodec(catalog.Default()),
	}
}

var errNotStarted = errors.New("trust-safety: not started")

// Config is read from the function's environment (func.yaml run.envs).
type Config struct {
	DatabaseURL  string
	RedisURL     string
	KafkaBrokers []string
	Rules        screen.Config
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
	c := Config{DatabaseURL: env["DATABASE_URL"], RedisURL: env["REDIS_URL"], Rules: screen.DefaultConfig(), KeyPrefix: "trust-safety:"}
	var errs []error
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("DATABASE_URL is not set"))
	}
	if c.RedisURL == "" {
		errs = append(errs, errors.New("REDIS_URL is not set"))
	}
	c.KafkaBrokers = split(env["KAFKA_BROKERS"], ",")
	if len(c.KafkaBrokers) == 0 {
		errs = append(errs, errors.New("KAFKA_BROKERS is not set"))
	}
	if v, ok := env["MODERATION_BLOCKED_TERMS"]; ok {
		c.Rules.BlockedTerms = split(v, ",")
	}
	if v, ok := env["MODERATION_PATTERNS"]; ok {
		c.Rules.Patterns = split(v, "\n")
	}
	if v, ok := env["MODERATION_BLOCKED_DOMAINS"]; ok {
		c.Rules.BlockedDomains = split(v, ",")
	}
	for name, dst := range map[string]*int{"MODERATION_MAX_LINKS": &c.Rules.MaxLinks,
		"MODERATION_REPEAT_THRESHOLD": &c.Rules.RepeatThreshold, "MODERATION_REPEAT_MIN_CHARS": &c.Rules.RepeatMinChars} {
		if v := env[name]; v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", name, v, err))
			}
			*dst = n
		}
	}
	if v := env["MODERATION_REPEAT_WINDOW"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("MODERATION_REPEAT_WINDOW=%q: %w", v, err))
		}
		c.Rules.RepeatWindow = d
	}
	if v := env["MODERATION_KEY_PREFIX"]; v != "" {
		c.KeyPrefix = v
	}
	errs = append(errs, c.Rules.Validate())
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("trust-safety: %w", err)
	}
	return c, nil
}

func split(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Start connects to PostgreSQL, Redis and Kafka, applies the moderation and
// outbox migrations and starts the outbox relay.
func (f *TrustSafety) Start(ctx context.Context, env map[string]string) error {
	cfg, err := ConfigFrom(env)
	if err != nil {
		return err
	}
	policy, err := screen.NewPolicy(cfg.Rules)
	if err != nil {
		return err
	}
	b, err := outbox.OpenBackend(ctx, outbox.BackendConfig{
		Name: catalog.TrustSafety, DatabaseURL: cfg.DatabaseURL, Brokers: cfg.KafkaBrokers, RedisURL: cfg.RedisURL,
		Migrations: []func(context.Context, *pgxpool.Pool) error{moderation.Migrate}, Logger: f.log,
	})
	if err != nil {
		return err
	}
	store, err := moderation.NewStore(b.Pool, outbox.New(f.codec))
	if err != nil {
		return errors.Join(err, b.Close(ctx))
	}
	f.mu.Lock()
	f.backend = b
	f.reactor = screen.NewReactor(policy, screen.NewRepeats(b.Redis, cfg.KeyPrefix, cfg.Rules.RepeatWindow), store, f.log)
	f.mu.Unlock()
	return nil
}

// Stop stops the relay (rows not yet sent wait in the outbox for the next
// relay) and closes the connections.
func (f *TrustSafety) Stop(ctx context.Context) error {
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
func (f *TrustSafety) Ready(ctx context.Context) (bool, error) {
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

// Handle judges one event. Its error is a protocol result: 4xx for an
// event that can never be applied (dead-lettered at once), 5xx for one that
// may succeed on retry.
func (f *TrustSafety) Handle(ctx context.Context, e event.Event) error {
	f.mu.RLock()
	r := f.reactor
	f.mu.RUnlock()
	if r == nil {
		return delivery.Result(errNotStarted)
	}
	return delivery.Handle(ctx, f.codec, e, r.React, f.log)
}

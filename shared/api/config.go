package api

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/feed"
	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/domain/media"
	"github.com/nova-social/nova/shared/envconf"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/mail"
	"github.com/nova-social/nova/shared/postgres"
	"github.com/nova-social/nova/shared/ratelimit"
	"github.com/nova-social/nova/shared/redisdb"
	"github.com/nova-social/nova/shared/telemetry"
)

// Config is nova-api's configuration, read from the function's environment
// (func.yaml run.envs, backed by the nova-config ConfigMap).
type Config struct {
	// Database is PostgreSQL (DATABASE_URL, PGPASSWORD). Required.
	Database postgres.Config
	// Redis is the feed store (REDIS_URL, REDIS_USERNAME, REDIS_PASSWORD).
	// Required.
	Redis redisdb.Config
	// KafkaBrokers are where the outbox relay publishes (KAFKA_BROKERS).
	// Required when Relay is on.
	KafkaBrokers []string
	// KafkaSecurity is TLS and SASL (KAFKA_TLS*, KAFKA_SASL_*).
	KafkaSecurity kafka.Security
	// Relay runs an outbox relay in this process (OUTBOX_RELAY, default
	// on). Relays coordinate through PostgreSQL, so every replica may run one.
	Relay bool
	// DirectCall hydrates feeds from the content service instead of the
	// feed's own cache: the design document's rollback path
	// (ENABLE_DIRECT_CALL).
	DirectCall bool
	// ReservedUsernames no one may register or rename to, beside
	// identity.DefaultReserved (NOVA_RESERVED_USERNAMES, comma-separated).
	ReservedUsernames []string
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// (NOVA_TRUSTED_PROXIES, comma-separated CIDRs; default
	// httpapi.DefaultTrustedProxies). Rate limits and sessions key on it.
	TrustedProxies []netip.Prefix
	// RateLimits are the per-account and per-address budgets
	// (NOVA_RATE_LIMITS, RATE_LIMIT_*), kept in Redis.
	RateLimits ratelimit.Config
	// Keys are the JWT signing keys (NOVA_JWT_* variables).
	Keys auth.KeyConfig
	// TokenTTL is how long issued tokens live (NOVA_JWT_TTL, default 1h).
	TokenTTL time.Duration
	// Media is the upload storage and limits (MEDIA_* and S3_* variables).
	Media media.EnvConfig
	// Feed is how home feeds are kept and read (FEED_* variables, the same
	// nova-config keys feed-fanout reads).
	Feed feed.Config
	// Catalog names the topics events go to; KAFKA_TOPIC_CONTENT_EVENTS
	// renames content-events.
	Catalog *catalog.Catalog
	// SMTP is the mail relay sign-up mail goes through (SMTP_*,
	// MAIL_FROM). Required: without it nobody could sign up.
	SMTP mail.SMTPConfig
	// VerifyURL is the app page sign-up mail links to (NOVA_VERIFY_URL);
	// empty: the mail holds the code alone.
	VerifyURL string
	// Tracing exports nova-api's spans (the standard OTEL_* variables);
	// off unless an OTLP endpoint is named.
	Tracing telemetry.Config
}

// ConfigFrom reads the configuration from env.
func ConfigFrom(env map[string]string) (Config, error) {
	e := envconf.New(env)
	c := Config{
		Database:      postgres.FromEnv(env),
		Redis:         redisdb.FromEnv(env),
		KafkaBrokers:  kafka.ParseBrokers(env["KAFKA_BROKERS"]),
		KafkaSecurity: kafka.SecurityFromEnv(env),
		// Relays coordinate through PostgreSQL, so every replica may run one.
		Relay: e.Bool("OUTBOX_RELAY", true),
		// The design document's rollback switch; the ConfigMap holds it
		// off as "false".
		DirectCall:        e.Bool("ENABLE_DIRECT_CALL", false),
		ReservedUsernames: e.Strings("NOVA_RESERVED_USERNAMES", ",", nil),
		Keys:              auth.KeyConfigFromEnv(func(k string) string { return env[k] }),
		TokenTTL:          e.Duration("NOVA_JWT_TTL", time.Hour),
		VerifyURL:         e.String("NOVA_VERIFY_URL", ""),
	}
	if err := e.Err(); err != nil {
		return c, fmt.Errorf("nova-api: %w", err)
	}
	if _, set := env["NOVA_ADMINS"]; set {
		// Granting by username let anyone who took a listed name become an
		// admin; roles are granted by user id now (README, "Roles").
		return c, errors.New("nova-api: NOVA_ADMINS is no longer read: grant the admin role by user id with `nova admin grant --user <id>` and remove the variable (README, \"Roles\")")
	}
	var err error
	if c.TrustedProxies, err = httpapi.ParseTrustedProxies(env["NOVA_TRUSTED_PROXIES"]); err != nil {
		return c, fmt.Errorf("nova-api: %w", err)
	}
	if c.RateLimits, err = ratelimit.ConfigFromEnv(env); err != nil {
		return c, fmt.Errorf("nova-api: %w", err)
	}
	if c.Catalog, err = catalog.FromEnv(env); err != nil {
		return c, err
	}
	if c.Feed, err = feed.ConfigFromEnv(env); err != nil {
		return c, fmt.Errorf("nova-api: %w", err)
	}
	if c.Media, err = media.EnvConfigFrom(env); err != nil {
		return c, fmt.Errorf("nova-api: %w", err)
	}
	if c.SMTP, err = mail.SMTPConfigFromEnv(env); err != nil {
		return c, fmt.Errorf("nova-api: %w", err)
	}
	if c.Tracing, err = telemetry.ConfigFromEnv(env, catalog.NovaAPI); err != nil {
		return c, fmt.Errorf("nova-api: %w", err)
	}
	return c, c.Validate()
}

// Validate reports a configuration nova-api cannot start with.
func (c Config) Validate() error {
	var errs []error
	if err := c.Database.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Redis.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.KafkaSecurity.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Relay && len(c.KafkaBrokers) == 0 {
		errs = append(errs, errors.New("KAFKA_BROKERS is not set (needed by the outbox relay; OUTBOX_RELAY=false runs without one)"))
	}
	if c.Catalog == nil {
		errs = append(errs, errors.New("no event catalogue"))
	}
	if c.TokenTTL <= 0 || c.TokenTTL > 24*time.Hour {
		errs = append(errs, fmt.Errorf("token TTL %s outside (0, 24h]", c.TokenTTL))
	}
	if err := c.Keys.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Feed.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.SMTP.Defaults().Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := identity.CheckVerifyURL(c.VerifyURL); err != nil {
		errs = append(errs, fmt.Errorf("NOVA_VERIFY_URL: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("nova-api: %w", err)
	}
	return nil
}

// Package function is the realtime-gateway Knative function: the websocket
// front of realtime-chat-service. The work is in package gateway; this is
// the thin Knative face.
//
// kn func builds it with a scaffold whose main calls
// knative.dev/func-go/http.Start(New()).
package function

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/nova-social/nova/functions/realtime-gateway/gateway"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/presence"
	"github.com/nova-social/nova/shared/domain/session"
	"github.com/nova-social/nova/shared/envconf"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/emitter"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/lifecycle"
	"github.com/nova-social/nova/shared/ratelimit"
	"github.com/nova-social/nova/shared/redisdb"
	"github.com/nova-social/nova/shared/telemetry"
)

// Name is the function's name.
const Name = "realtime-gateway"

// Gateway is the function instance.
type Gateway struct {
	log     *slog.Logger
	life    *lifecycle.Lifecycle[*unit]
	tracing *telemetry.Providers // set by Start
}

// New returns an unstarted instance.
func New() *Gateway {
	log := slog.Default().With("function", Name)
	return &Gateway{log: log, life: lifecycle.New[*unit](lifecycle.Config{Name: Name, Logger: log})}
}

// Config is read from the function's environment (func.yaml run.envs).
type Config struct {
	// Tracer is the function's tracer provider, set by Start from the
	// OTEL_* variables; nil with tracing off.
	Tracer       trace.TracerProvider
	ID           string
	Redis        redisdb.Config
	KafkaBrokers []string
	// KafkaSecurity is TLS and SASL (KAFKA_TLS*, KAFKA_SASL_*).
	KafkaSecurity kafka.Security
	Keys          auth.KeyConfig
	PingInterval  time.Duration
	SendQueue     int
	// QueryToken takes the deprecated access_token URL parameter
	// (GATEWAY_QUERY_TOKEN, default true).
	QueryToken bool
	// Limits bound handshakes, frames and open websockets
	// (NOVA_RATE_LIMITS, RATE_LIMIT_*), as nova-api reads them.
	Limits ratelimit.Config
	// TrustedProxies name the client behind proxies (NOVA_TRUSTED_PROXIES).
	TrustedProxies []netip.Prefix
	// APIURL is nova-api, asked whether a client is in a conversation
	// (NOVA_API_URL). Required.
	APIURL string
}

// ConfigFrom reads the configuration func-go passes to Start.
func ConfigFrom(env map[string]string) (Config, error) {
	e := envconf.New(env)
	c := Config{
		ID: e.String("GATEWAY_ID", ""), Redis: redisdb.FromEnv(env), KafkaBrokers: kafka.ParseBrokers(e.Required("KAFKA_BROKERS")),
		KafkaSecurity: kafka.SecurityFromEnv(env),
		Keys:          auth.KeyConfigFromEnv(func(k string) string { return env[k] }),
		PingInterval:  e.Duration("GATEWAY_PING_INTERVAL", 0),
		SendQueue:     e.Int("GATEWAY_SEND_QUEUE", 0),
		QueryToken:    e.Bool("GATEWAY_QUERY_TOKEN", true),
		APIURL:        e.Required("NOVA_API_URL"),
	}
	if c.ID == "" {
		// Unique per process: a restarted replica must not inherit the
		// channel and presence entries of its previous life.
		host, _ := os.Hostname()
		c.ID = strings.Trim(host+"-"+strconv.FormatInt(time.Now().UnixNano(), 36), "-")
	}
	limits, lerr := ratelimit.ConfigFromEnv(env)
	c.Limits = limits
	proxies, perr := httpapi.ParseTrustedProxies(env["NOVA_TRUSTED_PROXIES"])
	c.TrustedProxies = proxies
	if err := errors.Join(e.Err(), c.Redis.Validate(), c.KafkaSecurity.Validate(), c.Keys.Validate(), lerr, perr); err != nil {
		return c, fmt.Errorf("realtime-gateway: %w", err)
	}
	return c, nil
}

// Start reads the configuration and begins connecting to Redis and Kafka
// and fetching the public keys in the background; until they answer the
// gateway is not ready. A configuration it cannot run with (no key source
// among NOVA_JWKS_URL, NOVA_JWKS, NOVA_JWKS_FILE) fails here.
func (f *Gateway) Start(_ context.Context, env map[string]string) error {
	cfg, err := ConfigFrom(env)
	if err != nil {
		return err
	}
	keys, err := cfg.Keys.VerificationKeys(&http.Client{Timeout: 10 * time.Second})
	if err != nil {
		return fmt.Errorf("realtime-gateway: keys: %w", err)
	}
	verifier, err := auth.NewVerifier(keys, auth.VerifierConfig{})
	if err != nil {
		return fmt.Errorf("realtime-gateway: %w", err)
	}
	if f.tracing, err = telemetry.FromEnv(env, Name); err != nil {
		return fmt.Errorf("realtime-gateway: %w", err)
	}
	if f.tracing.Tracing() {
		cfg.Tracer = f.tracing.TracerProvider()
	}
	return f.life.Start(func(ctx context.Context) (*unit, error) {
		return open(ctx, cfg, keys, verifier, f.log)
	})
}

// open connects, fetches the public keys when they come from a URL (no
// token can be checked without them), and subscribes to the replica's push
// channel.
func open(ctx context.Context, cfg Config, keys auth.KeySource, verifier *auth.Verifier, log *slog.Logger) (_ *unit, err error) {
	if remote, ok := keys.(*auth.RemoteKeys); ok {
		if err := remote.Refresh(ctx); err != nil {
			return nil, fmt.Errorf("public keys: %w", err)
		}
	}
	rdb, err := redisdb.Open(ctx, cfg.Redis)
	if err != nil {
		return nil, err
	}
	var producer *kafka.Producer
	defer func() {
		if err != nil {
			if producer != nil {
				producer.Close()
			}
			rdb.Close()
		}
	}()
	ps, err := presence.New(rdb, presence.DefaultConfig())
	if err != nil {
		return nil, err
	}
	pcfg := kafka.DefaultProducerConfig(cfg.KafkaBrokers...)
	pcfg.Security = cfg.KafkaSecurity
	if producer, err = kafka.NewProducer(pcfg); err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	var limiter *ratelimit.Limiter
	if cfg.Limits.Enabled {
		limiter = ratelimit.New(rdb, cfg.Limits.Namespace)
	}
	gw, err := gateway.New(gateway.Config{
		ID: cfg.ID, Redis: rdb, Presence: ps, Verifier: verifier, Logger: log, Sessions: session.NewMarks(rdb),
		Limiter: limiter, Limits: cfg.Limits, TrustedProxies: cfg.TrustedProxies,
		Members:      gateway.APIMembers{Base: cfg.APIURL, Client: &http.Client{Timeout: 10 * time.Second}},
		Emitter:      emitter.NewKafka(envelope.NewCodec(catalog.Default()), producer),
		PingInterval: cfg.PingInterval, SendQueue: cfg.SendQueue, RefuseQueryToken: !cfg.QueryToken,
		Tracer: cfg.Tracer,
	})
	if err != nil {
		return nil, err
	}
	sub, err := gw.Subscribe(ctx)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.Background())
	u := &unit{gw: gw, rdb: rdb, producer: producer, stopRun: cancel, runDone: make(chan struct{})}
	go func() {
		defer close(u.runDone)
		if err := gw.Run(rctx, sub); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("push subscription stopped", "error", err)
		}
	}()
	log.Info("gateway started", "gateway_id", cfg.ID)
	return u, nil
}

// unit is a started gateway and its connections.
type unit struct {
	gw       *gateway.Gateway
	rdb      *redis.Client
	producer *kafka.Producer
	stopRun  context.CancelFunc
	runDone  chan struct{}
}

// Ping reports whether Redis answers.
func (u *unit) Ping(ctx context.Context) error { return u.rdb.Ping(ctx).Err() }

// Close closes every connection (1001) and the clients.
func (u *unit) Close(ctx context.Context) error {
	errs := []error{u.gw.Close(ctx)}
	u.stopRun()
	<-u.runDone
	return errors.Join(append(errs, u.producer.Close(), u.rdb.Close())...)
}

// Stop closes the gateway, then exports the spans still buffered.
func (f *Gateway) Stop(ctx context.Context) error {
	err := f.life.Stop(ctx)
	if f.tracing != nil {
		err = errors.Join(err, f.tracing.Shutdown(ctx))
	}
	return err
}

// Ready reports whether the gateway is started and Redis answers; when not,
// the error says why.
func (f *Gateway) Ready(ctx context.Context) (bool, error) { return f.life.Ready(ctx) }

// Handle serves the websocket endpoint: GET /v1/realtime and GET /ws.
func (f *Gateway) Handle(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v1/realtime", "/ws":
	default:
		httpapi.WriteError(w, r, f.log, httpapi.NotFound("no such endpoint: the websocket is at /v1/realtime"))
		return
	}
	if r.Method != http.MethodGet {
		httpapi.WriteError(w, r, f.log, httpapi.MethodNotAllowed("GET"))
		return
	}
	u, err := f.life.Unit()
	if err != nil {
		httpapi.WriteError(w, r, f.log, httpapi.Unavailable("realtime-gateway is not ready").Wrap(err))
		return
	}
	u.gw.ServeHTTP(w, r)
}

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
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/functions/realtime-gateway/gateway"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/catalog"
	"github.com/nova-social/nova/shared/emitter"
	"github.com/nova-social/nova/shared/envelope"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/kafka"
	"github.com/nova-social/nova/shared/presence"
)

// Name is the function's name.
const Name = "realtime-gateway"

// Gateway is the function instance.
type Gateway struct {
	log *slog.Logger

	mu       sync.RWMutex
	gw       *gateway.Gateway
	rdb      *redis.Client
	producer *kafka.Producer
	stopRun  context.CancelFunc
	runDone  chan struct{}
}

// New returns an unstarted instance.
func New() *Gateway {
	return &Gateway{log: slog.Default().With("function", Name)}
}

// Config is read from the function's environment (func.yaml run.envs).
type Config struct {
	ID           string
	RedisURL     string
	KafkaBrokers []string
	Keys         auth.KeyConfig
	PingInterval time.Duration
	SendQueue    int
}

// ConfigFrom reads the configuration func-go passes to Start.
func ConfigFrom(env map[string]string) (Config, error) {
	c := Config{ID: env["GATEWAY_ID"], RedisURL: env["REDIS_URL"], Keys: auth.KeyConfigFromEnv(func(k string) string { return env[k] })}
	if c.RedisURL == "" {
		return c, errors.New("realtime-gateway: REDIS_URL is not set")
	}
	c.KafkaBrokers = kafka.ParseBrokers(env["KAFKA_BROKERS"])
	if len(c.KafkaBrokers) == 0 {
		return c, errors.New("realtime-gateway: KAFKA_BROKERS is not set")
	}
	if c.ID == "" {
		// Unique per process: a restarted replica must not inherit the
		// channel and presence entries of its previous life.
		host, _ := os.Hostname()
		c.ID = strings.Trim(host+"-"+strconv.FormatInt(time.Now().UnixNano(), 36), "-")
	}
	if v := env["GATEWAY_PING_INTERVAL"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return c, fmt.Errorf("realtime-gateway: GATEWAY_PING_INTERVAL=%q: %w", v, err)
		}
		c.PingInterval = d
	}
	if v := env["GATEWAY_SEND_QUEUE"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return c, fmt.Errorf("realtime-gateway: GATEWAY_SEND_QUEUE=%q: %w", v, err)
		}
		c.SendQueue = n
	}
	return c, c.Keys.Validate()
}

// Start connects to Redis and Kafka, loads the public keys and subscribes
// to the replica's push channel.
func (f *Gateway) Start(ctx context.Context, env map[string]string) (err error) {
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
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("realtime-gateway: REDIS_URL: %w", err)
	}
	rdb := redis.NewClient(opt)
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
		return err
	}
	if producer, err = kafka.NewProducer(kafka.DefaultProducerConfig(cfg.KafkaBrokers...)); err != nil {
		return fmt.Errorf("realtime-gateway: kafka: %w", err)
	}
	gw, err := gateway.New(gateway.Config{
		ID: cfg.ID, Redis: rdb, Presence: ps, Verifier: verifier, Logger: f.log,
		Emitter:      emitter.NewKafka(envelope.NewCodec(catalog.Default()), producer),
		PingInterval: cfg.PingInterval, SendQueue: cfg.SendQueue,
	})
	if err != nil {
		return err
	}
	sub, err := gw.Subscribe(ctx)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := gw.Run(rctx, sub); err != nil && !errors.Is(err, context.Canceled) {
			f.log.Error("push subscription stopped", "error", err)
		}
	}()
	f.mu.Lock()
	f.gw, f.rdb, f.producer, f.stopRun, f.runDone = gw, rdb, producer, cancel, done
	f.mu.Unlock()
	f.log.Info("gateway started", "gateway_id", cfg.ID)
	return nil
}

// Stop closes every connection (1001) and the clients.
func (f *Gateway) Stop(ctx context.Context) error {
	f.mu.Lock()
	gw, rdb, producer, cancel, done := f.gw, f.rdb, f.producer, f.stopRun, f.runDone
	f.gw, f.rdb, f.producer = nil, nil, nil
	f.mu.Unlock()
	if gw == nil {
		return nil
	}
	errs := []error{gw.Close(ctx)}
	cancel()
	<-done
	errs = append(errs, producer.Close(), rdb.Close())
	return errors.Join(errs...)
}

// Ready reports whether Redis answers.
func (f *Gateway) Ready(ctx context.Context) (bool, error) {
	f.mu.RLock()
	rdb := f.rdb
	f.mu.RUnlock()
	if rdb == nil {
		return false, nil
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		return false, fmt.Errorf("realtime-gateway: redis: %w", err)
	}
	return true, nil
}

// Handle serves the websocket endpoint: GET /v1/realtime and GET /ws.
func (f *Gateway) Handle(w http.ResponseWriter, r *http.Request) {
	f.mu.RLock()
	gw := f.gw
	f.mu.RUnlock()
	if gw == nil {
		httpapi.WriteError(w, r, f.log, httpapi.Unavailable("realtime-gateway is starting"))
		return
	}
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
	gw.ServeHTTP(w, r)
}

// Package function is the ranking Knative function (ranking-service's
// consumer of analytics-events, content-events and user-events). Handle
// decodes the event and hands it to package rank, which counts engagement
// and scores posts; a flusher started with the function announces the
// scores on ranking-updates, coalesced, and Stop flushes what is pending.
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
	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/functions/ranking/rank"
	"github.com/nova-social/nova/shared/envconf"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/emitter"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/eventfunc"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/lifecycle"
	"github.com/nova-social/nova/shared/redisdb"
)

// Ranking is the function instance.
type Ranking struct {
	*eventfunc.Function[*unit]
}

// New returns an unstarted instance.
func New() *Ranking {
	return &Ranking{eventfunc.New(catalog.Ranking, setup)}
}

// Config is read from the function's environment (func.yaml run.envs).
type Config struct {
	Redis        redisdb.Config
	KafkaBrokers []string
	// KafkaSecurity is TLS and SASL (KAFKA_TLS*, KAFKA_SASL_*).
	KafkaSecurity kafka.Security
	Rank          rank.Config
}

// ConfigFrom reads the configuration func-go passes to Start:
// REDIS_URL, KAFKA_BROKERS, and optionally RANKING_HALF_LIFE,
// RANKING_EMIT_INTERVAL, RANKING_FLUSH_EVERY (durations),
// RANKING_WEIGHT_LIKE / _COMMENT / _SHARE / _VIEW (numbers) and
// RANKING_KEY_PREFIX.
func ConfigFrom(env map[string]string) (Config, error) {
	e := envconf.New(env)
	c := Config{Redis: redisdb.FromEnv(env), Rank: rank.DefaultConfig(), KafkaBrokers: kafka.ParseBrokers(e.Required("KAFKA_BROKERS")),
		KafkaSecurity: kafka.SecurityFromEnv(env)}
	r := &c.Rank
	r.HalfLife = e.Duration("RANKING_HALF_LIFE", r.HalfLife)
	r.EmitInterval = e.Duration("RANKING_EMIT_INTERVAL", r.EmitInterval)
	r.FlushEvery = e.Duration("RANKING_FLUSH_EVERY", r.FlushEvery)
	r.Weights.Like = e.Float("RANKING_WEIGHT_LIKE", r.Weights.Like)
	r.Weights.Comment = e.Float("RANKING_WEIGHT_COMMENT", r.Weights.Comment)
	r.Weights.Share = e.Float("RANKING_WEIGHT_SHARE", r.Weights.Share)
	r.Weights.View = e.Float("RANKING_WEIGHT_VIEW", r.Weights.View)
	r.Prefix = e.String("RANKING_KEY_PREFIX", r.Prefix)
	if err := e.Err(); err != nil {
		return c, fmt.Errorf("ranking: %w", err)
	}
	if err := errors.Join(c.Redis.Validate(), c.KafkaSecurity.Validate(), c.Rank.Validate()); err != nil {
		return c, fmt.Errorf("ranking: %w", err)
	}
	return c, nil
}

// setup reads the configuration; opening connects to Redis and Kafka and
// starts the flusher.
func setup(env map[string]string, log *slog.Logger) (lifecycle.Open[*unit], error) {
	cfg, err := ConfigFrom(env)
	if err != nil {
		return nil, err
	}
	codec := envelope.NewCodec(catalog.Default()).ForConsumer(catalog.Ranking)
	return func(ctx context.Context) (*unit, error) {
		rdb, err := redisdb.Open(ctx, cfg.Redis)
		if err != nil {
			return nil, err
		}
		pcfg := kafka.DefaultProducerConfig(cfg.KafkaBrokers...)
		pcfg.Security = cfg.KafkaSecurity
		producer, err := kafka.NewProducer(pcfg)
		if err != nil {
			rdb.Close()
			return nil, fmt.Errorf("kafka: %w", err)
		}
		ranker, err := rank.NewRanker(rdb, emitter.NewKafka(codec, producer), cfg.Rank, log)
		if err != nil {
			producer.Close()
			rdb.Close()
			return nil, err
		}
		// The flusher outlives ctx, which bounds only this attempt.
		runCtx, cancel := context.WithCancel(context.Background())
		u := &unit{rdb: rdb, producer: producer, codec: codec, ranker: ranker, log: log, cancel: cancel, done: make(chan struct{})}
		go func() {
			defer close(u.done)
			ranker.Run(runCtx)
		}()
		return u, nil
	}, nil
}

type unit struct {
	rdb      *redis.Client
	producer *kafka.Producer
	codec    *envelope.Codec
	ranker   *rank.Ranker
	log      *slog.Logger
	cancel   context.CancelFunc
	done     chan struct{}
}

// Receive counts one event.
func (u *unit) Receive(ctx context.Context, e event.Event) error {
	return delivery.Apply(ctx, u.codec, e, u.ranker.React)
}

// Ping reports whether Redis answers.
func (u *unit) Ping(ctx context.Context) error { return u.rdb.Ping(ctx).Err() }

// Close stops the flusher, emits every pending score (so a scale-down
// leaves nothing waiting for a lease to end), and closes the connections.
func (u *unit) Close(ctx context.Context) error {
	u.cancel()
	select {
	case <-u.done:
	case <-ctx.Done():
		// Out of time: what is pending stays in Redis for the replica
		// that takes the lease next.
		return errors.Join(fmt.Errorf("ranking: the flusher did not stop: %w", ctx.Err()), u.producer.Close(), u.rdb.Close())
	}
	var errs []error
	if n, err := u.ranker.Flush(ctx, true); err != nil {
		errs = append(errs, err)
	} else if n > 0 {
		u.log.InfoContext(ctx, "pending scores flushed on stop", "emitted", n)
	}
	return errors.Join(append(errs, u.producer.Close(), u.rdb.Close())...)
}

// Package function is the ranking Knative function (ranking-service's
// consumer of analytics-events, content-events and user-events). Handle
// decodes the event and hands it to package rank, which counts engagement
// and scores posts; a flusher started with the function announces the
// scores on ranking-updates, coalesced, and Stop flushes what is pending.
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
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/functions/ranking/rank"
	"github.com/nova-social/nova/shared/catalog"
	"github.com/nova-social/nova/shared/delivery"
	"github.com/nova-social/nova/shared/emitter"
	"github.com/nova-social/nova/shared/envelope"
	"github.com/nova-social/nova/shared/kafka"
)

// Ranking is the function instance.
type Ranking struct {
	log   *slog.Logger
	codec *envelope.Codec

	mu       sync.RWMutex
	rdb      *redis.Client
	producer *kafka.Producer
	ranker   *rank.Ranker
	cancel   context.CancelFunc
	done     chan struct{}
}

// New returns an unstarted instance.
func New() *Ranking {
	return &Ranking{
		log:   slog.Default().With("function", catalog.Ranking),
		codec: envelope.NewCodec(catalog.Default()),
	}
}

var errNotStarted = errors.New("ranking: not started")

// Config is read from the function's environment (func.yaml run.envs).
type Config struct {
	RedisURL     string
	KafkaBrokers []string
	Rank         rank.Config
}

// ConfigFrom reads the configuration func-go passes to Start:
// REDIS_URL, KAFKA_BROKERS, and optionally RANKING_HALF_LIFE,
// RANKING_EMIT_INTERVAL, RANKING_FLUSH_EVERY (durations),
// RANKING_WEIGHT_LIKE / _COMMENT / _SHARE / _VIEW (numbers) and
// RANKING_KEY_PREFIX.
func ConfigFrom(env map[string]string) (Config, error) {
	c := Config{RedisURL: env["REDIS_URL"], Rank: rank.DefaultConfig()}
	if c.RedisURL == "" {
		return c, errors.New("ranking: REDIS_URL is not set")
	}
	c.KafkaBrokers = kafka.ParseBrokers(env["KAFKA_BROKERS"])
	if len(c.KafkaBrokers) == 0 {
		return c, errors.New("ranking: KAFKA_BROKERS is not set")
	}
	durations := map[string]*time.Duration{"RANKING_HALF_LIFE": &c.Rank.HalfLife,
		"RANKING_EMIT_INTERVAL": &c.Rank.EmitInterval, "RANKING_FLUSH_EVERY": &c.Rank.FlushEvery}
	for name, dst := range durations {
		if v := env[name]; v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return c, fmt.Errorf("ranking: %s=%q: %w", name, v, err)
			}
			*dst = d
		}
	}
	weights := map[string]*float64{"RANKING_WEIGHT_LIKE": &c.Rank.Weights.Like, "RANKING_WEIGHT_COMMENT": &c.Rank.Weights.Comment,
		"RANKING_WEIGHT_SHARE": &c.Rank.Weights.Share, "RANKING_WEIGHT_VIEW": &c.Rank.Weights.View}
	for name, dst := range weights {
		if v := env[name]; v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return c, fmt.Errorf("ranking: %s=%q: %w", name, v, err)
			}
			*dst = f
		}
	}
	if v := env["RANKING_KEY_PREFIX"]; v != "" {
		c.Rank.Prefix = v
	}
	return c, c.Rank.Validate()
}

// Start connects to Redis and Kafka and starts the flusher.
func (f *Ranking) Start(ctx context.Context, env map[string]string) error {
	cfg, err := ConfigFrom(env)
	if err != nil {
		return err
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("ranking: REDIS_URL: %w", err)
	}
	rdb := redis.NewClient(opt)
	producer, err := kafka.NewProducer(kafka.DefaultProducerConfig(cfg.KafkaBrokers...))
	if err != nil {
		rdb.Close()
		return fmt.Errorf("ranking: kafka: %w", err)
	}
	ranker, err := rank.NewRanker(rdb, emitter.NewKafka(f.codec, producer), cfg.Rank, f.log)
	if err != nil {
		producer.Close()
		rdb.Close()
		return err
	}
	// The flusher outlives Start's ctx, which ends when start-up does.
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ranker.Run(runCtx)
	}()
	f.mu.Lock()
	f.rdb, f.producer, f.ranker, f.cancel, f.done = rdb, producer, ranker, cancel, done
	f.mu.Unlock()
	return nil
}

// Stop stops the flusher, emits every pending score (so a scale-down leaves
// nothing waiting for a lease to end), and closes the connections.
func (f *Ranking) Stop(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	if f.cancel != nil {
		f.cancel()
		<-f.done
		if n, err := f.ranker.Flush(ctx, true); err != nil {
			errs = append(errs, err)
		} else if n > 0 {
			f.log.InfoContext(ctx, "pending scores flushed on stop", "emitted", n)
		}
	}
	if f.producer != nil {
		errs = append(errs, f.producer.Close())
	}
	if f.rdb != nil {
		errs = append(errs, f.rdb.Close())
	}
	f.rdb, f.producer, f.ranker, f.cancel, f.done = nil, nil, nil, nil, nil
	return errors.Join(errs...)
}

// Ready reports whether Redis answers.
func (f *Ranking) Ready(ctx context.Context) (bool, error) {
	f.mu.RLock()
	rdb := f.rdb
	f.mu.RUnlock()
	if rdb == nil {
		return false, nil
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		return false, fmt.Errorf("ranking: redis: %w", err)
	}
	return true, nil
}

// Handle counts one event. Its error is a protocol result: 4xx for an event
// that can never be applied (dead-lettered at once), 5xx for one that may
// succeed on retry.
func (f *Ranking) Handle(ctx context.Context, e event.Event) error {
	f.mu.RLock()
	r := f.ranker
	f.mu.RUnlock()
	if r == nil {
		return delivery.Result(errNotStarted)
	}
	return delivery.Handle(ctx, f.codec, e, r.React, f.log)
}

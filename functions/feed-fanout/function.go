// Package function is the feed-fanout Knative function (feed-service's
// consumer of content-events, user-events and ranking-updates). Handle
// decodes the event and hands it to package fanout, which does the work.
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

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/functions/feed-fanout/fanout"
	"github.com/nova-social/nova/shared/catalog"
	"github.com/nova-social/nova/shared/delivery"
	"github.com/nova-social/nova/shared/emitter"
	"github.com/nova-social/nova/shared/envelope"
	"github.com/nova-social/nova/shared/feed"
	"github.com/nova-social/nova/shared/kafka"
)

// FeedFanout is the function instance.
type FeedFanout struct {
	log *slog.Logger

	mu       sync.RWMutex
	codec    *envelope.Codec
	rdb      *redis.Client
	producer *kafka.Producer
	reactor  *fanout.Reactor
}

// New returns an unstarted instance.
func New() *FeedFanout {
	return &FeedFanout{log: slog.Default().With("function", catalog.FeedFanout)}
}

var errNotStarted = errors.New("feed-fanout: not started")

// Config is read from the function's environment (func.yaml run.envs).
type Config struct {
	RedisURL     string
	KafkaBrokers []string
	Feed         feed.Config
	// Catalog names the topics (KAFKA_TOPIC_CONTENT_EVENTS renames one).
	Catalog *catalog.Catalog
}

// ConfigFrom reads the configuration func-go passes to Start.
func ConfigFrom(env map[string]string) (Config, error) {
	c := Config{RedisURL: env["REDIS_URL"], Feed: feed.DefaultConfig()}
	var err error
	if c.Catalog, err = catalog.FromEnv(env); err != nil {
		return c, fmt.Errorf("feed-fanout: %w", err)
	}
	if c.RedisURL == "" {
		return c, errors.New("feed-fanout: REDIS_URL is not set")
	}
	c.KafkaBrokers = kafka.ParseBrokers(env["KAFKA_BROKERS"])
	if len(c.KafkaBrokers) == 0 {
		return c, errors.New("feed-fanout: KAFKA_BROKERS is not set")
	}
	ints := map[string]*int{"FEED_CAP": &c.Feed.Cap, "FEED_BATCH_SIZE": &c.Feed.BatchSize, "FEED_BACKFILL_LIMIT": &c.Feed.BackfillLimit}
	for name, dst := range ints {
		if v := env[name]; v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return c, fmt.Errorf("feed-fanout: %s=%q: %w", name, v, err)
			}
			*dst = n
		}
	}
	if v := env["FEED_CELEBRITY_THRESHOLD"]; v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return c, fmt.Errorf("feed-fanout: FEED_CELEBRITY_THRESHOLD=%q: %w", v, err)
		}
		c.Feed.CelebrityThreshold = n
	}
	return c, c.Feed.Validate()
}

// Start connects to Redis and Kafka.
func (f *FeedFanout) Start(ctx context.Context, env map[string]string) error {
	cfg, err := ConfigFrom(env)
	if err != nil {
		return err
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("feed-fanout: REDIS_URL: %w", err)
	}
	rdb := redis.NewClient(opt)
	store, err := feed.NewStore(rdb, cfg.Feed)
	if err != nil {
		rdb.Close()
		return err
	}
	producer, err := kafka.NewProducer(kafka.DefaultProducerConfig(cfg.KafkaBrokers...))
	if err != nil {
		rdb.Close()
		return fmt.Errorf("feed-fanout: kafka: %w", err)
	}
	codec := envelope.NewCodec(cfg.Catalog)
	f.mu.Lock()
	f.codec, f.rdb, f.producer = codec, rdb, producer
	f.reactor = fanout.NewReactor(store, emitter.NewKafka(codec, producer), f.log)
	f.mu.Unlock()
	return nil
}

// Stop closes the connections.
func (f *FeedFanout) Stop(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	if f.producer != nil {
		errs = append(errs, f.producer.Close())
	}
	if f.rdb != nil {
		errs = append(errs, f.rdb.Close())
	}
	f.rdb, f.producer, f.reactor = nil, nil, nil
	return errors.Join(errs...)
}

// Ready reports whether Redis answers.
func (f *FeedFanout) Ready(ctx context.Context) (bool, error) {
	f.mu.RLock()
	rdb := f.rdb
	f.mu.RUnlock()
	if rdb == nil {
		return false, nil
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		return false, fmt.Errorf("feed-fanout: redis: %w", err)
	}
	return true, nil
}

// Handle applies one event to the feeds. Its error is a protocol result:
// 4xx for an event that can never be applied (dead-lettered at once), 5xx
// for one that may succeed on retry.
func (f *FeedFanout) Handle(ctx context.Context, e event.Event) error {
	f.mu.RLock()
	r, codec := f.reactor, f.codec
	f.mu.RUnlock()
	if r == nil {
		return delivery.Result(errNotStarted)
	}
	return delivery.Handle(ctx, codec, e, r.React, f.log)
}

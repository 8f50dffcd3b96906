// Package function is the feed-fanout Knative function (feed-service's
// consumer of content-events, user-events and ranking-updates). Handle
// decodes the event and hands it to package fanout, which does the work.
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

	"github.com/nova-social/nova/functions/feed-fanout/fanout"
	"github.com/nova-social/nova/shared/domain/feed"
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

// FeedFanout is the function instance.
type FeedFanout struct {
	*eventfunc.Function[*unit]
}

// New returns an unstarted instance.
func New() *FeedFanout {
	return &FeedFanout{eventfunc.New(catalog.FeedFanout, setup)}
}

// Config is read from the function's environment (func.yaml run.envs).
type Config struct {
	Redis        redisdb.Config
	KafkaBrokers []string
	// KafkaSecurity is TLS and SASL (KAFKA_TLS*, KAFKA_SASL_*).
	KafkaSecurity kafka.Security
	Feed          feed.Config
	// Catalog names the topics (KAFKA_TOPIC_CONTENT_EVENTS renames one).
	Catalog *catalog.Catalog
}

// ConfigFrom reads the configuration func-go passes to Start.
func ConfigFrom(env map[string]string) (Config, error) {
	e := envconf.New(env)
	c := Config{Redis: redisdb.FromEnv(env), KafkaBrokers: kafka.ParseBrokers(e.Required("KAFKA_BROKERS")),
		KafkaSecurity: kafka.SecurityFromEnv(env)}
	var catErr, feedErr error
	c.Catalog, catErr = catalog.FromEnv(env)
	c.Feed, feedErr = feed.ConfigFromEnv(env)
	if err := errors.Join(e.Err(), c.Redis.Validate(), c.KafkaSecurity.Validate(), catErr, feedErr); err != nil {
		return c, fmt.Errorf("feed-fanout: %w", err)
	}
	return c, nil
}

// setup reads the configuration; opening connects to Redis and Kafka.
func setup(env map[string]string, log *slog.Logger) (lifecycle.Open[*unit], error) {
	cfg, err := ConfigFrom(env)
	if err != nil {
		return nil, err
	}
	codec := envelope.NewCodec(cfg.Catalog).ForConsumer(catalog.FeedFanout)
	return func(ctx context.Context) (_ *unit, err error) {
		rdb, err := redisdb.Open(ctx, cfg.Redis)
		if err != nil {
			return nil, err
		}
		store, err := feed.NewStore(rdb, cfg.Feed)
		if err != nil {
			rdb.Close()
			return nil, err
		}
		pcfg := kafka.DefaultProducerConfig(cfg.KafkaBrokers...)
		pcfg.Security = cfg.KafkaSecurity
		producer, err := kafka.NewProducer(pcfg)
		if err != nil {
			rdb.Close()
			return nil, fmt.Errorf("kafka: %w", err)
		}
		return &unit{rdb: rdb, producer: producer, codec: codec,
			reactor: fanout.NewReactor(store, emitter.NewKafka(codec, producer), log)}, nil
	}, nil
}

type unit struct {
	rdb      *redis.Client
	producer *kafka.Producer
	codec    *envelope.Codec
	reactor  *fanout.Reactor
}

// Receive applies one event to the feeds.
func (u *unit) Receive(ctx context.Context, e event.Event) error {
	return delivery.Apply(ctx, u.codec, e, u.reactor.React)
}

// Ping reports whether Redis answers.
func (u *unit) Ping(ctx context.Context) error { return u.rdb.Ping(ctx).Err() }

// Close closes the producer (after what it holds is sent) and Redis.
func (u *unit) Close(context.Context) error {
	return errors.Join(u.producer.Close(), u.rdb.Close())
}

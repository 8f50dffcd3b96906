// Package function is the analytics Knative function (analytics-service's
// consumer of analytics-events, content-events and user-events). Handle
// decodes the event and hands it to shared/analytics's Recorder, which
// counts it exactly once in the tables nova-api's GET /v1/analytics/...
// and its Prometheus export read; the schema, its writer and its readers
// live together in that package.
//
// kn func builds it with a scaffold whose main calls
// knative.dev/func-go/cloudevents.Start(New()).
package function

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/analytics"
	"github.com/nova-social/nova/shared/catalog"
	"github.com/nova-social/nova/shared/delivery"
	"github.com/nova-social/nova/shared/envelope"
	"github.com/nova-social/nova/shared/migrate"
)

// Analytics is the function instance.
type Analytics struct {
	log   *slog.Logger
	codec *envelope.Codec

	mu       sync.RWMutex
	pool     *pgxpool.Pool
	recorder *analytics.Recorder
}

// New returns an unstarted instance.
func New() *Analytics {
	return &Analytics{
		log:   slog.Default().With("function", catalog.Analytics),
		codec: envelope.NewCodec(catalog.Default()),
	}
}

// errNotStarted answers events that arrive before Start finished; as a 5xx
// the source retries them.
var errNotStarted = errors.New("analytics: not started")

// Start connects to DATABASE_URL and applies the analytics migrations (the
// same ones nova-api applies; whichever starts first creates the tables).
func (s *Analytics) Start(ctx context.Context, env map[string]string) error {
	pool, err := migrate.Open(ctx, env["DATABASE_URL"], analytics.Migrate)
	if err != nil {
		return fmt.Errorf("analytics: %w", err)
	}
	s.mu.Lock()
	s.pool, s.recorder = pool, analytics.NewRecorder(pool, nil)
	s.mu.Unlock()
	return nil
}

// Stop closes the pool.
func (s *Analytics) Stop(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pool != nil {
		s.pool.Close()
	}
	s.pool, s.recorder = nil, nil
	return nil
}

// Ready reports whether PostgreSQL answers.
func (s *Analytics) Ready(ctx context.Context) (bool, error) {
	s.mu.RLock()
	pool := s.pool
	s.mu.RUnlock()
	if pool == nil {
		return false, nil
	}
	if err := pool.Ping(ctx); err != nil {
		return false, fmt.Errorf("analytics: database: %w", err)
	}
	return true, nil
}

// Handle counts one event (a redelivered one changes nothing). Its error
// is a protocol result: 4xx for an event that can never be counted
// (dead-lettered at once), 5xx for one that may succeed on retry.
func (s *Analytics) Handle(ctx context.Context, e event.Event) error {
	s.mu.RLock()
	rec := s.recorder
	s.mu.RUnlock()
	if rec == nil {
		return delivery.Result(errNotStarted)
	}
	return delivery.Handle(ctx, s.codec, e, func(ctx context.Context, d envelope.Decoded) error {
		_, err := rec.Record(ctx, d)
		return err
	}, s.log)
}

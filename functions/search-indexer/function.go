// Package function is the search-indexer Knative function (search-service's
// consumer of content-events and user-events). Handle decodes the event and
// hands it to shared/search's Indexer, which keeps the index nova-api's
// GET /v1/search reads; the schema, its writer and its reader live together
// in that package.
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

	"github.com/nova-social/nova/shared/catalog"
	"github.com/nova-social/nova/shared/delivery"
	"github.com/nova-social/nova/shared/envelope"
	"github.com/nova-social/nova/shared/migrate"
	"github.com/nova-social/nova/shared/search"
)

// SearchIndexer is the function instance.
type SearchIndexer struct {
	log   *slog.Logger
	codec *envelope.Codec

	mu      sync.RWMutex
	pool    *pgxpool.Pool
	indexer *search.Indexer
}

// New returns an unstarted instance.
func New() *SearchIndexer {
	return &SearchIndexer{
		log:   slog.Default().With("function", catalog.SearchIndexer),
		codec: envelope.NewCodec(catalog.Default()),
	}
}

// errNotStarted answers events that arrive before Start finished; as a 5xx
// the source retries them.
var errNotStarted = errors.New("search-indexer: not started")

// Start connects to DATABASE_URL and applies the search migrations (the
// same ones nova-api applies; whichever starts first creates the tables).
func (s *SearchIndexer) Start(ctx context.Context, env map[string]string) error {
	pool, err := migrate.Open(ctx, env["DATABASE_URL"], search.Migrate)
	if err != nil {
		return fmt.Errorf("search-indexer: %w", err)
	}
	s.mu.Lock()
	s.pool, s.indexer = pool, search.NewIndexer(pool, s.log)
	s.mu.Unlock()
	return nil
}

// Stop closes the pool.
func (s *SearchIndexer) Stop(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pool != nil {
		s.pool.Close()
	}
	s.pool, s.indexer = nil, nil
	return nil
}

// Ready reports whether PostgreSQL answers.
func (s *SearchIndexer) Ready(ctx context.Context) (bool, error) {
	s.mu.RLock()
	pool := s.pool
	s.mu.RUnlock()
	if pool == nil {
		return false, nil
	}
	if err := pool.Ping(ctx); err != nil {
		return false, fmt.Errorf("search-indexer: database: %w", err)
	}
	return true, nil
}

// Handle applies one event to the index. Its error is a protocol result:
// 4xx for an event that can never be applied (dead-lettered at once), 5xx
// for one that may succeed on retry.
func (s *SearchIndexer) Handle(ctx context.Context, e event.Event) error {
	s.mu.RLock()
	ix := s.indexer
	s.mu.RUnlock()
	if ix == nil {
		return delivery.Result(errNotStarted)
	}
	return delivery.Handle(ctx, s.codec, e, ix.Apply, s.log)
}

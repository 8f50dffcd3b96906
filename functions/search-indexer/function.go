// Package function is the search-indexer Knative function (search-service's
// consumer of content-events and user-events). Each event goes to
// shared/domain/search's Indexer, which keeps the index nova-api's GET /v1/search
// reads; the schema, its writer and its reader live together in that
// package.
//
// kn func builds it with a scaffold whose main calls
// knative.dev/func-go/http.Start(New()) (func.yaml invoke: http; see
// shared/event/eventfunc for why).
package function

import (
	"context"
	"log/slog"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/domain/search"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/eventfunc"
	"github.com/nova-social/nova/shared/lifecycle"
	"github.com/nova-social/nova/shared/migrate"
	"github.com/nova-social/nova/shared/postgres"
)

// SearchIndexer is the function instance.
type SearchIndexer struct {
	*eventfunc.Function[*unit]
}

// New returns an unstarted instance.
func New() *SearchIndexer {
	return &SearchIndexer{eventfunc.New(catalog.SearchIndexer, setup)}
}

// setup reads DATABASE_URL (and PGPASSWORD); opening connects and applies
// the search migrations.
func setup(env map[string]string, log *slog.Logger) (lifecycle.Open[*unit], error) {
	db := postgres.FromEnv(env)
	if err := db.Validate(); err != nil {
		return nil, err
	}
	codec := envelope.NewCodec(catalog.Default()).ForConsumer(catalog.SearchIndexer)
	return func(ctx context.Context) (*unit, error) {
		pool, err := migrate.Open(ctx, db, search.Migrate)
		if err != nil {
			return nil, err
		}
		return &unit{pool: pool, codec: codec, indexer: search.NewIndexer(pool, log)}, nil
	}, nil
}

type unit struct {
	pool    *pgxpool.Pool
	codec   *envelope.Codec
	indexer *search.Indexer
}

// Receive applies one event to the index.
func (u *unit) Receive(ctx context.Context, e event.Event) error {
	return delivery.Apply(ctx, u.codec, e, u.indexer.Apply)
}

func (u *unit) Ping(ctx context.Context) error { return u.pool.Ping(ctx) }
func (u *unit) Close(context.Context) error    { u.pool.Close(); return nil }

package api

import (
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/domain/analytics"
	"github.com/nova-social/nova/shared/domain/search"
	"github.com/nova-social/nova/shared/httpapi"
)

// mountSearchAndAnalytics serves the read side of two event-fed stores:
// GET /v1/search from the index the search-indexer function keeps, and
// GET /v1/analytics/... from the counters the analytics function keeps.
// nova-api writes neither; it applies their migrations so the routes work
// whichever process starts first.
func mountSearchAndAnalytics(mux httpapi.Router, authed func(http.Handler) http.Handler, pool *pgxpool.Pool, blocks search.BlockGraph, log *slog.Logger) error {
	finder, err := search.New(search.Config{Pool: pool, Logger: log, Blocks: blocks})
	if err != nil {
		return err
	}
	finder.Mount(mux, authed)
	counters, err := analytics.New(analytics.Config{Pool: pool, Logger: log})
	if err != nil {
		return err
	}
	counters.Mount(mux, authed)
	return nil
}

package api

import (
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/domain/moderation"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/httpapi"
)

// mountModeration serves trust-safety's review queue (admins only).
func mountModeration(mux httpapi.Router, authed func(http.Handler) http.Handler, pool *pgxpool.Pool, ob *outbox.Outbox, log *slog.Logger) error {
	svc, err := moderation.New(moderation.Config{Pool: pool, Outbox: ob, Logger: log})
	if err != nil {
		return err
	}
	svc.Mount(mux, authed)
	return nil
}

// Package function is the dead-letter Knative function: the deadLetterSink
// of every KafkaSource. It stores each event it receives (package store) so
// a failed delivery is never lost without a trace.
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

	"github.com/nova-social/nova/functions/dead-letter/store"
	"github.com/nova-social/nova/shared/migrate"
)

// DeadLetter is the function instance.
type DeadLetter struct {
	log *slog.Logger

	mu    sync.RWMutex
	pool  *pgxpool.Pool
	store *store.Store
}

// New returns an unstarted instance.
func New() *DeadLetter {
	// slog.Default: the process's logger, set by whatever main hosts the
	// function (the kn func scaffold or nova run).
	return &DeadLetter{log: slog.Default().With("function", "dead-letter")}
}

// errNotStarted answers events that arrive before Start finished; func-go
// turns it into a 5xx, which the dispatcher retries.
var errNotStarted = errors.New("dead-letter: not started")

// Start connects to DATABASE_URL and applies the store's migrations.
func (d *DeadLetter) Start(ctx context.Context, cfg map[string]string) error {
	pool, err := migrate.Open(ctx, cfg["DATABASE_URL"], store.Migrate)
	if err != nil {
		return fmt.Errorf("dead-letter: %w", err)
	}
	d.mu.Lock()
	d.pool, d.store = pool, store.New(pool)
	d.mu.Unlock()
	return nil
}

// Stop closes the database pool.
func (d *DeadLetter) Stop(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pool != nil {
		d.pool.Close()
		d.pool, d.store = nil, nil
	}
	return nil
}

// Ready reports whether the store is reachable; until then the dispatcher
// holds back.
func (d *DeadLetter) Ready(ctx context.Context) (bool, error) {
	d.mu.RLock()
	pool := d.pool
	d.mu.RUnlock()
	if pool == nil {
		return false, nil
	}
	if err := pool.Ping(ctx); err != nil {
		return false, fmt.Errorf("dead-letter: database: %w", err)
	}
	return true, nil
}

// Handle stores one dead-lettered event. A failure to store is returned, so
// the delivery is retried rather than acknowledged and lost.
func (d *DeadLetter) Handle(ctx context.Context, e event.Event) error {
	d.mu.RLock()
	s := d.store
	d.mu.RUnlock()
	if s == nil {
		return errNotStarted
	}
	saved, err := s.Save(ctx, e)
	if err != nil {
		return err
	}
	ent := store.EntryFromEvent(e)
	if saved {
		d.log.WarnContext(ctx, "dead letter stored", "source", ent.Source, "id", ent.ID, "type", ent.Type,
			"topic", ent.Topic, "code", ent.ErrorCode, "dest", ent.ErrorDest, "error", ent.ErrorData)
	}
	return nil
}

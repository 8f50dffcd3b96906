// Package function is the dead-letter Knative function: the deadLetterSink
// of every KafkaSource. It stores each event it receives (package store) so
// a failed delivery is never lost without a trace.
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

	"github.com/nova-social/nova/functions/dead-letter/store"
	"github.com/nova-social/nova/shared/event/eventfunc"
	"github.com/nova-social/nova/shared/event/sender"
	"github.com/nova-social/nova/shared/lifecycle"
	"github.com/nova-social/nova/shared/migrate"
	"github.com/nova-social/nova/shared/postgres"
	"github.com/nova-social/nova/shared/telemetry"
)

// DeadLetter is the function instance.
type DeadLetter struct {
	*eventfunc.Function[*unit]
}

// New returns an unstarted instance.
func New() *DeadLetter {
	return &DeadLetter{eventfunc.New("dead-letter", setup)}
}

// setup reads DATABASE_URL (and PGPASSWORD); opening connects and applies
// the store's migrations.
func setup(env map[string]string, log *slog.Logger) (lifecycle.Open[*unit], error) {
	db := postgres.FromEnv(env)
	if err := db.Validate(); err != nil {
		return nil, err
	}
	return func(ctx context.Context) (*unit, error) {
		pool, err := migrate.Open(ctx, db, store.Migrate)
		if err != nil {
			return nil, err
		}
		st := store.New(pool)
		m, err := newMetrics(telemetry.MeterProviderFrom(ctx), st)
		if err != nil {
			pool.Close()
			return nil, err
		}
		return &unit{pool: pool, store: st, metrics: m, log: log}, nil
	}, nil
}

type unit struct {
	pool    *pgxpool.Pool
	store   *store.Store
	metrics *metrics
	log     *slog.Logger
}

// Receive stores one dead-lettered event, whatever it holds. A failure to
// store is returned, so the delivery is retried rather than acknowledged
// and lost. The topic, partition and offset an event names (what `nova
// replay` publishes it back to) are kept only when a dispatcher, a
// KafkaSource or a Trigger by its verified token, sent it; from anyone
// else (authentication off) the entry is kept for the record but cannot
// be replayed.
func (u *unit) Receive(ctx context.Context, e event.Event) error {
	id, verified := sender.FromContext(ctx)
	fromDispatcher := verified && (id.Sender.Kind == sender.KindKafkaSource || id.Sender.Kind == sender.KindTrigger)
	save, entry := u.store.SaveUntrusted, store.UntrustedEntry
	if fromDispatcher {
		save, entry = u.store.Save, store.EntryFromEvent
	}
	saved, err := save(ctx, e)
	if err != nil {
		return err
	}
	if saved {
		ent := entry(e)
		u.metrics.storedOne(ctx, ent, fromDispatcher)
		u.log.WarnContext(ctx, "dead letter stored", "source", ent.Source, "id", ent.ID, "type", ent.Type,
			"topic", ent.Topic, "code", ent.ErrorCode, "dest", ent.ErrorDest, "error", ent.ErrorData)
	}
	return nil
}

func (u *unit) Ping(ctx context.Context) error { return u.pool.Ping(ctx) }
func (u *unit) Close(context.Context) error {
	err := u.metrics.close()
	u.pool.Close()
	return err
}

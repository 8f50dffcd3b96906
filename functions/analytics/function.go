// Package function is the analytics Knative function (analytics-service's
// consumer of analytics-events, content-events and user-events). Each event
// goes to shared/domain/analytics's Recorder, which counts it exactly once in the
// tables nova-api's GET /v1/analytics/... and its Prometheus export read;
// the schema, its writer and its readers live together in that package.
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

	"github.com/nova-social/nova/shared/domain/analytics"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/eventfunc"
	"github.com/nova-social/nova/shared/lifecycle"
	"github.com/nova-social/nova/shared/migrate"
	"github.com/nova-social/nova/shared/postgres"
)

// Analytics is the function instance.
type Analytics struct {
	*eventfunc.Function[*unit]
}

// New returns an unstarted instance.
func New() *Analytics {
	return &Analytics{eventfunc.New(catalog.Analytics, setup)}
}

// setup reads DATABASE_URL (and PGPASSWORD); opening connects and applies
// the analytics migrations (the same ones nova-api applies; whichever
// starts first creates the tables).
func setup(env map[string]string, _ *slog.Logger) (lifecycle.Open[*unit], error) {
	db := postgres.FromEnv(env)
	if err := db.Validate(); err != nil {
		return nil, err
	}
	codec := envelope.NewCodec(catalog.Default()).ForConsumer(catalog.Analytics)
	return func(ctx context.Context) (*unit, error) {
		pool, err := migrate.Open(ctx, db, analytics.Migrate)
		if err != nil {
			return nil, err
		}
		return &unit{pool: pool, codec: codec, recorder: analytics.NewRecorder(pool, nil)}, nil
	}, nil
}

type unit struct {
	pool     *pgxpool.Pool
	codec    *envelope.Codec
	recorder *analytics.Recorder
}

// Receive counts one event; a redelivered one changes nothing.
func (u *unit) Receive(ctx context.Context, e event.Event) error {
	return delivery.Apply(ctx, u.codec, e, func(ctx context.Context, d envelope.Decoded) error {
		_, err := u.recorder.Record(ctx, d)
		return err
	})
}

func (u *unit) Ping(ctx context.Context) error { return u.pool.Ping(ctx) }
func (u *unit) Close(context.Context) error    { u.pool.Close(); return nil }

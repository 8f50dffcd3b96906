package outbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/postgres"
	"github.com/nova-social/nova/shared/redisdb"
	"github.com/nova-social/nova/shared/testrig"
)

func TestBackendPublishesWhatIsEnqueuedAndCloses(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	var migrated bool
	b, err := outbox.OpenBackend(ctx, outbox.BackendConfig{
		Name: "fn", Database: postgres.Config{URL: f.dsn}, Brokers: f.kafka.ListenAddrs(), Logger: f.quiet,
		Topics: []string{catalog.ContentEvents},
		Redis:  redisdb.Config{URL: testrig.RedisURL(t)},
		Migrations: []func(context.Context, *pgxpool.Pool) error{func(context.Context, *pgxpool.Pool) error {
			migrated = true
			return nil
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !migrated {
		t.Error("the function's migration did not run")
	}
	if err := b.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Redis.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis not opened: %v", err)
	}
	c := f.consume(t, catalog.ContentEvents)
	id := f.enqueue(t, post(user("ann"), 1))
	if r := c.until(t, 1)[0]; r.ID != id {
		t.Fatalf("published %s, want %s", r.ID, id)
	}
	eventually(t, "the outbox row removed once acknowledged", func() bool { return f.pending(t) == 0 })
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Pool.Ping(ctx); err == nil {
		t.Error("the pool still answers after Close")
	}
	if err := b.Redis.Ping(ctx).Err(); err == nil {
		t.Error("Redis still answers after Close")
	}
}

func TestBackendRefusesMissingSettingsAndCleansUpAfterFailure(t *testing.T) {
	ctx := context.Background()
	_, err := outbox.OpenBackend(ctx, outbox.BackendConfig{Name: "fn"})
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") || !strings.Contains(err.Error(), "KAFKA_BROKERS") ||
		!strings.Contains(err.Error(), "no topics") {
		t.Fatalf("got %v, want both settings and the missing topics named", err)
	}
	f := setup(t)
	_, err = outbox.OpenBackend(ctx, outbox.BackendConfig{
		Name: "fn", Database: postgres.Config{URL: f.dsn}, Brokers: f.kafka.ListenAddrs(), Topics: []string{catalog.ContentEvents},
		Redis: redisdb.Config{URL: "http://not-redis"},
	})
	if err == nil || !strings.HasPrefix(err.Error(), "fn: REDIS_URL:") {
		t.Fatalf("bad REDIS_URL: %v", err)
	}
	boom := errors.New("boom")
	_, err = outbox.OpenBackend(ctx, outbox.BackendConfig{
		Name: "fn", Database: postgres.Config{URL: f.dsn}, Brokers: f.kafka.ListenAddrs(), Topics: []string{catalog.ContentEvents},
		Migrations: []func(context.Context, *pgxpool.Pool) error{func(context.Context, *pgxpool.Pool) error { return boom }},
	})
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "fn: migrations:") {
		t.Fatalf("got %v, want the migration's error, named", err)
	}
}

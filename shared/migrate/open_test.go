package migrate_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/migrate"
	"github.com/nova-social/nova/shared/postgres"
	"github.com/nova-social/nova/shared/testrig"
)

func TestOpenRunsMigrationsInOrder(t *testing.T) {
	ctx := context.Background()
	var order []string
	step := func(name string) func(context.Context, *pgxpool.Pool) error {
		return func(ctx context.Context, p *pgxpool.Pool) error {
			order = append(order, name)
			return p.Ping(ctx)
		}
	}
	pool, err := migrate.Open(ctx, postgres.Config{URL: testrig.PostgresURL(t)}, step("outbox"), step("content"))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if strings.Join(order, ",") != "outbox,content" {
		t.Fatalf("ran %v", order)
	}
}

func TestOpenFailsNamingTheCause(t *testing.T) {
	ctx := context.Background()
	if _, err := migrate.Open(ctx, postgres.Config{}); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("empty DSN: %v", err)
	}
	boom := errors.New("boom")
	_, err := migrate.Open(ctx, postgres.Config{URL: testrig.PostgresURL(t)}, func(context.Context, *pgxpool.Pool) error { return boom })
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "migrations:") {
		t.Fatalf("failing migration: %v", err)
	}
}

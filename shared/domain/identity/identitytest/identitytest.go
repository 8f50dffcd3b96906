// Package identitytest writes identity's rows straight into a database that
// holds identity's tables, for the tests of domains and functions that read
// them (identity.Graph, Service.Blocked) without running the identity
// Service: one place that knows which columns an account row needs.
package identitytest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/id"
)

// User inserts an account named name (address name@example.com, a
// password hash no password matches) and returns its id.
func User(t testing.TB, pool *pgxpool.Pool, name string) id.UserID {
	t.Helper()
	u := id.NewUserID()
	if _, err := pool.Exec(context.Background(), `INSERT INTO users (id, username, email, password_hash, created_at, updated_at)
		VALUES ($1, $2, $2 || '@example.com', 'x', now(), now())`, string(u), name); err != nil {
		t.Fatalf("identitytest: user %s: %v", name, err)
	}
	return u
}

// Block records that blocker blocked blocked.
func Block(t testing.TB, pool *pgxpool.Pool, blocker, blocked id.UserID) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), `INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, now())`,
		string(blocker), string(blocked)); err != nil {
		t.Fatalf("identitytest: block: %v", err)
	}
}

package cli_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/nova-social/nova/shared/testrig"
)

// withDatabase is dsn naming database name instead.
func withDatabase(t *testing.T, dsn, name string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// No tool creates a database: a mistyped name used to be created and
// listed as "no dead letters"; now every command that reads PostgreSQL
// fails naming the database and saying that nova run creates it, and the
// server has no such database afterwards. A database that exists but holds
// no dead-letter store is said to be no Nova's, and is left without one.
func TestToolsNeverCreateADatabase(t *testing.T) {
	ctx := context.Background()
	dsn := testrig.PostgresURL(t)
	missing := "nova_missing_" + testrig.ID()
	bad := withDatabase(t, dsn, missing)
	want := []string{`database "` + missing + `" does not exist`, "nova run creates it"}
	for name, args := range map[string][]string{
		"dead-letters":          {"dead-letters", "--database-url", bad},
		"dead-letters --json":   {"dead-letters", "--json", "--database-url", bad},
		"dead-letters --replay": {"dead-letters", "--replay", "--database-url", bad, "--kafka-brokers", "127.0.0.1:1"},
		"replay":                {"replay", "--database-url", bad, "--kafka-brokers", "127.0.0.1:1"},
		"replay --dry-run":      {"replay", "--dry-run", "--database-url", bad},
		"admin list":            {"admin", "list", "--database-url", bad},
		"admin grant":           {"admin", "grant", "--user", "0193f0c2-0000-7000-8000-000000000000", "--database-url", bad},
		"bench mixed":           {"bench", "mixed", "--database-url", bad, "--kafka-brokers", "", "--mail-dir", t.TempDir()},
	} {
		failsFast(t, name, want, args...)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname = $1`, missing).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("a tool created database %s", missing)
	}

	// An existing database that is not a nova run's.
	for _, args := range [][]string{{"dead-letters"}, {"replay", "--dry-run"}} {
		failsFast(t, args[0], []string{"holds no dead-letter store", "not the database of a nova run"},
			append(args, "--database-url", dsn)...)
	}
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('dead_letters') IS NOT NULL`).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Error("a tool created the dead_letters table in a database that had none")
	}
	if code, _, errs := run(t, "", "admin", "list", "--database-url", dsn); code != 1 || !strings.Contains(errs, "holds no Nova accounts") {
		t.Errorf("admin list on a database without Nova: %d %q", code, errs)
	}
}

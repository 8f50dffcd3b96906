package migrate_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/migrate"
	"github.com/nova-social/nova/shared/testrig"
)

func files(kv ...string) fstest.MapFS {
	m := fstest.MapFS{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = &fstest.MapFile{Data: []byte(kv[i+1])}
	}
	return m
}

func tableExists(t *testing.T, pool *pgxpool.Pool, name string) bool {
	t.Helper()
	var ok bool
	if err := pool.QueryRow(context.Background(), "SELECT to_regclass($1) IS NOT NULL", name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func versions(t *testing.T, pool *pgxpool.Pool, component string) []int {
	t.Helper()
	rows, err := migrate.Status(context.Background(), pool, component)
	if err != nil {
		t.Fatal(err)
	}
	var vs []int
	for _, r := range rows {
		vs = append(vs, r.Version)
	}
	return vs
}

func TestApplyInOrderOnceAndRecords(t *testing.T) {
	ctx := context.Background()
	pool := testrig.Postgres(t)
	fsys := files(
		"0002_add_col.sql", "ALTER TABLE widget ADD COLUMN colour text NOT NULL DEFAULT 'red';",
		"0001_widget.sql", "CREATE TABLE widget (id int PRIMARY KEY);\nINSERT INTO widget VALUES (1);",
		"README.md", "not a migration",
	)
	applied, err := migrate.ApplyReport(ctx, pool, "widgets", fsys)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 2 || applied[0].Name != "0001_widget.sql" || applied[1].Name != "0002_add_col.sql" {
		t.Fatalf("applied %+v", applied)
	}
	var colour string
	if err := pool.QueryRow(ctx, "SELECT colour FROM widget WHERE id = 1").Scan(&colour); err != nil || colour != "red" {
		t.Fatalf("colour %q, %v", colour, err)
	}
	// Running again changes nothing: the CREATE TABLE would fail if it ran twice.
	again, err := migrate.ApplyReport(ctx, pool, "widgets", fsys)
	if err != nil || len(again) != 0 {
		t.Fatalf("second run applied %v, %v", again, err)
	}
	st, err := migrate.Status(ctx, pool, "widgets")
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 || st[0].Name != "0001_widget.sql" || st[1].Version != 2 || st[0].Checksum == "" {
		t.Fatalf("status %+v", st)
	}
	// A third file is picked up on its own.
	fsys["0003_widget_name.sql"] = &fstest.MapFile{Data: []byte("ALTER TABLE widget ADD COLUMN name text;")}
	third, err := migrate.ApplyReport(ctx, pool, "widgets", fsys)
	if err != nil || len(third) != 1 || third[0].Version != 3 {
		t.Fatalf("third run applied %+v, %v", third, err)
	}
}

func TestComponentsAreIndependent(t *testing.T) {
	ctx := context.Background()
	pool := testrig.Postgres(t)
	if err := migrate.Apply(ctx, pool, "a", files("0001_a.sql", "CREATE TABLE a (id int);")); err != nil {
		t.Fatal(err)
	}
	if err := migrate.Apply(ctx, pool, "b", files("0001_b.sql", "CREATE TABLE b (id int);", "0002_b.sql", "CREATE TABLE b2 (id int);")); err != nil {
		t.Fatal(err)
	}
	if got := versions(t, pool, "a"); len(got) != 1 {
		t.Fatalf("a: %v", got)
	}
	if got := versions(t, pool, "b"); len(got) != 2 {
		t.Fatalf("b: %v", got)
	}
}

func TestRefusesGapInFiles(t *testing.T) {
	pool := testrig.Postgres(t)
	err := migrate.Apply(context.Background(), pool, "gappy", files(
		"0001_one.sql", "CREATE TABLE one (id int);",
		"0003_three.sql", "CREATE TABLE three (id int);",
	))
	if !errors.Is(err, migrate.ErrGap) {
		t.Fatalf("err = %v, want ErrGap", err)
	}
	if tableExists(t, pool, "one") {
		t.Fatal("a migration ran although the set has a gap")
	}
}

func TestRefusesEditedAppliedMigration(t *testing.T) {
	ctx := context.Background()
	pool := testrig.Postgres(t)
	if err := migrate.Apply(ctx, pool, "c", files("0001_one.sql", "CREATE TABLE one (id int);")); err != nil {
		t.Fatal(err)
	}
	err := migrate.Apply(ctx, pool, "c", files(
		"0001_one.sql", "CREATE TABLE one (id bigint);",
		"0002_two.sql", "CREATE TABLE two (id int);",
	))
	if !errors.Is(err, migrate.ErrChecksum) {
		t.Fatalf("err = %v, want ErrChecksum", err)
	}
	t.Log(err)
	if tableExists(t, pool, "two") {
		t.Fatal("a later migration ran although an applied one was edited")
	}
}

func TestRefusesBadNames(t *testing.T) {
	pool := testrig.Postgres(t)
	for name, fsys := range map[string]fstest.MapFS{
		"no version":     files("widget.sql", "SELECT 1;"),
		"shared version": files("0001_a.sql", "SELECT 1;", "00001_b.sql", "SELECT 1;"),
		"zero":           files("0000_a.sql", "SELECT 1;"),
	} {
		if err := migrate.Apply(context.Background(), pool, "names", fsys); !errors.Is(err, migrate.ErrName) {
			t.Errorf("%s: err = %v, want ErrName", name, err)
		}
	}
}

func TestFailedMigrationLeavesNothingBehind(t *testing.T) {
	ctx := context.Background()
	pool := testrig.Postgres(t)
	err := migrate.Apply(ctx, pool, "broken", files(
		"0001_ok.sql", "CREATE TABLE ok (id int);",
		"0002_broken.sql", "CREATE TABLE half (id int);\nSELECT * FROM no_such_table;",
	))
	if err == nil {
		t.Fatal("a broken migration was accepted")
	}
	if !tableExists(t, pool, "ok") || tableExists(t, pool, "half") {
		t.Fatal("want 0001 applied and 0002 rolled back entirely")
	}
	if got := versions(t, pool, "broken"); len(got) != 1 || got[0] != 1 {
		t.Fatalf("recorded versions %v, want [1]", got)
	}
}

func TestDatabaseAheadOfBuildIsAccepted(t *testing.T) {
	ctx := context.Background()
	pool := testrig.Postgres(t)
	newer := files("0001_one.sql", "CREATE TABLE one (id int);", "0002_two.sql", "CREATE TABLE two (id int);")
	if err := migrate.Apply(ctx, pool, "rolling", newer); err != nil {
		t.Fatal(err)
	}
	older := files("0001_one.sql", "CREATE TABLE one (id int);")
	if err := migrate.Apply(ctx, pool, "rolling", older); err != nil {
		t.Fatalf("an older replica was refused: %v", err)
	}
}

func TestConcurrentReplicasApplyOnce(t *testing.T) {
	ctx := context.Background()
	dsn := testrig.PostgresURL(t)
	fsys := files(
		// Neither statement is idempotent: running a file twice fails.
		"0001_one.sql", "CREATE TABLE one (id int); SELECT pg_sleep(0.05);",
		"0002_two.sql", "CREATE TABLE two (id int);",
	)
	const replicas = 5
	var wg sync.WaitGroup
	errs := make(chan error, replicas)
	for range replicas {
		// A pool each, as separate processes would have.
		pool, err := pgxpool.New(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- migrate.Apply(ctx, pool, "race", fsys)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if got := versions(t, pool, "race"); len(got) != 2 {
		t.Fatalf("recorded versions %v, want [1 2]", got)
	}
}

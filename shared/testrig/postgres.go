package testrig

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresURL returns the connection URL of an empty database that is this
// test's alone until it ends.
//
// Creating a database costs about half a second on a server that syncs to
// disk (CREATE DATABASE writes out and flushes every page of its template),
// and the tests take hundreds. So the databases are a pool shared by every
// test process, nova_test_pool_0, _1, ...: a process claims one with a
// session advisory lock on the server, held while it lives, empties it
// (dropping every schema, which takes milliseconds) and hands it to the
// test; when the test ends it is emptied again and kept for the process's
// next test. A process that dies releases its claims with its connection,
// and whoever claims such a database next empties it first. The pool grows
// to the most databases in use at once and stays.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := envOr("NOVA_TEST_DATABASE_URL", DefaultPostgresURL)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := pools.of(ctx, admin)
	if err != nil {
		t.Fatalf("PostgreSQL is not reachable at %s (%v); start it with: %s", admin, err, startPostgres)
	}
	name, err := p.take(ctx)
	if err != nil {
		t.Fatalf("test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.give(ctx, name); err != nil {
			t.Logf("test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", admin, err)
	}
	u.Path = "/" + name
	return u.String()
}

// Postgres returns a pool on a fresh, empty database for this test.
func Postgres(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dsn := PostgresURL(t)
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connect to test database: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// claimLockClass keeps the pool's advisory locks apart from anyone else's
// on the admin database ("nvtp" in ASCII).
const claimLockClass int32 = 0x6e767470

// pools are this process's database pools, by admin URL. A test process
// shares one pool among its tests, as it shares the server.
var pools = &poolSet{byURL: map[string]*dbPool{}}

type poolSet struct {
	mu    sync.Mutex
	byURL map[string]*dbPool
}

func (s *poolSet) of(ctx context.Context, admin string) (*dbPool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.byURL[admin]; ok {
		return p, nil
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, err
	}
	p := &dbPool{admin: admin, claims: conn, held: map[int32]bool{}}
	s.byURL[admin] = p
	return p, nil
}

// dbPool is one process's claims on the shared databases of one server.
type dbPool struct {
	admin string

	mu     sync.Mutex
	claims *pgx.Conn      // holds the claims' advisory locks while the process lives
	held   map[int32]bool // claimed by this process (a session's advisory locks are re-entrant)
	free   []string       // claimed, emptied, not in use
}

// take returns a claimed, empty database.
func (p *dbPool) take(ctx context.Context) (string, error) {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		name := p.free[n-1]
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return name, nil
	}
	defer p.mu.Unlock()
	for i := int32(0); ; i++ {
		if p.held[i] {
			continue
		}
		var got bool
		if err := p.claims.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, $2)", claimLockClass, i).Scan(&got); err != nil {
			return "", fmt.Errorf("claim a database: %w", err)
		}
		if !got {
			continue
		}
		name := fmt.Sprintf("nova_test_pool_%d", i)
		if err := p.prepare(ctx, name); err != nil {
			_, _ = p.claims.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1, $2)", claimLockClass, i)
			return "", err
		}
		p.held[i] = true
		return name, nil
	}
}

// give empties a database its test is done with and keeps it for the next.
func (p *dbPool) give(ctx context.Context, name string) error {
	if err := empty(ctx, p.admin, name); err != nil {
		// Kept claimed and out of use: a later claimer empties it again.
		return err
	}
	p.mu.Lock()
	p.free = append(p.free, name)
	p.mu.Unlock()
	return nil
}

// prepare makes a claimed database exist and be empty; a previous claimer
// may have died in the middle of a test.
func (p *dbPool) prepare(ctx context.Context, name string) error {
	_, err := p.claims.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pgErr) && pgErr.Code == "42P04": // duplicate_database
		return empty(ctx, p.admin, name)
	default:
		return fmt.Errorf("create test database %s: %w", name, err)
	}
}

// empty ends every session on database name and drops everything a test
// can have made in it, leaving it as CREATE DATABASE would.
func empty(ctx context.Context, admin, name string) error {
	u, err := url.Parse(admin)
	if err != nil {
		return err
	}
	u.Path = "/" + name
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return fmt.Errorf("empty %s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// Sessions a test left open (a pool not closed, a function still
	// running) would hold locks the drops wait for.
	for {
		var left int
		if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&left); err != nil {
			return fmt.Errorf("empty %s: end its sessions: %w", name, err)
		}
		if left == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("empty %s: %d sessions do not end: %w", name, left, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	rows, err := conn.Query(ctx, `SELECT nspname FROM pg_namespace
		WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema'`)
	if err != nil {
		return fmt.Errorf("empty %s: %w", name, err)
	}
	schemas, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("empty %s: %w", name, err)
	}
	b := &pgx.Batch{}
	for _, s := range schemas {
		b.Queue("DROP SCHEMA " + pgx.Identifier{s}.Sanitize() + " CASCADE")
	}
	// The public schema as a new database has it (PostgreSQL 15).
	b.Queue("CREATE SCHEMA public AUTHORIZATION pg_database_owner")
	b.Queue("GRANT USAGE ON SCHEMA public TO PUBLIC")
	b.Queue("SELECT lo_unlink(oid) FROM pg_largeobject_metadata")
	b.Queue("ALTER DATABASE " + pgx.Identifier{name}.Sanitize() + " RESET ALL")
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("empty %s: %w", name, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("empty %s: %w", name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("empty %s: %w", name, err)
	}
	return nil
}

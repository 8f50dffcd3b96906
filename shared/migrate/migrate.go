// Package migrate applies versioned SQL migrations at start-up.
//
// Each component (outbox, identity, content, …) ships its own migrations as
// files named NNNN_description.sql in an fs.FS, usually an embed.FS, and calls
// Apply when it starts. Apply brings the database up to the newest version the
// component knows: it applies the missing files in version order, each in its
// own transaction together with its row in nova_schema_migrations, so a
// migration is either fully applied and recorded or not at all.
//
// Several replicas start at once in production, so Apply takes one
// PostgreSQL session advisory lock for the whole database before it looks at
// anything: the first replica migrates, the others wait and then find nothing
// to do. One lock for every component (rather than one each) also serialises
// the creation of nova_schema_migrations itself.
//
// Apply refuses to run when the files have a gap in their versions or when a
// migration that was already applied has been edited since (its SHA-256
// checksum changed): both mean the schema in the database is no longer the
// one the code describes, and guessing would be worse than stopping. A
// database that is ahead of the build (versions the files do not have) is
// accepted, because during a rolling deploy the older replicas still run
// against the newer schema.
//
// A migration runs inside a transaction, so statements that cannot (CREATE
// INDEX CONCURRENTLY, ALTER TYPE … ADD VALUE on old servers) do not belong in
// one.
package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/postgres"
)

// Table is the table that records applied migrations.
const Table = "nova_schema_migrations"

// lockKey is the advisory lock every Apply in the database shares. It is an
// arbitrary constant ("novamigr" in ASCII) taken with the single-bigint form
// of pg_advisory_lock, which cannot collide with two-int4 advisory locks.
const lockKey int64 = 0x6e6f76616d696772

// defaultUnlockTimeout bounds the unlock that runs after Apply's context
// may have ended.
const defaultUnlockTimeout = 5 * time.Second

var (
	// ErrGap means the migration files skip a version.
	ErrGap = errors.New("migrate: gap in migration versions")
	// ErrChecksum means a migration that was applied has been edited since.
	ErrChecksum = errors.New("migrate: applied migration was edited")
	// ErrName means a file in the migration set is not named NNNN_description.sql,
	// or two files share a version.
	ErrName = errors.New("migrate: bad migration file name")
)

// Migration is one versioned SQL file.
type Migration struct {
	Version  int
	Name     string // the file name, e.g. 0001_outbox.sql
	SQL      string
	Checksum string // hex SHA-256 of SQL
}

var fileName = regexp.MustCompile(`^([0-9]{4,})_([a-z0-9_]+)\.sql$`)

// Load reads the *.sql files at the root of fsys and returns them in version
// order. Versions start at 1 and must have no gap. Other files are ignored.
func Load(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("migrate: read migrations: %w", err)
	}
	var ms []Migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name := e.Name()
		m := fileName.FindStringSubmatch(name)
		if m == nil {
			if len(name) > 4 && name[len(name)-4:] == ".sql" {
				return nil, fmt.Errorf("%w: %q, want NNNN_description.sql", ErrName, name)
			}
			continue
		}
		v, err := strconv.Atoi(m[1])
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%w: %q has version %q", ErrName, name, m[1])
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("%w: %q and %q share version %d", ErrName, other, name, v)
		}
		seen[v] = name
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("migrate: read %s: %w", name, err)
		}
		sum := sha256.Sum256(b)
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b), Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("%w: version %d is missing before %s", ErrGap, i+1, m.Name)
		}
	}
	return ms, nil
}

// Applied is a row of nova_schema_migrations.
type Applied struct {
	Version  int
	Name     string
	Checksum string
}

// Apply applies the migrations in fsys that component has not applied yet,
// in version order, each in its own transaction. It returns nil when the
// database is up to date afterwards.
func Apply(ctx context.Context, pool *pgxpool.Pool, component string, fsys fs.FS) error {
	_, err := ApplyReport(ctx, pool, component, fsys)
	return err
}

// ApplyReport is Apply that also returns the migrations it applied, for a
// start-up log line.
func ApplyReport(ctx context.Context, pool *pgxpool.Pool, component string, fsys fs.FS) ([]Migration, error) {
	if component == "" {
		return nil, errors.New("migrate: component is required")
	}
	ms, err := Load(fsys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", component, err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate %s: acquire connection: %w", component, err)
	}
	defer conn.Release()
	// A session lock, not a transaction one, because each migration commits
	// on its own while the lock must cover the whole run.
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return nil, fmt.Errorf("migrate %s: take lock: %w", component, err)
	}
	defer func() {
		// The context may be done already; the unlock must still happen or
		// the pooled session would keep the lock. If it fails the session is
		// broken and closing it drops the lock anyway.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), defaultUnlockTimeout)
		defer cancel()
		if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", lockKey); err != nil {
			_ = conn.Conn().Close(uctx)
		}
	}()
	return apply(ctx, conn.Conn(), component, ms)
}

func apply(ctx context.Context, conn *pgx.Conn, component string, ms []Migration) ([]Migration, error) {
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+Table+` (
	component  text        NOT NULL,
	version    integer     NOT NULL,
	name       text        NOT NULL,
	checksum   text        NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (component, version)
)`); err != nil {
		return nil, fmt.Errorf("migrate %s: create %s: %w", component, Table, err)
	}
	applied, err := appliedRows(ctx, conn, component)
	if err != nil {
		return nil, err
	}
	for i, a := range applied {
		if a.Version != i+1 {
			return nil, fmt.Errorf("migrate %s: %w: database has version %d but not %d", component, ErrGap, a.Version, i+1)
		}
		if i >= len(ms) {
			// The database is ahead of this build; see the package doc.
			break
		}
		if m := ms[i]; m.Checksum != a.Checksum {
			return nil, fmt.Errorf("migrate %s: %w: %s (version %d) was applied with checksum %s but the file now has %s; add a new migration instead of editing an applied one",
				component, ErrChecksum, m.Name, m.Version, a.Checksum, m.Checksum)
		}
	}
	var done []Migration
	for _, m := range ms[min(len(applied), len(ms)):] {
		if err := applyOne(ctx, conn, component, m); err != nil {
			return done, err
		}
		done = append(done, m)
	}
	return done, nil
}

func applyOne(ctx context.Context, conn *pgx.Conn, component string, m Migration) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: begin %s: %w", component, m.Name, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// No arguments: pgx sends the file with the simple protocol, so a file
	// may hold several statements.
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return fmt.Errorf("migrate %s: apply %s: %w", component, m.Name, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+Table+` (component, version, name, checksum) VALUES ($1, $2, $3, $4)`,
		component, m.Version, m.Name, m.Checksum); err != nil {
		return fmt.Errorf("migrate %s: record %s: %w", component, m.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate %s: commit %s: %w", component, m.Name, err)
	}
	return nil
}

func appliedRows(ctx context.Context, conn *pgx.Conn, component string) ([]Applied, error) {
	rows, err := conn.Query(ctx, `SELECT version, name, checksum FROM `+Table+` WHERE component = $1 ORDER BY version`, component)
	if err != nil {
		return nil, fmt.Errorf("migrate %s: read %s: %w", component, Table, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Applied, error) {
		var a Applied
		err := r.Scan(&a.Version, &a.Name, &a.Checksum)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("migrate %s: read %s: %w", component, Table, err)
	}
	return out, nil
}

// Status returns the migrations component has applied, in version order.
func Status(ctx context.Context, pool *pgxpool.Pool, component string) ([]Applied, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate %s: acquire connection: %w", component, err)
	}
	defer conn.Release()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", Table).Scan(&exists); err != nil {
		return nil, fmt.Errorf("migrate %s: %w", component, err)
	}
	if !exists {
		return nil, nil
	}
	return appliedRows(ctx, conn.Conn(), component)
}

// Open connects to the database db names and runs each component's Migrate
// in order: what a function keeping its state in PostgreSQL does at start.
// On failure nothing is left open.
func Open(ctx context.Context, db postgres.Config, migrations ...func(context.Context, *pgxpool.Pool) error) (*pgxpool.Pool, error) {
	pool, err := postgres.Open(ctx, db)
	if err != nil {
		return nil, err
	}
	for _, m := range migrations {
		if err := m(ctx, pool); err != nil {
			pool.Close()
			return nil, fmt.Errorf("migrations: %w", err)
		}
	}
	return pool, nil
}

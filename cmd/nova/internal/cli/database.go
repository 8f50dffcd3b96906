package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// databaseWait bounds how long a tool waits for PostgreSQL.
const databaseWait = 10 * time.Second

// openDatabase connects to the database at dsn, which must exist: only
// nova run creates Nova's database, so a mistyped name is an error naming
// it rather than an empty database that shows an empty Nova.
func openDatabase(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	cc := cfg.ConnConfig
	where := fmt.Sprintf("%s:%d", cc.Host, cc.Port)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database %s on %s: %w", cc.Database, where, err)
	}
	pctx, cancel := context.WithTimeout(ctx, databaseWait)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "3D000" { // invalid_catalog_name
			return nil, fmt.Errorf("database %q does not exist on %s: nova run creates it, the other commands never do "+
				"(check --database-url or DATABASE_URL): %w", cc.Database, where, err)
		}
		return nil, fmt.Errorf("PostgreSQL at %s (database %s) is not reachable: %w", where, cc.Database, err)
	}
	return pool, nil
}

// openDeadLetters connects to the dead-letter store at dsn. The tools never
// create its table: a database without one is not a running Nova's (the
// dead-letter function makes it when nova run starts it), and saying so
// beats listing nothing.
func openDeadLetters(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	pool, err := openDatabase(ctx, dsn)
	if err != nil {
		return nil, err
	}
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('dead_letters') IS NOT NULL`).Scan(&exists); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database %s: %w", pool.Config().ConnConfig.Database, err)
	}
	if !exists {
		pool.Close()
		return nil, fmt.Errorf("database %q holds no dead-letter store (no dead_letters table): it is not the database of a nova run, "+
			"whose dead-letter function creates it (check --database-url or DATABASE_URL)", pool.Config().ConnConfig.Database)
	}
	return pool, nil
}

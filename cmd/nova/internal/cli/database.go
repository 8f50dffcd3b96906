package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/cmd/nova/internal/deadletters"
	"github.com/nova-social/nova/functions/dead-letter/store"
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

// openDeadLetters connects to the dead-letter store at dsn, which must
// exist (deadletters.Open): the tools never create its table. Closing the
// pool closes the store.
func openDeadLetters(ctx context.Context, dsn string) (*pgxpool.Pool, *store.Store, error) {
	pool, err := openDatabase(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	s, err := deadletters.Open(ctx, pool)
	if err != nil {
		pool.Close()
		if errors.Is(err, deadletters.ErrNoStore) {
			err = fmt.Errorf("%w (check --database-url or DATABASE_URL)", err)
		}
		return nil, nil, err
	}
	return pool, s, nil
}

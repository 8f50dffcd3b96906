package deadletters

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/functions/dead-letter/store"
)

// ErrNoStore marks a database without the dead-letter store's table.
var ErrNoStore = errors.New("no dead-letter store")

// Open is the dead-letter store on pool. The tools never create its table:
// a database without one is not a running Nova's (the dead-letter function
// makes it when nova run starts it), and saying so beats listing nothing.
func Open(ctx context.Context, pool *pgxpool.Pool) (*store.Store, error) {
	db := pool.Config().ConnConfig.Database
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('dead_letters') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("database %s: %w", db, err)
	}
	if !exists {
		return nil, fmt.Errorf("database %q holds no dead-letter store (no dead_letters table): it is not the database of a nova run, "+
			"whose dead-letter function creates it: %w", db, ErrNoStore)
	}
	return store.New(pool), nil
}

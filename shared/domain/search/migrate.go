package search

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/migrate"
)

// Component is the search index's name in nova_schema_migrations.
const Component = "search"

//go:embed migrations/*.sql
var migrations embed.FS

// ErrTrigram means the pg_trgm extension is neither installed nor
// installable by the connecting role.
var ErrTrigram = errors.New("search: the pg_trgm extension is missing and this database role may not create it; " +
	"run CREATE EXTENSION pg_trgm once as a superuser (or a role with CREATE on the database) in this database")

// trigramLock serialises the extension's creation between nova-api and the
// search-indexer starting together ("nova-trg" in ASCII): two concurrent
// CREATE EXTENSION IF NOT EXISTS can both miss the other and one fails.
const trigramLock int64 = 0x6e6f76612d747267

// Migrations returns the search index's schema migrations.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		// The path is a constant of this file; fs.Sub fails only on a bad one.
		panic(err)
	}
	return sub
}

// Migrate makes sure pg_trgm is there, then creates or upgrades the search
// tables. nova-api (the reader) and the search-indexer (the writer) both
// call it.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	if err := ensureTrigram(ctx, pool); err != nil {
		return err
	}
	return migrate.Apply(ctx, pool, Component, Migrations())
}

func ensureTrigram(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, trigramLock); err != nil {
			return fmt.Errorf("search: lock: %w", err)
		}
		var have bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')`).Scan(&have); err != nil {
			return fmt.Errorf("search: look for pg_trgm: %w", err)
		}
		if have {
			return nil
		}
		if _, err := tx.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_trgm`); err != nil {
			return fmt.Errorf("%w: %w", ErrTrigram, err)
		}
		return nil
	})
}

package moderation

import (
	"context"
	"embed"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/migrate"
)

// Component is the moderation domain's name in nova_schema_migrations.
const Component = "moderation"

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the moderation domain's schema migrations.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		// The path is a constant of this file; fs.Sub fails only on a bad one.
		panic(err)
	}
	return sub
}

// Migrate creates or upgrades the moderation tables.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return migrate.Apply(ctx, pool, Component, Migrations())
}

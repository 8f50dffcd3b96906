package messaging

import (
	"context"
	"embed"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/migrate"
)

// Component is the messaging domain's name in nova_schema_migrations.
const Component = "messaging"

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the messaging domain's schema migrations.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		// The path is a constant of this file; fs.Sub fails only on a bad one.
		panic(err)
	}
	return sub
}

// Migrate creates or upgrades the messaging tables. nova-api and
// chat-persist both call it; migrations apply once.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return migrate.Apply(ctx, pool, Component, Migrations())
}

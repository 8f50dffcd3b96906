package deploycheck

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/shared/mail"
	"github.com/nova-social/nova/shared/mail/sink"
	"github.com/nova-social/nova/shared/redisdb"
)

const startPostgres = "pg_ctlcluster --skip-systemctl-redirect 15 main start"

// database is a fresh PostgreSQL database of the check's own.
type database struct {
	admin, name, url string
}

// createDatabase makes nova_deploycheck_<random> on the server of admin.
func createDatabase(ctx context.Context, admin string) (*database, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL is not reachable at %s (%w); start it with: %s", admin, err, startPostgres)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	d := &database{admin: admin, name: "nova_deploycheck_" + hex.EncodeToString(b)}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{d.name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create database %s: %w", d.name, err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		return nil, fmt.Errorf("database URL %s: %w", admin, err)
	}
	u.Path = "/" + d.name
	d.url = u.String()
	return d, nil
}

// drop removes the database, whoever is still connected.
func (d *database) drop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, d.admin)
	if err != nil {
		return fmt.Errorf("drop database %s: %w", d.name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", d.name, err)
	}
	return nil
}

// pingRedis fails, saying how to start Redis, when it does not answer.
func pingRedis(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return system.PingRedis(ctx, url)
}

// createRedisUser makes the nova-redis Secret's ACL user on the local Redis
// (reached as its administrator at url) with Nova's rights only, and
// returns what removes it.
func createRedisUser(ctx context.Context, url string, secrets *secretValues) (func() error, error) {
	name, err := secrets.get("nova-redis", redisdb.EnvUsername)
	if err != nil {
		return nil, err
	}
	password, err := secrets.get("nova-redis", redisdb.EnvPassword)
	if err != nil {
		return nil, err
	}
	if err := system.CreateRedisUser(ctx, url, name, password); err != nil {
		return nil, fmt.Errorf("local Redis: %w", err)
	}
	return func() error { return system.DeleteRedisUser(context.WithoutCancel(ctx), url, name) }, nil
}

// startMailSink starts a local mail relay on the loopback that takes the
// nova-smtp Secret's login only, as the cluster's relay would, and keeps
// each message under dir too (left with the work folder by --keep).
func startMailSink(secrets *secretValues, dir string, log *slog.Logger) (*sink.Sink, error) {
	user, err := secrets.get("nova-smtp", mail.EnvUsername)
	if err != nil {
		return nil, err
	}
	password, err := secrets.get("nova-smtp", mail.EnvPassword)
	if err != nil {
		return nil, err
	}
	return sink.Start(sink.Config{Addr: "127.0.0.1:0", Username: user, Password: password, Dir: dir, Logger: log})
}

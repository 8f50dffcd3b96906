package system

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	neturl "net/url"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/shared/redisdb"
)

const (
	startPostgres = "pg_ctlcluster --skip-systemctl-redirect 15 main start"
	startRedis    = `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`
)

// OpenDatabase connects to dsn, creating its database first when the server
// answers that it does not exist (a fresh machine has only "postgres").
func OpenDatabase(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	if err := ensureDatabase(ctx, dsn); err != nil {
		return nil, err
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", redact(dsn), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database %s: %w", redact(dsn), err)
	}
	return pool, nil
}

func ensureDatabase(ctx context.Context, dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return conn.Close(ctx)
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "3D000" { // invalid_catalog_name
		return fmt.Errorf("PostgreSQL is not reachable at %s (%w); start it with: %s", redact(dsn), err, startPostgres)
	}
	name := cfg.Database
	admin := cfg.Copy()
	admin.Database = "postgres"
	ac, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	defer ac.Close(ctx)
	if _, err := ac.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		if errors.As(err, &pe) && pe.Code == "42P04" { // created meanwhile
			return nil
		}
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// PingRedis checks that Redis answers at url.
func PingRedis(ctx context.Context, url string) error {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis is not reachable at %s (%w); start it with: %s", redisAddress(url), err, startRedis)
	}
	return nil
}

// redisAddress is a Redis URL without its login, for the functions (who
// log in as their own user) and for messages.
func redisAddress(raw string) string {
	u, err := neturl.Parse(raw)
	if err != nil {
		return "(unparsable REDIS_URL)"
	}
	u.User = nil
	return u.String()
}

// newRedisUser makes an ACL user with Nova's rights and a fresh name and
// password for this run, on the Redis at url (which must allow ACL SETUSER).
func newRedisUser(ctx context.Context, url string) (name, password string, err error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	name, password = "nova-run-"+hex.EncodeToString(b[:4]), hex.EncodeToString(b[4:])
	if err := CreateRedisUser(ctx, url, name, password); err != nil {
		return "", "", fmt.Errorf("%w (give the functions a user of their own with REDIS_USERNAME and REDIS_PASSWORD)", err)
	}
	return name, password, nil
}

// CreateRedisUser makes (or resets) the ACL user name with password and
// Nova's rights (redisdb.ACLRules) on the Redis at url, reached as a user
// allowed to change ACLs: what an operator does on a cluster's Redis.
func CreateRedisUser(ctx context.Context, url, name, password string) error {
	return withRedisAdmin(url, func(admin *redis.Client) error {
		return redisdb.CreateUser(ctx, admin, name, password)
	})
}

// DeleteRedisUser removes the ACL user name from the Redis at url.
func DeleteRedisUser(ctx context.Context, url, name string) error {
	return withRedisAdmin(url, func(admin *redis.Client) error {
		return redisdb.DeleteUser(ctx, admin, name)
	})
}

func withRedisAdmin(url string, do func(*redis.Client) error) error {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	admin := redis.NewClient(opt)
	defer admin.Close()
	return do(admin)
}

// redact hides a password in a connection URL for messages.
func redact(dsn string) string {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return "(unparsable DATABASE_URL)"
	}
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

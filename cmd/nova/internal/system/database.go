package system

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	neturl "net/url"
	"strconv"
	"strings"
	"syscall"

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
// A failure says what went wrong in PostgreSQL's terms and what to do
// about it (see explainConnect).
func OpenDatabase(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message quotes the URL, password and all.
		return nil, errors.New("DATABASE_URL cannot be parsed as a PostgreSQL URL or connection string")
	}
	if err := ensureDatabase(ctx, pc.ConnConfig); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", redact(dsn), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, explainConnect(err, pc.ConnConfig)
	}
	return pool, nil
}

func ensureDatabase(ctx context.Context, cfg *pgx.ConnConfig) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return conn.Close(ctx)
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "3D000" { // invalid_catalog_name
		return explainConnect(err, cfg)
	}
	name := cfg.Database
	admin := cfg.Copy()
	admin.Database = "postgres"
	ac, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return fmt.Errorf("database %s does not exist, and it cannot be created: %w", name, explainConnect(err, admin))
	}
	defer ac.Close(ctx)
	if _, err := ac.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		if errors.As(err, &pe) && pe.Code == "42P04" { // created meanwhile
			return nil
		}
		if errors.As(err, &pe) && pe.Code == "42501" { // insufficient_privilege
			return fmt.Errorf("database %s does not exist on PostgreSQL at %s and role %q may not create it (%w); "+
				"create it as a superuser: %s, or let the role create databases: %s",
				name, hostPort(cfg), cfg.User, err,
				psql(cfg, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" OWNER "+pgx.Identifier{cfg.User}.Sanitize()),
				psql(cfg, "ALTER ROLE "+pgx.Identifier{cfg.User}.Sanitize()+" CREATEDB"))
		}
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// explainConnect turns a failed connection into what the user can act on:
// a server that is not running, a role that does not exist, a wrong
// password, a full server are different problems with different fixes.
func explainConnect(err error, cfg *pgx.ConnConfig) error {
	at := hostPort(cfg)
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		role := pgx.Identifier{cfg.User}.Sanitize()
		switch pe.Code {
		case "28000": // invalid_authorization_specification
			if strings.Contains(pe.Message, "does not exist") {
				return fmt.Errorf("PostgreSQL at %s has no role %q, which DATABASE_URL logs in as (%w); "+
					"create it: %s, or set DATABASE_URL (--database-url) to a role that exists, such as postgres://postgres@%s/%s",
					at, cfg.User, err, psql(cfg, "CREATE ROLE "+role+" LOGIN CREATEDB"), at, cfg.Database)
			}
			return fmt.Errorf("PostgreSQL at %s does not let role %q in from here (%w); "+
				"allow it in pg_hba.conf (SHOW hba_file names it) and reload, or set DATABASE_URL (--database-url) to another role",
				at, cfg.User, err)
		case "28P01": // invalid_password
			return fmt.Errorf("PostgreSQL at %s refused the password of role %q (%w); "+
				"put the right one in PGPASSWORD or in DATABASE_URL (postgres://%s:PASSWORD@%s/%s)",
				at, cfg.User, err, cfg.User, at, cfg.Database)
		case "53300": // too_many_connections
			if strings.Contains(pe.Message, "for role") {
				return fmt.Errorf("role %q has used up its CONNECTION LIMIT on PostgreSQL at %s (%w); "+
					"close its other sessions or lift the limit: %s",
					cfg.User, at, err, psql(cfg, "ALTER ROLE "+role+" CONNECTION LIMIT -1"))
			}
			return fmt.Errorf("PostgreSQL at %s has no connection left (%w): its max_connections are in use; "+
				"see who holds them with %s, stop what you do not need, "+
				"or lower Nova's pools (--db-pools or NOVA_DB_POOLS)",
				at, err, psql(cfg, "SELECT datname, application_name, count(*) FROM pg_stat_activity GROUP BY 1, 2 ORDER BY 3 DESC"))
		case "57P03": // cannot_connect_now
			return fmt.Errorf("PostgreSQL at %s is starting up or shutting down (%w); try again in a moment", at, err)
		}
		return fmt.Errorf("PostgreSQL at %s refused the connection: %w", at, err)
	}
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENOENT):
		return fmt.Errorf("PostgreSQL is not running at %s (%w); start it with: %s, or set DATABASE_URL (--database-url) to where it runs",
			at, err, startPostgres)
	case errors.As(err, &dnsErr):
		return fmt.Errorf("the host of DATABASE_URL, %s, is not known (%w); check DATABASE_URL (--database-url)", cfg.Host, err)
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return fmt.Errorf("no answer from PostgreSQL at %s (%w); check the address in DATABASE_URL (--database-url) and that nothing blocks it", at, err)
	}
	return fmt.Errorf("PostgreSQL at %s: %w", at, err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// hostPort is where cfg connects, for messages.
func hostPort(cfg *pgx.ConnConfig) string {
	if strings.HasPrefix(cfg.Host, "/") { // a Unix socket's folder
		return fmt.Sprintf("%s/.s.PGSQL.%d", cfg.Host, cfg.Port)
	}
	return net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
}

// psql is the command that runs sql on cfg's server as the postgres
// superuser, for advice.
func psql(cfg *pgx.ConnConfig, sql string) string {
	return fmt.Sprintf("psql -h %s -p %d -U postgres -d postgres -c '%s'", cfg.Host, cfg.Port, sql)
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

// Package postgres says where a function's PostgreSQL is and connects to
// it: DATABASE_URL names the server and database, and PGPASSWORD (from a
// Kubernetes Secret, so the password never sits in the nova-config
// ConfigMap) supplies the password when the URL carries none, as libpq
// reads it.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Environment variables a function's configuration is read from.
const (
	EnvURL      = "DATABASE_URL"
	EnvPassword = "PGPASSWORD"
)

// Config is where a database is and how to log in.
type Config struct {
	// URL is a postgres:// URL or a key=value connection string.
	URL string
	// Password is used when URL carries none.
	Password string
}

// FromEnv reads DATABASE_URL and PGPASSWORD from a function's environment.
func FromEnv(env map[string]string) Config {
	return Config{URL: env[EnvURL], Password: env[EnvPassword]}
}

// ErrNoURL: DATABASE_URL is not set.
var ErrNoURL = errors.New(EnvURL + " is not set")

// Validate reports a configuration no connection can come of.
func (c Config) Validate() error {
	_, err := c.PoolConfig()
	return err
}

// PoolConfig parses the URL and applies the password.
func (c Config) PoolConfig() (*pgxpool.Config, error) {
	if c.URL == "" {
		return nil, ErrNoURL
	}
	pc, err := pgxpool.ParseConfig(c.URL)
	if err != nil {
		// pgx's message quotes the URL; the password may be in it.
		return nil, fmt.Errorf("%s cannot be parsed as a PostgreSQL URL or connection string", EnvURL)
	}
	if c.Password != "" && !hasPassword(c.URL) {
		pc.ConnConfig.Password = c.Password
	}
	pc.ConnConfig.Tracer = tracer{}
	return pc, nil
}

// hasPassword reports whether the URL itself names a password; only then
// does it win over Password, as in libpq, where the connection string
// comes before PGPASSWORD.
func hasPassword(conn string) bool {
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		u, err := url.Parse(conn)
		if err != nil {
			return false
		}
		if _, ok := u.User.Password(); ok {
			return true
		}
		return u.Query().Has("password")
	}
	return dsnPassword.MatchString(conn)
}

// dsnPassword finds a password key in a key=value connection string.
var dsnPassword = regexp.MustCompile(`(^|\s)password\s*=`)

// Open connects and checks that the server answers.
func Open(ctx context.Context, c Config) (*pgxpool.Pool, error) {
	pc, err := c.PoolConfig()
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database: %w", err)
	}
	return pool, nil
}

// Package deploycheck is nova deploy-check: every function built as
// `kn func build` (pack) builds it, then each binary started as Knative
// starts its image — only its func.yaml run.envs in the environment,
// ConfigMaps from eventing/ pointed at local servers, test Secrets — and
// required to become ready, then to stop cleanly on SIGTERM.
package deploycheck

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"time"

	"golang.org/x/mod/semver"
)

// Defaults.
const (
	// DefaultDatabaseURL is the PostgreSQL server a fresh database is
	// made on (NOVA_TEST_DATABASE_URL, as for the tests).
	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	// DefaultRedisURL is the Redis the functions get (NOVA_TEST_REDIS_URL).
	DefaultRedisURL     = "redis://127.0.0.1:6379/0"
	DefaultReadyTimeout = 60 * time.Second
	DefaultStopTimeout  = 30 * time.Second
)

// Config says what to check.
type Config struct {
	// Root is the repository root.
	Root string
	// Version is the release of the root module the functions are pinned
	// to, made from HEAD. Default: HEAD's pseudo-version
	// (v0.0.0-<commit time>-<commit>), which no release takes and which
	// names one content only: the go command caches what it learns of a
	// module version for good, so one name must never serve two trees.
	Version string
	// Only limits the check to these functions (func.yaml names).
	Only []string
	// Keep leaves the work folder (contexts, scaffolds, binaries, logs).
	Keep bool
	// Jobs is how many builds run at once. Default: 2, or 1 on one core.
	Jobs int
	// DatabaseURL is a PostgreSQL server's administrative URL; the check
	// creates a database of its own there and drops it at the end.
	DatabaseURL string
	// RedisURL is the Redis the functions get.
	RedisURL string
	// ReadyTimeout bounds how long a function may take to answer 200 on
	// its liveness and readiness endpoints; StopTimeout how long it may
	// take to exit after SIGTERM.
	ReadyTimeout, StopTimeout time.Duration
	// Env is the environment builds start from (PATH, HOME, go env) and
	// {{ env:NAME }} references are read from. Default: the process's.
	Env []string
	// Out receives progress and the report.
	Out io.Writer
	// Logger receives details (the servers' addresses, the work folder).
	Logger *slog.Logger
}

// Defaults fills unset fields.
func (c Config) Defaults() Config {
	if c.Jobs <= 0 {
		c.Jobs = min(2, runtime.NumCPU())
	}
	c.DatabaseURL = cmp.Or(c.DatabaseURL, os.Getenv("NOVA_TEST_DATABASE_URL"), DefaultDatabaseURL)
	c.RedisURL = cmp.Or(c.RedisURL, os.Getenv("NOVA_TEST_REDIS_URL"), DefaultRedisURL)
	c.ReadyTimeout = cmp.Or(c.ReadyTimeout, DefaultReadyTimeout)
	c.StopTimeout = cmp.Or(c.StopTimeout, DefaultStopTimeout)
	if c.Env == nil {
		c.Env = os.Environ()
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports a configuration the check cannot run with.
func (c Config) Validate() error {
	var errs []error
	if c.Root == "" {
		errs = append(errs, errors.New("no repository root"))
	}
	if c.Version != "" && (!semver.IsValid(c.Version) || semver.Canonical(c.Version) != c.Version) {
		errs = append(errs, fmt.Errorf("version %q is not canonical semver", c.Version))
	}
	if c.ReadyTimeout <= 0 || c.StopTimeout <= 0 {
		errs = append(errs, errors.New("timeouts must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("deploy-check: %w", err)
	}
	return nil
}

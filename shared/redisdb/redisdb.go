// Package redisdb says where a function's Redis is and connects to it.
package redisdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// The variables a function's configuration names Redis with: where it is
// (from the nova-config ConfigMap) and, from the nova-redis Secret, the ACL
// user it logs in as. A rediss:// URL speaks TLS.
const (
	EnvURL      = "REDIS_URL"
	EnvUsername = "REDIS_USERNAME"
	EnvPassword = "REDIS_PASSWORD"
)

// ErrNoURL: REDIS_URL is not set.
var ErrNoURL = errors.New(EnvURL + " is not set")

// Config is where Redis is: a redis:// (or rediss://) URL with its
// database number, and the user to log in as. Username and Password, when
// set, take the place of any the URL carries, so the URL can live in a
// ConfigMap and the credentials in a Secret.
type Config struct {
	URL      string
	Username string
	Password string
}

// FromEnv reads REDIS_URL, REDIS_USERNAME and REDIS_PASSWORD from a
// function's environment.
func FromEnv(env map[string]string) Config {
	return Config{URL: env[EnvURL], Username: env[EnvUsername], Password: env[EnvPassword]}
}

// Validate reports a configuration no connection can come of.
func (c Config) Validate() error {
	_, err := c.Options()
	return err
}

// Options parses the URL.
func (c Config) Options() (*redis.Options, error) {
	if c.URL == "" {
		return nil, ErrNoURL
	}
	opt, err := redis.ParseURL(c.URL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvURL, err)
	}
	if c.Username != "" {
		opt.Username = c.Username
	}
	if c.Password != "" {
		opt.Password = c.Password
	}
	if c.Username != "" && c.Password == "" && opt.Password == "" {
		return nil, fmt.Errorf("%s %s has no %s", EnvUsername, c.Username, EnvPassword)
	}
	return opt, nil
}

// Open connects and checks that the server answers.
func Open(ctx context.Context, c Config) (*redis.Client, error) {
	opt, err := c.Options()
	if err != nil {
		return nil, err
	}
	rdb := NewClient(opt)
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis: %w", err)
	}
	return rdb, nil
}

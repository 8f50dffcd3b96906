// Package redisdb says where a function's Redis is and connects to it.
package redisdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// EnvURL is the variable a function's configuration names Redis with.
const EnvURL = "REDIS_URL"

// ErrNoURL: REDIS_URL is not set.
var ErrNoURL = errors.New(EnvURL + " is not set")

// Config is where Redis is: a redis:// (or rediss://) URL with its
// database number.
type Config struct {
	URL string
}

// FromEnv reads REDIS_URL from a function's environment.
func FromEnv(env map[string]string) Config { return Config{URL: env[EnvURL]} }

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
	return opt, nil
}

// Open connects and checks that the server answers.
func Open(ctx context.Context, c Config) (*redis.Client, error) {
	opt, err := c.Options()
	if err != nil {
		return nil, err
	}
	rdb := redis.NewClient(opt)
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis: %w", err)
	}
	return rdb, nil
}

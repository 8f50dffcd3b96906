package ratelimit

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nova-social/nova/shared/envconf"
)

// Config is every limit a deployment enforces. Each limit is read from its
// variable as ParseLimit reads it ("120/1m burst 30").
type Config struct {
	// Enabled is NOVA_RATE_LIMITS (default on; "off" only for benchmarks
	// that measure what the limits cost).
	Enabled bool
	// Namespace keeps these budgets apart from another deployment's (or
	// test's) in the same Redis (RATE_LIMIT_NAMESPACE, default none).
	Namespace string
	// Login: attempts per client address (RATE_LIMIT_LOGIN).
	Login Limit
	// LoginFailures: failed logins per account and address
	// (RATE_LIMIT_LOGIN_FAILURES). An attacker guessing one account's
	// password from one address is stopped here.
	LoginFailures Limit
	// AccountFailures: failed logins per account from every address
	// (RATE_LIMIT_ACCOUNT_FAILURES). Once spent, only addresses the account
	// has logged in from before may still try, so a spread-out guess is
	// stopped without locking the owner out.
	AccountFailures Limit
	// Register: registrations per address (RATE_LIMIT_REGISTER).
	Register Limit
	// Write, Read, Search, Upload: per account, by route
	// (RATE_LIMIT_WRITE, _READ, _SEARCH, _UPLOAD).
	Write, Read, Search, Upload Limit
	// Connect: websocket handshakes per account and per address
	// (RATE_LIMIT_WS_CONNECT).
	Connect Limit
	// Frames: frames a client sends over its websockets, per account
	// (RATE_LIMIT_WS_FRAMES).
	Frames Limit
	// MaxSockets: websockets one account may hold open at once
	// (RATE_LIMIT_WS_SOCKETS).
	MaxSockets int
}

// DefaultConfig is what a public deployment starts with: generous for a
// person on a phone, tight for a script.
func DefaultConfig() Config {
	return Config{
		Enabled:         true,
		Login:           Limit{Rate: 20, Per: time.Minute, Burst: 10},
		LoginFailures:   Limit{Rate: 5, Per: 15 * time.Minute, Burst: 5},
		AccountFailures: Limit{Rate: 50, Per: time.Hour, Burst: 20},
		Register:        Limit{Rate: 10, Per: time.Hour, Burst: 5},
		Write:           Limit{Rate: 120, Per: time.Minute, Burst: 30},
		Read:            Limit{Rate: 600, Per: time.Minute, Burst: 120},
		Search:          Limit{Rate: 60, Per: time.Minute, Burst: 20},
		Upload:          Limit{Rate: 60, Per: time.Hour, Burst: 10},
		Connect:         Limit{Rate: 30, Per: time.Minute, Burst: 10},
		Frames:          Limit{Rate: 10, Per: time.Second, Burst: 20},
		MaxSockets:      20,
	}
}

// Variables names each limit's environment variable, in Config's order.
var Variables = []string{
	"RATE_LIMIT_LOGIN", "RATE_LIMIT_LOGIN_FAILURES", "RATE_LIMIT_ACCOUNT_FAILURES", "RATE_LIMIT_REGISTER",
	"RATE_LIMIT_WRITE", "RATE_LIMIT_READ", "RATE_LIMIT_SEARCH", "RATE_LIMIT_UPLOAD",
	"RATE_LIMIT_WS_CONNECT", "RATE_LIMIT_WS_FRAMES",
}

func (c *Config) limits() []*Limit {
	return []*Limit{&c.Login, &c.LoginFailures, &c.AccountFailures, &c.Register,
		&c.Write, &c.Read, &c.Search, &c.Upload, &c.Connect, &c.Frames}
}

// ConfigFromEnv reads the limits, each unset one at its default; a
// malformed one is an error naming its variable.
func ConfigFromEnv(env map[string]string) (Config, error) {
	c := DefaultConfig()
	e := envconf.New(env)
	switch v := strings.ToLower(strings.TrimSpace(env["NOVA_RATE_LIMITS"])); v {
	case "", "on", "true":
	case "off", "false":
		c.Enabled = false
	default:
		return c, fmt.Errorf("NOVA_RATE_LIMITS=%q is not on or off", v)
	}
	var errs []error
	for i, l := range c.limits() {
		v := strings.TrimSpace(env[Variables[i]])
		if v == "" {
			continue
		}
		parsed, err := ParseLimit(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", Variables[i], err))
			continue
		}
		*l = parsed
	}
	c.MaxSockets = e.Int("RATE_LIMIT_WS_SOCKETS", c.MaxSockets)
	c.Namespace = e.String("RATE_LIMIT_NAMESPACE", "")
	errs = append(errs, e.Err())
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// Validate reports a limit that cannot be kept.
func (c Config) Validate() error {
	var errs []error
	for i, l := range c.limits() {
		if err := l.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", Variables[i], err))
		}
	}
	if c.MaxSockets < 1 {
		errs = append(errs, fmt.Errorf("RATE_LIMIT_WS_SOCKETS=%d is below 1", c.MaxSockets))
	}
	return errors.Join(errs...)
}

// The policies, by the names the headers and errors carry.
func (c Config) LoginPolicy() Policy           { return Policy{"login", c.Login} }
func (c Config) LoginFailuresPolicy() Policy   { return Policy{"login-failures", c.LoginFailures} }
func (c Config) AccountFailuresPolicy() Policy { return Policy{"account-failures", c.AccountFailures} }
func (c Config) RegisterPolicy() Policy        { return Policy{"register", c.Register} }
func (c Config) WritePolicy() Policy           { return Policy{"write", c.Write} }
func (c Config) ReadPolicy() Policy            { return Policy{"read", c.Read} }
func (c Config) SearchPolicy() Policy          { return Policy{"search", c.Search} }
func (c Config) UploadPolicy() Policy          { return Policy{"upload", c.Upload} }
func (c Config) ConnectPolicy() Policy         { return Policy{"ws-connect", c.Connect} }
func (c Config) FramesPolicy() Policy          { return Policy{"ws-frames", c.Frames} }

// VerifyPolicy bounds taking back mailed codes (sign-up, password reset):
// at the login rate, in a budget of their own, so that proving an address
// does not spend the sign-ups.
func (c Config) VerifyPolicy() Policy { return Policy{"verify", c.Login} }

// ResetPolicy bounds asking for password reset mail: at the login rate, in
// a budget of its own.
func (c Config) ResetPolicy() Policy { return Policy{"reset", c.Login} }

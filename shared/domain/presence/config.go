package presence

import (
	"fmt"
	"time"
)

// Config tunes presence. Start from DefaultConfig.
type Config struct {
	// TTL is how long a connection counts as live after its last heartbeat.
	// Gateways heartbeat well inside it (every 20 s for the default 60 s) so
	// that one lost heartbeat does not flap a user offline.
	TTL time.Duration
	// Now is the clock; nil means time.Now. Tests move it to expire
	// connections without sleeping.
	Now func() time.Time
}

// DefaultConfig returns the production defaults.
func DefaultConfig() Config {
	return Config{TTL: 60 * time.Second}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.TTL < time.Millisecond {
		return fmt.Errorf("presence: TTL must be at least 1ms, got %s", c.TTL)
	}
	return nil
}

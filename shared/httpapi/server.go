package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// ServerConfig sets the limits of an HTTP server. Zero fields take their
// defaults.
type ServerConfig struct {
	// Addr to listen on. Default ":8080".
	Addr string
	// ReadHeaderTimeout bounds reading the request line and headers
	// (slowloris). Default 5s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading the whole request. Default 30s.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing the answer. Default 30s. A server that
	// upgrades to websockets sets it per connection instead
	// (http.ResponseController.SetWriteDeadline) once upgraded.
	WriteTimeout time.Duration
	// IdleTimeout bounds keep-alive between requests. Default 120s.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds request headers. Default 64 KiB (a JWT is well
	// under 1 KiB). Larger requests get 431.
	MaxHeaderBytes int
}

// Defaults returns c with zero fields set to their defaults.
func (c ServerConfig) Defaults() ServerConfig {
	if c.Addr == "" {
		c.Addr = ":8080"
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = 5 * time.Second
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = 30 * time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 120 * time.Second
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = 64 << 10
	}
	return c
}

// Validate reports limits that are missing or inconsistent.
func (c ServerConfig) Validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("addr is empty"))
	}
	for name, d := range map[string]time.Duration{
		"read header timeout": c.ReadHeaderTimeout, "read timeout": c.ReadTimeout,
		"write timeout": c.WriteTimeout, "idle timeout": c.IdleTimeout,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, not %s", name, d))
		}
	}
	if c.ReadHeaderTimeout > c.ReadTimeout {
		errs = append(errs, fmt.Errorf("read header timeout %s exceeds read timeout %s", c.ReadHeaderTimeout, c.ReadTimeout))
	}
	if c.MaxHeaderBytes < 4<<10 || c.MaxHeaderBytes > 1<<20 {
		errs = append(errs, fmt.Errorf("max header bytes %d outside [4 KiB, 1 MiB]", c.MaxHeaderBytes))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("server config: %w", err)
	}
	return nil
}

// NewServer returns an *http.Server for h with cfg's limits (defaults
// applied, then validated), logging its own errors through log.
func NewServer(cfg ServerConfig, h http.Handler, log *slog.Logger) (*http.Server, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &http.Server{
		Addr:              cfg.Addr,
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}, nil
}

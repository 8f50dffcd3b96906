package auth

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// RemoteConfig configures RemoteKeys.
type RemoteConfig struct {
	// URL of the JWKS document, e.g. http://nova-api/v1/.well-known/jwks.json.
	URL string
	// Client makes the requests. Default: a client with a 5s timeout.
	Client *http.Client
	// Refresh is how old a fetched set may grow before it is fetched again.
	// Default JWKSCacheAge.
	Refresh time.Duration
	// MinRefresh is the least time between two fetches caused by unknown
	// kids, so a flood of tokens with made-up kids cannot turn into a flood
	// of requests to the JWKS endpoint. Default 30s.
	MinRefresh time.Duration
	// MaxBytes bounds the document. Default 64 KiB.
	MaxBytes int64
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Defaults returns c with zero fields set to their defaults.
func (c RemoteConfig) Defaults() RemoteConfig {
	if c.Client == nil {
		c.Client = &http.Client{Timeout: 5 * time.Second}
	}
	if c.Refresh == 0 {
		c.Refresh = JWKSCacheAge
	}
	if c.MinRefresh == 0 {
		c.MinRefresh = 30 * time.Second
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = 64 << 10
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports an unusable configuration.
func (c RemoteConfig) Validate() error {
	var errs []error
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("url %q is not an http(s) URL", c.URL))
	}
	if c.Refresh <= 0 || c.MinRefresh <= 0 || c.MinRefresh > c.Refresh {
		errs = append(errs, fmt.Errorf("want 0 < min refresh (%s) <= refresh (%s)", c.MinRefresh, c.Refresh))
	}
	if c.MaxBytes < 1024 {
		errs = append(errs, fmt.Errorf("max bytes %d below 1024", c.MaxBytes))
	}
	if c.Client == nil || c.Now == nil {
		errs = append(errs, errors.New("client and clock must be set"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remote jwks config: %w", err)
	}
	return nil
}

// RemoteKeys is a KeySource that fetches a JWKS over HTTP and caches it.
// It refetches when the copy is older than Refresh, or (at most every
// MinRefresh) when a token names a kid it does not hold — that is how a
// verifier learns a rotated-in key without a restart. When a refetch fails
// the last good set keeps serving.
type RemoteKeys struct {
	cfg RemoteConfig

	mu          sync.Mutex
	set         *KeySet
	fetched     time.Time // of the set held
	lastAttempt time.Time
}

// NewRemoteKeys returns a RemoteKeys; nothing is fetched until a key is
// needed (or Refresh is called).
func NewRemoteKeys(cfg RemoteConfig) (*RemoteKeys, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &RemoteKeys{cfg: cfg}, nil
}

// PublicKey implements KeySource.
func (r *RemoteKeys) PublicKey(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.cfg.Now()
	if r.set != nil {
		pub, err := r.set.PublicKey(ctx, kid)
		fresh := now.Sub(r.fetched) < r.cfg.Refresh
		if err == nil && fresh {
			return pub, nil
		}
		if err != nil && now.Sub(r.lastAttempt) < r.cfg.MinRefresh {
			return nil, err // unknown kid, and we asked recently
		}
	}
	fetchErr := r.fetchLocked(ctx, now)
	if r.set == nil {
		return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, fetchErr)
	}
	// With a failed refetch the previous set still answers.
	return r.set.PublicKey(ctx, kid)
}

// Refresh fetches the JWKS now (at start-up, to fail fast on a bad URL).
func (r *RemoteKeys) Refresh(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fetchLocked(ctx, r.cfg.Now())
}

func (r *RemoteKeys) fetchLocked(ctx context.Context, now time.Time) error {
	r.lastAttempt = now
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.cfg.URL, nil)
	if err != nil {
		return fmt.Errorf("jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch jwks %s: status %d", r.cfg.URL, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.cfg.MaxBytes+1))
	if err != nil {
		return fmt.Errorf("read jwks: %w", err)
	}
	if int64(len(body)) > r.cfg.MaxBytes {
		return fmt.Errorf("jwks larger than %d bytes", r.cfg.MaxBytes)
	}
	keys, err := ParsePublicKeys(body)
	if err != nil {
		return fmt.Errorf("jwks from %s: %w", r.cfg.URL, err)
	}
	set, err := NewKeySet(keys...)
	if err != nil {
		return fmt.Errorf("jwks from %s: %w", r.cfg.URL, err)
	}
	r.set, r.fetched = set, now
	return nil
}

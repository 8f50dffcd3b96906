// Package lifecycle opens what a function depends on (its database, Redis,
// Kafka producer, and whatever it builds on them) without letting an
// unreachable dependency crash it.
//
// Under Knative a function whose Start fails exits, and the pod restarts in
// a crash loop whose growing back-off outlasts the outage that caused it.
// Here Start only checks the configuration; the dependencies are opened in
// the background, retried with capped exponential back-off, and until they
// answer the function reports not-ready on /health/readiness with the
// reason, so Kubernetes keeps traffic away without restarting it.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Unit is what a function opens at start and closes at stop: its
// connections and what it built on them.
type Unit interface {
	// Ping reports whether the unit's dependencies answer; it decides
	// readiness once the unit is open.
	Ping(ctx context.Context) error
	// Close releases everything the unit holds. It is called once.
	Close(ctx context.Context) error
}

// Open opens a unit. It is called again after a back-off while it fails, so
// on error it must leave nothing open. ctx bounds one attempt: whatever the
// unit runs in the background must not be bound to it.
type Open[U Unit] func(ctx context.Context) (U, error)

// Errors a caller may check with errors.Is.
var (
	// ErrNotReady: the unit is not open yet (its dependencies have not
	// answered). A request that needs it should be retried later.
	ErrNotReady = errors.New("not ready")
	// ErrStopped: Stop was called.
	ErrStopped = errors.New("stopped")
	// ErrStarted: Start was called twice.
	ErrStarted = errors.New("already started")
)

// Config says how to open a unit.
type Config struct {
	// Name names the function in messages.
	Name string
	// InitialBackoff is the wait after the first failed attempt; it doubles
	// after each failure up to MaxBackoff. Defaults: 250ms and 30s.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// AttemptTimeout bounds one attempt, so a dependency that swallows
	// connections cannot stall the retries. Default 1m.
	AttemptTimeout time.Duration
	// Logger receives one line per failed attempt and one when the unit is
	// open. Default: discard.
	Logger *slog.Logger
}

// Defaults fills in what c leaves out.
func (c Config) Defaults() Config {
	if c.Name == "" {
		c.Name = "function"
	}
	if c.InitialBackoff <= 0 {
		c.InitialBackoff = 250 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 30 * time.Second
	}
	if c.AttemptTimeout <= 0 {
		c.AttemptTimeout = time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.MaxBackoff < c.InitialBackoff {
		return fmt.Errorf("lifecycle: MaxBackoff %s is below InitialBackoff %s", c.MaxBackoff, c.InitialBackoff)
	}
	return nil
}

// Lifecycle holds one unit from Start to Stop. Its methods are safe for
// concurrent use.
type Lifecycle[U Unit] struct {
	cfg Config

	mu       sync.RWMutex
	unit     U
	open     bool
	started  bool
	stopped  bool
	lastErr  error
	attempts int
	cancel   context.CancelFunc
	done     chan struct{}
}

// New returns a lifecycle that has not started.
func New[U Unit](cfg Config) *Lifecycle[U] {
	return &Lifecycle[U]{cfg: cfg.Defaults()}
}

// Start begins opening the unit in the background and returns at once.
func (l *Lifecycle[U]) Start(open Open[U]) error {
	if err := l.cfg.Validate(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.stopped:
		return fmt.Errorf("%s: %w", l.cfg.Name, ErrStopped)
	case l.started:
		return fmt.Errorf("%s: %w", l.cfg.Name, ErrStarted)
	}
	ctx, cancel := context.WithCancel(context.Background()) //nolint:gosec // Stop calls l.cancel
	l.started, l.cancel, l.done = true, cancel, make(chan struct{})
	go l.run(ctx, open)
	return nil
}

func (l *Lifecycle[U]) run(ctx context.Context, open Open[U]) {
	defer close(l.done)
	log := l.cfg.Logger
	delay := l.cfg.InitialBackoff
	for attempt := 1; ; attempt++ {
		u, err := l.attempt(ctx, open)
		if err == nil {
			l.mu.Lock()
			if l.stopped {
				l.mu.Unlock()
				// Stop came while the attempt finished: nobody will
				// close this unit but us.
				if cerr := u.Close(context.Background()); cerr != nil {
					log.Warn("closing a unit opened during stop", "function", l.cfg.Name, "error", cerr)
				}
				return
			}
			l.unit, l.open, l.lastErr = u, true, nil
			l.mu.Unlock()
			log.Info("dependencies open", "function", l.cfg.Name, "attempts", attempt)
			return
		}
		if ctx.Err() != nil {
			return
		}
		l.mu.Lock()
		l.lastErr, l.attempts = err, attempt
		l.mu.Unlock()
		wait := jitter(delay)
		log.Warn("dependencies not reachable; retrying", "function", l.cfg.Name,
			"attempt", attempt, "retry_in", wait.Round(time.Millisecond), "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, l.cfg.MaxBackoff)
	}
}

// attempt runs open once, turning a panic into an error: a bug in one
// function's start-up is reported as its readiness, not a crash of the host.
func (l *Lifecycle[U]) attempt(ctx context.Context, open Open[U]) (u U, err error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.AttemptTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("open panicked: %v", r)
		}
	}()
	return open(ctx)
}

// jitter spreads retries of many replicas over [d/2, d].
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// Unit returns the open unit, or an error wrapping ErrNotReady (with the
// last attempt's failure) or ErrStopped.
func (l *Lifecycle[U]) Unit() (U, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var zero U
	switch {
	case l.stopped:
		return zero, fmt.Errorf("%s: %w", l.cfg.Name, ErrStopped)
	case l.open:
		return l.unit, nil
	case l.lastErr != nil:
		return zero, fmt.Errorf("%s: %w: attempt %d failed: %w", l.cfg.Name, ErrNotReady, l.attempts, l.lastErr)
	case !l.started:
		return zero, fmt.Errorf("%s: %w: not started", l.cfg.Name, ErrNotReady)
	default:
		return zero, fmt.Errorf("%s: %w: opening its dependencies", l.cfg.Name, ErrNotReady)
	}
}

// Ready is func-go's readiness hook: true once the unit is open and its
// dependencies answer; otherwise false with the reason, which func-go
// writes into the /health/readiness answer.
func (l *Lifecycle[U]) Ready(ctx context.Context) (bool, error) {
	u, err := l.Unit()
	if err != nil {
		return false, err
	}
	if err := u.Ping(ctx); err != nil {
		return false, fmt.Errorf("%s: %w", l.cfg.Name, err)
	}
	return true, nil
}

// Stop ends the opening attempts (waiting for one in progress until ctx
// ends) and closes the unit if it was open. Safe to call more than once.
func (l *Lifecycle[U]) Stop(ctx context.Context) error {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return nil
	}
	l.stopped = true
	cancel, done := l.cancel, l.done
	u, open := l.unit, l.open
	l.open = false
	var zero U
	l.unit = zero
	l.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("%s: stop: waiting for start-up to end: %w", l.cfg.Name, ctx.Err())
	}
	if !open {
		return nil
	}
	if err := u.Close(ctx); err != nil {
		return fmt.Errorf("%s: stop: %w", l.cfg.Name, err)
	}
	return nil
}

package load

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Operations of the mixed workload.
const (
	OpPost    = "post"
	OpLike    = "like"
	OpMessage = "message"
	OpFeed    = "feed"
	// OpBaseline is the trivial request measured before the load.
	OpBaseline = "baseline"
)

// Ops lists the workload's operations in report order (a fresh slice each
// call, so no caller can change another's).
func Ops() []string { return []string{OpPost, OpLike, OpMessage, OpFeed} }

// BaselinePath is the baseline's endpoint: served from memory, no token,
// no database, so it shows what the server and the client cost alone.
const BaselinePath = "/v1/.well-known/jwks.json"

// Mix weighs the operations; a zero weight leaves one out.
type Mix map[string]int

// DefaultMix reads and writes in about the proportions of a social app
// under a posting burst: a feed read or a like for every write.
func DefaultMix() Mix { return Mix{OpPost: 20, OpLike: 30, OpMessage: 20, OpFeed: 30} }

// ParseMix reads "post=20,like=30,message=20,feed=30".
func ParseMix(s string) (Mix, error) {
	m := Mix{}
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		name, w, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("mix %q: want op=weight", part)
		}
		if !slices.Contains(Ops(), name) {
			return nil, fmt.Errorf("mix: unknown operation %q (have %s)", name, strings.Join(Ops(), ", "))
		}
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("mix %q: weight must be a whole number ≥ 0", part)
		}
		m[name] = n
	}
	return m, nil
}

func (m Mix) String() string {
	var parts []string
	for _, op := range Ops() {
		parts = append(parts, fmt.Sprintf("%s=%d", op, m[op]))
	}
	return strings.Join(parts, ",")
}

// MixedConfig configures the mixed workload.
type MixedConfig struct {
	// API is nova-api's base URL. Required.
	API string
	// Duration of the load.
	Duration time.Duration
	// Users registered for the run; each follows Follows others (the next
	// ones in a ring, so everyone has the same number of followers) and
	// opens a conversation with the next user.
	Users   int
	Follows int
	// Rate is the target of operations per second, started on schedule
	// (open loop) whether or not earlier ones have finished.
	Rate float64
	// Concurrency bounds requests in flight; an operation that finds every
	// slot taken is skipped and counted, not queued, so a saturated system
	// shows as a shortfall against the rate.
	Concurrency int
	Mix         Mix
	// Baseline is how long the baseline runs before the load; 0 skips it.
	Baseline time.Duration
	// Backlogs are followed during and after the load: their peak, and the
	// time from the end of the load until all are zero.
	Backlogs     []Backlog
	PollInterval time.Duration
	DrainTimeout time.Duration
	// RequestTimeout bounds each request.
	RequestTimeout time.Duration
	// MailDir is where the local mail relay of nova run keeps the mail, a
	// folder per recipient (system.MailDir): Setup reads each user's
	// verification code there. Required.
	MailDir string
	// MailTimeout bounds the wait for each user's verification mail.
	MailTimeout time.Duration
	// Seed makes the choice of operations and targets repeatable.
	Seed uint64
	// Progress receives a line per phase and per second of load; nil
	// discards them.
	Progress io.Writer
}

// Mixed workload defaults.
const (
	DefaultMixedDuration  = 60 * time.Second
	DefaultUsers          = 50
	DefaultFollows        = 10
	DefaultRate           = 200
	DefaultConcurrency    = 32
	DefaultBaseline       = 10 * time.Second
	DefaultPollInterval   = 250 * time.Millisecond
	DefaultDrainTimeout   = 2 * time.Minute
	DefaultRequestTimeout = 30 * time.Second
	DefaultMailTimeout    = 30 * time.Second
)

// Defaults fills unset fields (Baseline stays 0 when unset: the caller
// chooses).
func (c MixedConfig) Defaults() MixedConfig {
	c.API = strings.TrimRight(c.API, "/")
	if c.Duration == 0 {
		c.Duration = DefaultMixedDuration
	}
	if c.Users == 0 {
		c.Users = DefaultUsers
	}
	if c.Follows == 0 {
		c.Follows = DefaultFollows
	}
	c.Follows = min(c.Follows, c.Users-1)
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Mix == nil {
		c.Mix = DefaultMix()
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MailTimeout == 0 {
		c.MailTimeout = DefaultMailTimeout
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64()
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c
}

// Validate reports a configuration that cannot run.
func (c MixedConfig) Validate() error {
	var errs []error
	if !strings.HasPrefix(c.API, "http://") && !strings.HasPrefix(c.API, "https://") {
		errs = append(errs, fmt.Errorf("api %q: want an http(s) URL", c.API))
	}
	if c.Users < 2 {
		errs = append(errs, fmt.Errorf("users %d: at least 2 (they follow and message each other)", c.Users))
	}
	if c.Follows < 1 && c.Users >= 2 {
		errs = append(errs, errors.New("follows: at least 1"))
	}
	if c.Duration <= 0 || c.Rate <= 0 || c.Concurrency < 1 {
		errs = append(errs, errors.New("duration, rate and concurrency must be positive"))
	}
	if c.Baseline < 0 || c.PollInterval <= 0 || c.DrainTimeout <= 0 || c.RequestTimeout <= 0 || c.MailTimeout <= 0 {
		errs = append(errs, errors.New("baseline, poll interval and timeouts must not be negative"))
	}
	if c.MailDir == "" {
		errs = append(errs, errors.New("mail dir: none given (the folder nova run's local mail relay keeps the mail in, <root>/.nova/mail; the users' verification codes are read there)"))
	}
	total := 0
	for _, op := range Ops() {
		total += c.Mix[op]
	}
	if total == 0 {
		errs = append(errs, errors.New("mix: every weight is 0"))
	}
	return errors.Join(errs...)
}

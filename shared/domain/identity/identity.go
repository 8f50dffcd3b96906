// Package identity is the identity service of nova-api: accounts,
// sessions (access tokens), the follow graph and blocks.
//
// A block (Block) works both ways and is not revealed to the blocked: it
// ends the follows between the two (a UserUnfollowed each, in its
// transaction), and afterwards the blocker is to the blocked a user who
// does not exist (ErrNotFound for a follow or a profile read) while the
// blocker's own follow of whom they blocked is ErrBlocked. Other domains
// ask Blocked in process; Graph asks the same tables for the functions
// that share the database.
//
// Every state change writes its rows and the event that announces it in one
// PostgreSQL transaction through the transactional outbox, so an event is
// published if and only if its change committed: UserRegistered,
// UserProfileUpdated (only the fields that changed), UserFollowed and
// UserUnfollowed, all on user-events. A request that changes nothing (a
// second follow, an unfollow of someone not followed, a profile update to
// the current values) commits nothing and emits nothing, so consumers never
// see an event for a change that did not happen.
//
// The Service's methods are plain Go, callable from other domains (the
// content domain asks Follows for FOLLOWERS_ONLY posts) and from tests;
// Mount exposes them over HTTP.
package identity

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/session"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/mail"
	"github.com/nova-social/nova/shared/migrate"
	"github.com/nova-social/nova/shared/password"
)

// Component is the identity service's name in nova_schema_migrations.
const Component = "identity"

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the identity service's schema migrations.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		// The path is a constant of this file; fs.Sub fails only on a bad one.
		panic(err)
	}
	return sub
}

// Migrate creates or upgrades the identity tables. The outbox has its own
// migrations (outbox.Migrate), which must have run before the Service
// writes anything.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return migrate.Apply(ctx, pool, Component, Migrations())
}

// DefaultMaxBodyBytes bounds identity request bodies: the largest is a
// profile update with a 2 KiB URL.
const DefaultMaxBodyBytes = 16 << 10

// Config holds what a Service needs. Pool, Outbox, Signer and Hasher are
// required.
type Config struct {
	Pool   *pgxpool.Pool
	Outbox *outbox.Outbox
	// Signer issues access tokens; its key set is served as the JWKS.
	Signer *auth.Signer
	// Hasher hashes and verifies passwords.
	Hasher *password.Hasher
	// Logger receives failures; default slog.Default().
	Logger *slog.Logger
	// Marks mirror live sessions in Redis for the realtime gateway.
	Marks *session.Marks
	// Guard throttles password guessing (ratelimit.LoginGuard); nil: none.
	Guard LoginGuard
	// Reserved are usernames (compared without regard to case) no one may
	// register or rename to, beside DefaultReserved
	// (NOVA_RESERVED_USERNAMES).
	Reserved []string
	// BlockHooks run inside each new block's transaction.
	BlockHooks []BlockHook
	// Mail queues the sign-up mail (codes and notices). Required.
	Mail *mail.Queue
	// VerifyURL is the app's page that takes a sign-up code: the mail
	// links to it with the code in the fragment (NOVA_VERIFY_URL). Empty:
	// the mail holds the code alone.
	VerifyURL string
	// SignUpTTL is how long a sign-up code works; default
	// DefaultSignUpTTL.
	SignUpTTL time.Duration
	// SignUpMailsPerHour is the most sign-up mail one address gets in an
	// hour; default DefaultSignUpMailsPerHour.
	SignUpMailsPerHour int
	// MaxBodyBytes bounds JSON request bodies; default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Defaults returns c with zero optional fields set to their defaults.
func (c Config) Defaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.SignUpTTL == 0 {
		c.SignUpTTL = DefaultSignUpTTL
	}
	if c.SignUpMailsPerHour == 0 {
		c.SignUpMailsPerHour = DefaultSignUpMailsPerHour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports a configuration a Service cannot run with.
func (c Config) Validate() error {
	var errs []error
	if c.Pool == nil {
		errs = append(errs, errors.New("pool is nil"))
	}
	if c.Outbox == nil {
		errs = append(errs, errors.New("outbox is nil"))
	}
	if c.Signer == nil {
		errs = append(errs, errors.New("signer is nil"))
	}
	if c.Hasher == nil {
		errs = append(errs, errors.New("hasher is nil"))
	}
	if c.Marks == nil {
		errs = append(errs, errors.New("session marks are nil"))
	}
	if c.Mail == nil {
		errs = append(errs, errors.New("mail queue is nil"))
	}
	if c.SignUpTTL < time.Minute || c.SignUpMailsPerHour < 1 {
		errs = append(errs, fmt.Errorf("sign-up TTL %s below a minute or %d mails an hour below one", c.SignUpTTL, c.SignUpMailsPerHour))
	}
	if err := CheckVerifyURL(c.VerifyURL); err != nil {
		errs = append(errs, err)
	}
	if c.Logger == nil {
		errs = append(errs, errors.New("logger is nil"))
	}
	if c.MaxBodyBytes < 1<<10 {
		errs = append(errs, fmt.Errorf("max body bytes %d below 1 KiB", c.MaxBodyBytes))
	}
	if c.Now == nil {
		errs = append(errs, errors.New("clock is nil"))
	}
	for _, r := range c.Reserved {
		// A reserved name no one could register anyway is a typo that
		// would leave the name it meant open.
		if err := ValidateUsername(r); err != nil {
			errs = append(errs, fmt.Errorf("reserved username %q: %w", r, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("identity config: %w", err)
	}
	return nil
}

// CheckVerifyURL reports a Config.VerifyURL the mail could not link to: it
// must be empty or an http(s) URL without a fragment (the code goes there).
func CheckVerifyURL(s string) error {
	if s == "" {
		return nil
	}
	if u, err := url.Parse(s); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
		return fmt.Errorf("verify URL %q is not an http(s) URL without a fragment", s)
	}
	return nil
}

// LoginGuard throttles logins by the account typed and the client address.
// Check answers the *httpapi.Error to return instead of trying (a 429), or
// another error when it cannot tell; Failed and Succeeded count the
// outcome.
type LoginGuard interface {
	Check(ctx context.Context, login string, ip netip.Addr) error
	Failed(ctx context.Context, login string, ip netip.Addr) error
	Succeeded(ctx context.Context, login string, ip netip.Addr) error
}

// Service is the identity service. It is safe for concurrent use.
type Service struct {
	cfg    Config
	pool   *pgxpool.Pool
	box    *outbox.Outbox
	signer *auth.Signer
	hasher *password.Hasher
	log    *slog.Logger
	marks  *session.Marks
	// reserved are lower-cased usernames no one may take.
	reserved map[string]bool
}

// New returns a Service for cfg (defaults applied, then validated).
func New(cfg Config) (*Service, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	reserved := make(map[string]bool, len(DefaultReserved)+len(cfg.Reserved))
	for _, r := range slices.Concat(DefaultReserved, cfg.Reserved) {
		reserved[strings.ToLower(r)] = true
	}
	return &Service{
		cfg:      cfg,
		pool:     cfg.Pool,
		box:      cfg.Outbox,
		signer:   cfg.Signer,
		hasher:   cfg.Hasher,
		log:      cfg.Logger,
		marks:    cfg.Marks,
		reserved: reserved,
	}, nil
}

// now is the service clock at PostgreSQL's precision, so the time stored
// in a row and the time in its event are the same instant.
func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// DefaultReserved are the usernames no one may take on any Nova: names a
// reader would take for the service speaking.
var DefaultReserved = []string{
	"admin", "administrator", "root", "system", "sysadmin", "superuser",
	"nova", "nova_team", "novasocial", "official", "staff", "team",
	"support", "help", "helpdesk", "security", "abuse", "moderator", "moderators", "mod", "trust_and_safety",
	"postmaster", "hostmaster", "webmaster", "noreply", "no_reply",
	"api", "www", "mail", "status", "billing", "legal", "privacy",
}

// isReserved reports whether no one may take username.
func (s *Service) isReserved(username string) bool { return s.reserved[strings.ToLower(username)] }

package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/password"
)

// User is an account as stored, without its password hash.
type User struct {
	ID          id.UserID
	Username    string
	Email       string
	DisplayName string
	AvatarURL   string
	Role        auth.Role
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Names of the unique indexes, to tell which one a violation hit.
const (
	usernameIndex = "users_username_lower_key"
	emailIndex    = "users_email_lower_key"
)

const userColumns = `id::text, username, email, display_name, avatar_url, role, created_at, updated_at`

// scanUser reads userColumns, then any extra columns into extra.
func scanUser(row pgx.Row, extra ...any) (User, error) {
	var (
		u    User
		uid  string
		role string
	)
	dest := append([]any{&uid, &u.Username, &u.Email, &u.DisplayName, &u.AvatarURL, &role, &u.CreatedAt, &u.UpdatedAt}, extra...)
	err := row.Scan(dest...)
	if err == nil {
		u.ID, err = id.ParseUserID(uid)
	}
	u.Role = auth.Role(role)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return u, err
}

// Registration is the input of Register.
type Registration struct {
	Username string
	Email    string
	Password string
}

// Validate checks every field and reports the first that is wrong.
func (r Registration) Validate() error {
	if err := ValidateUsername(r.Username); err != nil {
		return err
	}
	if err := ValidateEmail(r.Email); err != nil {
		return err
	}
	return ValidatePassword(r.Password)
}

// Register creates an account at once and emits UserRegistered, with no
// proof that r.Email is the registrant's: for operator tooling and test
// fixtures. People sign up through SignUp and Verify. A username or email
// another account has (in any case) gives ErrUsernameTaken or
// ErrEmailTaken; bad input a *ValidationError. The display name starts as
// the username.
func (s *Service) Register(ctx context.Context, r Registration) (User, error) {
	if err := r.Validate(); err != nil {
		return User{}, err
	}
	if s.isReserved(r.Username) {
		return User{}, ErrUsernameReserved
	}
	// The slow hash runs before the transaction opens, so no connection
	// is held while argon2 works.
	hash, err := s.hasher.Hash(ctx, r.Password)
	if err != nil {
		return User{}, fmt.Errorf("identity: register: %w", err)
	}
	var u User
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		u, err = s.create(ctx, tx, r.Username, r.Email, hash)
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("identity: register: %w", err)
	}
	return u, nil
}

// create inserts an account with a password hash and enqueues its
// UserRegistered, in tx.
func (s *Service) create(ctx context.Context, tx pgx.Tx, username, email, hash string) (User, error) {
	now := s.now()
	u := User{
		ID:          id.NewUserID(),
		Username:    username,
		Email:       email,
		DisplayName: username,
		Role:        auth.RoleUser,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	if _, err := tx.Exec(ctx, `INSERT INTO users (id, username, email, password_hash, display_name, avatar_url, role, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`,
		string(u.ID), u.Username, u.Email, hash, u.DisplayName, u.AvatarURL, string(u.Role), now); err != nil {
		return User{}, uniqueError(err)
	}
	_, err := s.box.Enqueue(ctx, tx, &eventsv1.UserRegistered{
		UserId:       string(u.ID),
		Username:     u.Username,
		Email:        u.Email,
		RegisteredAt: timestamppb.New(now),
	}, envelope.WithTime(now))
	return u, err
}

// uniqueError turns a unique violation on users into the taken error of
// the index it hit.
func uniqueError(err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "23505" {
		switch pg.ConstraintName {
		case usernameIndex:
			return ErrUsernameTaken
		case emailIndex:
			return ErrEmailTaken
		}
	}
	return err
}

// Credentials are the input of Login: a username or an email (exactly one)
// and the password.
type Credentials struct {
	Username string
	Email    string
	Password string
}

// Session is a successful login.
type Session struct {
	Token string
	// ID is the session's id, the token's jti.
	ID        string
	ExpiresAt time.Time
	// ExpiresIn is the token's lifetime from issue.
	ExpiresIn time.Duration
	User      User
}

// Login checks credentials and issues an access token. An unknown user and a
// wrong password both give ErrInvalidCredentials after the same amount of
// hashing work (password.Hasher.Decoy), so neither the answer nor its
// timing tells which usernames exist. A hash made with older parameters is
// replaced. The session is stored with dev and lives until the token
// expires or is revoked.
func (s *Service) Login(ctx context.Context, c Credentials, dev Device) (Session, error) {
	if err := c.validate(); err != nil {
		return Session{}, err
	}
	login := c.Username
	if c.Email != "" {
		login = c.Email
	}
	guard := s.cfg.Guard
	if guard != nil && dev.IP.IsValid() {
		if err := guard.Check(ctx, login, dev.IP); err != nil {
			var refusal *httpapi.Error
			if errors.As(err, &refusal) {
				return Session{}, err
			}
			// The throttle cannot tell (Redis away): the attempt goes
			// on, its pace still bounded by the password hash.
			s.log.WarnContext(ctx, "login throttle not checked", "error", err)
		}
	}
	u, err := s.authenticate(ctx, c)
	if guard != nil && dev.IP.IsValid() {
		var gerr error
		switch {
		case errors.Is(err, ErrInvalidCredentials):
			gerr = guard.Failed(ctx, login, dev.IP)
		case err == nil:
			gerr = guard.Succeeded(ctx, login, dev.IP)
		}
		if gerr != nil {
			s.log.WarnContext(ctx, "login throttle not updated", "error", gerr)
		}
	}
	if err != nil {
		return Session{}, err
	}
	return s.startSession(ctx, u, dev)
}

func (c Credentials) validate() error {
	switch {
	case c.Username == "" && c.Email == "":
		return invalid("username", "or email is required")
	case c.Username != "" && c.Email != "":
		return invalid("username", "and email are exclusive; give one")
	case c.Password == "":
		return invalid("password", "is required")
	}
	return nil
}

// authenticate finds the account c names and checks its password.
func (s *Service) authenticate(ctx context.Context, c Credentials) (User, error) {
	if len(c.Password) > password.MaxPasswordBytes {
		// No stored password is this long; answering at once saves the
		// hash without telling anything about the account.
		return User{}, ErrInvalidCredentials
	}
	where, login := "lower(username) = lower($1)", c.Username
	if c.Email != "" {
		where, login = "lower(email) = lower($1)", c.Email
	}
	var hash string
	err := pgx.ErrNoRows
	var u User
	// No stored name holds NUL (PostgreSQL text cannot), so such a login
	// matches no one, and is answered like any other miss.
	if !strings.ContainsRune(login, 0) {
		u, err = scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+`, password_hash FROM users WHERE `+where, login), &hash)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		if err := s.hasher.Decoy(ctx, c.Password); !errors.Is(err, password.ErrMismatch) {
			return User{}, fmt.Errorf("identity: login: %w", err)
		}
		return User{}, ErrInvalidCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("identity: login: %w", err)
	}
	rehash, err := s.hasher.Verify(ctx, c.Password, hash)
	if errors.Is(err, password.ErrMismatch) {
		return User{}, ErrInvalidCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("identity: login %s: %w", u.ID, err)
	}
	if rehash {
		if err := s.rehash(ctx, u.ID, c.Password, hash); err != nil {
			return User{}, err
		}
	}
	return u, nil
}

// rehash replaces a hash made with older parameters, unless the password
// changed meanwhile. The hash is in no event: it stays inside identity.
func (s *Service) rehash(ctx context.Context, uid id.UserID, pw, old string) error {
	h, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return fmt.Errorf("identity: login %s: rehash: %w", uid, err)
	}
	if _, err := s.pool.Exec(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1 AND password_hash = $3`,
		string(uid), h, old); err != nil {
		return fmt.Errorf("identity: login %s: rehash: %w", uid, err)
	}
	return nil
}

// Get returns the user with the id, or ErrNotFound.
func (s *Service) Get(ctx context.Context, uid id.UserID) (User, error) {
	if _, err := id.ParseUserID(string(uid)); err != nil {
		return User{}, invalid("id", "is not a user id")
	}
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, string(uid)))
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("identity: get %s: %w", uid, err)
	}
	return u, nil
}

// ProfileUpdate is the input of UpdateProfile: nil fields are left as they
// are. An empty AvatarURL removes the avatar.
type ProfileUpdate struct {
	Username    *string
	DisplayName *string
	AvatarURL   *string
}

// Validate checks the fields that are set.
func (p ProfileUpdate) Validate() error {
	if p.Username != nil {
		if err := ValidateUsername(*p.Username); err != nil {
			return err
		}
	}
	if p.DisplayName != nil {
		if err := ValidateDisplayName(*p.DisplayName); err != nil {
			return err
		}
	}
	if p.AvatarURL != nil {
		if err := ValidateAvatarURL(*p.AvatarURL); err != nil {
			return err
		}
	}
	return nil
}

// UpdateProfile changes the fields of p that differ from the stored ones and
// emits UserProfileUpdated carrying only those. When nothing differs it
// writes and emits nothing and returns the user as it is. A username another
// account has gives ErrUsernameTaken.
func (s *Service) UpdateProfile(ctx context.Context, uid id.UserID, p ProfileUpdate) (User, error) {
	if _, err := id.ParseUserID(string(uid)); err != nil {
		return User{}, invalid("id", "is not a user id")
	}
	if err := p.Validate(); err != nil {
		return User{}, err
	}
	if p.Username != nil && s.isReserved(*p.Username) {
		// A name held before it was reserved stays its holder's, in any
		// case they like; no one else may take it.
		cur, err := s.Get(ctx, uid)
		if err != nil {
			return User{}, err
		}
		if !strings.EqualFold(cur.Username, *p.Username) {
			return User{}, ErrUsernameReserved
		}
	}
	var u User
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// FOR UPDATE: two concurrent updates must each compare against the
		// other's result, or both could emit a change from the same old value.
		cur, err := scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1 FOR UPDATE`, string(uid)))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		u = cur
		ev := &eventsv1.UserProfileUpdated{UserId: string(uid)}
		changed := false
		if p.Username != nil && *p.Username != cur.Username {
			u.Username, ev.Username, changed = *p.Username, p.Username, true
		}
		if p.DisplayName != nil && *p.DisplayName != cur.DisplayName {
			u.DisplayName, ev.DisplayName, changed = *p.DisplayName, p.DisplayName, true
		}
		if p.AvatarURL != nil && *p.AvatarURL != cur.AvatarURL {
			u.AvatarURL, ev.AvatarUrl, changed = *p.AvatarURL, p.AvatarURL, true
		}
		if !changed {
			return nil
		}
		now := s.now()
		u.UpdatedAt = now
		ev.UpdatedAt = timestamppb.New(now)
		if _, err := tx.Exec(ctx, `UPDATE users SET username = $2, display_name = $3, avatar_url = $4, updated_at = $5 WHERE id = $1`,
			string(uid), u.Username, u.DisplayName, u.AvatarURL, now); err != nil {
			return uniqueError(err)
		}
		_, err = s.box.Enqueue(ctx, tx, ev, envelope.WithTime(now))
		return err
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrUsernameTaken) {
			return User{}, err
		}
		return User{}, fmt.Errorf("identity: update profile %s: %w", uid, err)
	}
	return u, nil
}

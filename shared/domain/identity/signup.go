package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nova-social/nova/shared/mail"
)

// Signing up proves the address before an account exists. SignUp answers
// alike whether or not the address has an account, and mails it either a
// code (no account yet) or a notice (it has one); Verify takes the code
// back and creates the account. Nothing about an address shows in the
// answer, and an address cannot be claimed by someone who cannot read
// its mail.

// Defaults of the sign-up settings.
const (
	DefaultSignUpTTL          = 24 * time.Hour
	DefaultSignUpMailsPerHour = 5
)

// codeLine starts the line of a sign-up mail that holds the code.
const codeLine = "Verification code: "

var codePattern = regexp.MustCompile(`(?m)^` + codeLine + `([A-Za-z0-9_-]{43})\s*$`)

// CodeFromMail finds the verification code in the text of a sign-up mail.
func CodeFromMail(text string) (string, bool) {
	m := codePattern.FindStringSubmatch(text)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// SignUp checks r and mails its address: a verification code when no
// account has the address, a notice to the account's owner when one
// does. The answer is the same either way. A username another account
// has is ErrUsernameTaken (usernames are public); a reserved one
// ErrUsernameReserved; bad input a *ValidationError. An address that got
// Config.SignUpMailsPerHour sign-up mails this hour gets no more, still
// without a different answer.
func (s *Service) SignUp(ctx context.Context, r Registration) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if s.isReserved(r.Username) {
		return ErrUsernameReserved
	}
	// Both paths hash, so their times do not tell them apart either.
	hash, err := s.hasher.Hash(ctx, r.Password)
	if err != nil {
		return fmt.Errorf("identity: sign up: %w", err)
	}
	code, codeHash, err := newCode()
	if err != nil {
		return fmt.Errorf("identity: sign up: %w", err)
	}
	now := s.now()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM signups WHERE expires_at <= $1`, now); err != nil {
			return err
		}
		var taken bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE lower(username) = lower($1))`,
			r.Username).Scan(&taken); err != nil {
			return err
		}
		if taken {
			return ErrUsernameTaken
		}
		if ok, err := s.mayMail(ctx, tx, r.Email, now); err != nil || !ok {
			return err
		}
		var owner string
		err := tx.QueryRow(ctx, `SELECT username FROM users WHERE lower(email) = lower($1)`, r.Email).Scan(&owner)
		switch {
		case err == nil:
			return s.cfg.Mail.Enqueue(ctx, tx, s.noticeMail(r.Email, owner))
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO signups (code_hash, username, email, password_hash, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, codeHash, r.Username, r.Email, hash, now, now.Add(s.cfg.SignUpTTL)); err != nil {
			return err
		}
		return s.cfg.Mail.Enqueue(ctx, tx, s.codeMail(r, code))
	})
	if err != nil {
		if errors.Is(err, ErrUsernameTaken) {
			return err
		}
		return fmt.Errorf("identity: sign up: %w", err)
	}
	s.cfg.Mail.Wake()
	return nil
}

// mayMail counts a mail to addr in its hour and says whether it may go:
// at most Config.SignUpMailsPerHour to one address, whoever asks for them
// (sign-ups and password resets alike), so no one can flood a mailbox
// through Nova.
func (s *Service) mayMail(ctx context.Context, tx pgx.Tx, addr string, now time.Time) (bool, error) {
	var sent int
	if err := tx.QueryRow(ctx, `INSERT INTO signup_mail (email, window_start, sent) VALUES (lower($1), $2, 1)
		ON CONFLICT (email) DO UPDATE SET
			sent = CASE WHEN signup_mail.window_start <= $2 - interval '1 hour' THEN 1 ELSE signup_mail.sent + 1 END,
			window_start = CASE WHEN signup_mail.window_start <= $2 - interval '1 hour' THEN $2 ELSE signup_mail.window_start END
		RETURNING sent`, addr, now).Scan(&sent); err != nil {
		return false, err
	}
	if sent > s.cfg.SignUpMailsPerHour {
		s.log.Info("identity: mail withheld: the address had its hour's share", "sent", sent-1)
		return false, nil
	}
	return true, nil
}

// ErrBadCode: the verification code is not one this service mailed, was
// used, or expired.
var ErrBadCode = errors.New("identity: verification code not valid")

// Verify takes back a code SignUp mailed and creates its account, emitting
// UserRegistered. The code works once; the address's other pending
// sign-ups go with it. A username or address some account took meanwhile
// is ErrUsernameTaken or ErrEmailTaken (only the address's owner can get
// here, so the second tells no one else anything).
func (s *Service) Verify(ctx context.Context, code string) (User, error) {
	sum, ok := hashCode(code)
	if !ok {
		return User{}, ErrBadCode
	}
	var u User
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var username, email, hash string
		err := tx.QueryRow(ctx, `DELETE FROM signups WHERE code_hash = $1 AND expires_at > $2
			RETURNING username, email, password_hash`, sum, s.now()).Scan(&username, &email, &hash)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrBadCode
		}
		if err != nil {
			return err
		}
		if s.isReserved(username) {
			return ErrUsernameReserved
		}
		if u, err = s.create(ctx, tx, username, email, hash); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM signups WHERE lower(email) = lower($1)`, email)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrBadCode) || errors.Is(err, ErrUsernameReserved) ||
			errors.Is(err, ErrUsernameTaken) || errors.Is(err, ErrEmailTaken) {
			return User{}, err
		}
		return User{}, fmt.Errorf("identity: verify: %w", err)
	}
	return u, nil
}

// spoken is d as a mail says it: "24 hours", "1 hour", "90 minutes".
func spoken(d time.Duration) string {
	switch {
	case d == time.Hour:
		return "1 hour"
	case d%time.Hour == 0:
		return fmt.Sprintf("%d hours", d/time.Hour)
	default:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
}

// hashCode is the SHA-256 a code is kept by, or false for a string no
// code of newCode's can be.
func hashCode(code string) ([]byte, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(code)
	if err != nil || len(raw) != 32 {
		return nil, false
	}
	sum := sha256.Sum256(raw)
	return sum[:], true
}

// newCode is a fresh verification code and its SHA-256.
func newCode() (string, []byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(b), sum[:], nil
}

func (s *Service) codeMail(r Registration, code string) mail.Message {
	var b strings.Builder
	fmt.Fprintf(&b, "Someone, probably you, asked to create the Nova account @%s with this address.\n\n", r.Username)
	b.WriteString("To create it, enter this code in the app:\n\n")
	b.WriteString(codeLine + code + "\n\n")
	if s.cfg.VerifyURL != "" {
		// In the fragment: a browser never sends it to a server's logs.
		fmt.Fprintf(&b, "or open %s#code=%s\n\n", s.cfg.VerifyURL, code)
	}
	fmt.Fprintf(&b, "The code works once, for %s. If you did not ask for this, ignore this message: no account is created.\n",
		spoken(s.cfg.SignUpTTL))
	return mail.Message{To: r.Email, Subject: "Confirm your new Nova account", Text: b.String()}
}

func (s *Service) noticeMail(email, owner string) mail.Message {
	text := fmt.Sprintf("Someone tried to create a new Nova account with this address, which already belongs to @%s.\n\n"+
		"If it was you, log in instead. If it was not, you need do nothing: no account was created, "+
		"and nothing about yours changed.\n", owner)
	return mail.Message{To: email, Subject: "Someone tried to sign up with your address", Text: text}
}

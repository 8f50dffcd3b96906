package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/mail"
)

// ResetTTL is how long a password reset code works.
const ResetTTL = time.Hour

// RequestPasswordReset mails addr a code that sets a new password, when an
// account has it; when none does, nothing is sent. The answer is the same
// either way, so the request tells no one whether the address is
// registered. It spends the address's hourly mail share (mayMail).
func (s *Service) RequestPasswordReset(ctx context.Context, addr string) error {
	if err := ValidateEmail(addr); err != nil {
		return err
	}
	code, codeHash, err := newCode()
	if err != nil {
		return fmt.Errorf("identity: password reset: %w", err)
	}
	now := s.now()
	sent := false
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM password_resets WHERE expires_at <= $1`, now); err != nil {
			return err
		}
		// Counted whether or not an account has the address, so both
		// paths do the same work up to here.
		if ok, err := s.mayMail(ctx, tx, addr, now); err != nil || !ok {
			return err
		}
		var uid, username, email string
		err := tx.QueryRow(ctx, `SELECT id::text, username, email FROM users WHERE lower(email) = lower($1)`, addr).
			Scan(&uid, &username, &email)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO password_resets (code_hash, user_id, created_at, expires_at)
			VALUES ($1, $2, $3, $4)`, codeHash, uid, now, now.Add(ResetTTL)); err != nil {
			return err
		}
		sent = true
		return s.cfg.Mail.Enqueue(ctx, tx, s.resetMail(email, username, code))
	})
	if err != nil {
		return fmt.Errorf("identity: password reset: %w", err)
	}
	if sent {
		s.cfg.Mail.Wake()
	}
	return nil
}

// ResetPassword takes back a code RequestPasswordReset mailed and sets the
// account's password to newPassword: every session of the account ends
// and every other code of it stops working. A wrong, used or expired code
// is ErrBadCode; a password the policy refuses a *ValidationError.
func (s *Service) ResetPassword(ctx context.Context, code, newPassword string) error {
	if err := ValidatePassword(newPassword); err != nil {
		return err
	}
	sum, ok := hashCode(code)
	if !ok {
		return ErrBadCode
	}
	hash, err := s.hasher.Hash(ctx, newPassword)
	if err != nil {
		return fmt.Errorf("identity: reset password: %w", err)
	}
	var ended []string
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var uid string
		err := tx.QueryRow(ctx, `DELETE FROM password_resets WHERE code_hash = $1 AND expires_at > $2 RETURNING user_id::text`,
			sum, s.now()).Scan(&uid)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrBadCode
		}
		if err != nil {
			return err
		}
		user, err := id.ParseUserID(uid)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1`, uid, hash, s.now()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM password_resets WHERE user_id = $1`, uid); err != nil {
			return err
		}
		ended, err = s.revokeAll(ctx, tx, user)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrBadCode) {
			return err
		}
		return fmt.Errorf("identity: reset password: %w", err)
	}
	return s.unmark(ctx, ended...)
}

func (s *Service) resetMail(email, username, code string) mail.Message {
	var b strings.Builder
	fmt.Fprintf(&b, "Someone, probably you, asked to set a new password for the Nova account @%s.\n\n", username)
	b.WriteString("To set one, enter this code in the app with your new password:\n\n")
	b.WriteString(codeLine + code + "\n\n")
	if s.cfg.VerifyURL != "" {
		fmt.Fprintf(&b, "or open %s#reset=%s\n\n", s.cfg.VerifyURL, code)
	}
	fmt.Fprintf(&b, "The code works once, for %s, and logs you out everywhere. If you did not ask for it, ignore this message: your password stays as it is.\n",
		spoken(ResetTTL))
	return mail.Message{To: email, Subject: "Set a new Nova password", Text: b.String()}
}

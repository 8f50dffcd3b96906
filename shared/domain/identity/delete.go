package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/password"
)

// Eraser erases or anonymises what one domain holds of a deleted account,
// inside the deletion's transaction, and enqueues the events its consumers
// need (the content domain a PostDeleted per live post). An error rolls the
// whole deletion back. It must leave nothing of uid behind when it returns
// and be safe to run for an account that holds nothing there.
type Eraser interface {
	EraseUser(ctx context.Context, tx pgx.Tx, uid id.UserID, at time.Time) error
}

// EraserFunc is a function that is an Eraser.
type EraserFunc func(ctx context.Context, tx pgx.Tx, uid id.UserID, at time.Time) error

// EraseUser calls f.
func (f EraserFunc) EraseUser(ctx context.Context, tx pgx.Tx, uid id.UserID, at time.Time) error {
	return f(ctx, tx, uid, at)
}

// Deletion deletes accounts: the users row (its follow edges and sessions
// go with it by cascade), every domain's rows through its Eraser, and
// UserDeleted for the consumers that hold the rest, all in one
// transaction.
type Deletion struct {
	s       *Service
	erasers []Eraser
}

// Deletion returns the account deletion of s, running erasers in the order
// given inside each deletion's transaction.
func (s *Service) Deletion(erasers ...Eraser) *Deletion {
	return &Deletion{s: s, erasers: erasers}
}

// Delete deletes uid's account after checking its password (deleting is
// not undone, so a stolen token alone must not do it). A wrong password
// gives ErrWrongPassword and an account that no longer exists
// ErrNotFound; either way nothing changes.
func (d *Deletion) Delete(ctx context.Context, uid id.UserID, pw string) error {
	if _, err := id.ParseUserID(string(uid)); err != nil {
		return invalid("id", "is not a user id")
	}
	if pw == "" {
		return invalid("password", "is required")
	}
	if len(pw) > password.MaxPasswordBytes {
		return ErrWrongPassword
	}
	s := d.s
	var hash string
	err := s.pool.QueryRow(ctx, `SELECT password_hash FROM users WHERE id = $1`, string(uid)).Scan(&hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("identity: delete %s: %w", uid, err)
	}
	// The slow check runs before the transaction opens, so no connection
	// and no lock is held while argon2 works.
	if _, err := s.hasher.Verify(ctx, pw, hash); errors.Is(err, password.ErrMismatch) {
		return ErrWrongPassword
	} else if err != nil {
		return fmt.Errorf("identity: delete %s: %w", uid, err)
	}
	var sessions []string
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The row is locked first: a concurrent deletion waits here and
		// then finds nothing, and a password changed since the check
		// fails the deletion instead of being bypassed.
		var cur, email string
		err := tx.QueryRow(ctx, `SELECT password_hash, email FROM users WHERE id = $1 FOR UPDATE`, string(uid)).Scan(&cur, &email)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if cur != hash {
			return ErrWrongPassword
		}
		// Sessions go with the row by cascade; their ids are needed to
		// take down the marks the realtime gateway admits by.
		if sessions, err = s.revokeAll(ctx, tx, uid); err != nil {
			return err
		}
		now := s.now()
		for _, e := range d.erasers {
			if err := e.EraseUser(ctx, tx, uid, now); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, string(uid)); err != nil {
			return fmt.Errorf("delete user: %w", err)
		}
		// The address goes too: pending sign-ups with it, its mail count,
		// and mail to it not yet sent.
		for _, q := range []string{
			`DELETE FROM signups WHERE lower(email) = lower($1)`,
			`DELETE FROM signup_mail WHERE email = lower($1)`,
		} {
			if _, err := tx.Exec(ctx, q, email); err != nil {
				return fmt.Errorf("erase the address: %w", err)
			}
		}
		if err := s.cfg.Mail.Forget(ctx, tx, email); err != nil {
			return err
		}
		_, err = s.box.Enqueue(ctx, tx, &eventsv1.UserDeleted{UserId: string(uid), DeletedAt: timestamppb.New(now)},
			envelope.WithTime(now))
		return err
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrWrongPassword) {
			return err
		}
		return fmt.Errorf("identity: delete %s: %w", uid, err)
	}
	// The account is gone whatever happens here: nova-api refuses its
	// tokens already, and a mark left behind only keeps a websocket open
	// until the token expires, so a failure is logged, not answered.
	if err := s.unmark(ctx, sessions...); err != nil {
		s.log.ErrorContext(ctx, "deleted account's session marks left behind", "user", uid, "error", err)
	}
	return nil
}

// Mount registers the deletion endpoint on mux; authed wraps it as it does
// identity's other endpoints.
//
//	DELETE /v1/users/me   delete the caller's account, password in the body (authed)
func (d *Deletion) Mount(mux httpapi.Router, authed func(http.Handler) http.Handler) {
	mux.Handle("DELETE /v1/users/me", authed(httpapi.Handle(d.s.log, d.handleDelete)))
}

type deleteRequest struct {
	Password string `json:"password"`
}

func (d *Deletion) handleDelete(w http.ResponseWriter, r *http.Request) error {
	p, err := principal(r)
	if err != nil {
		return err
	}
	var req deleteRequest
	if err := httpapi.DecodeJSON(w, r, &req, d.s.cfg.MaxBodyBytes); err != nil {
		return err
	}
	if err := d.Delete(r.Context(), p.UserID, req.Password); err != nil {
		// A wrong password is 403 wrong_password, as for a password change:
		// the token is good, the re-authentication is not.
		return apiError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

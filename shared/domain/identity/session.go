package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/session"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/password"
)

// Device is where a login comes from, kept so the owner can tell their
// sessions apart. It is advisory: a client can claim any user agent.
type Device struct {
	UserAgent string
	IP        netip.Addr
}

// Bounds of the stored device description (the sessions table checks them).
const (
	maxUserAgent = 256
	maxIP        = 64
)

func (d Device) userAgent() string {
	ua := strings.ToValidUTF8(d.UserAgent, "")
	for len(ua) > maxUserAgent {
		_, size := utf8.DecodeLastRuneInString(ua)
		ua = ua[:len(ua)-size]
	}
	return ua
}

func (d Device) ip() string {
	if !d.IP.IsValid() {
		return ""
	}
	return d.IP.Unmap().String()
}

// SessionInfo is a live session as its owner sees it.
type SessionInfo struct {
	ID        string
	CreatedAt time.Time
	ExpiresAt time.Time
	UserAgent string
	IP        string
}

// MaxListedSessions bounds Sessions: more live sessions than this are
// possible (one per login) but no one reads past the newest.
const MaxListedSessions = 100

// issue signs a token for u and stores its session in tx. The caller marks
// it in Redis once tx has committed.
func (s *Service) issue(ctx context.Context, q pgx.Tx, u User, dev Device) (Session, error) {
	tok, claims, err := s.signer.Issue(auth.Principal{UserID: u.ID, Role: u.Role})
	if err != nil {
		return Session{}, fmt.Errorf("identity: issue a token for %s: %w", u.ID, err)
	}
	if _, err := q.Exec(ctx, `INSERT INTO sessions (id, user_id, created_at, expires_at, user_agent, ip) VALUES ($1, $2, $3, $4, $5, $6)`,
		claims.ID, string(u.ID), claims.IssuedAt, claims.Expiry, dev.userAgent(), dev.ip()); err != nil {
		return Session{}, fmt.Errorf("identity: store the session of %s: %w", u.ID, err)
	}
	return Session{
		Token:     tok,
		ID:        claims.ID,
		ExpiresAt: claims.Expiry,
		ExpiresIn: claims.Expiry.Sub(claims.IssuedAt),
		User:      u,
	}, nil
}

// startSession issues a token for u in a transaction of its own and marks
// its session live.
func (s *Service) startSession(ctx context.Context, u User, dev Device) (Session, error) {
	var sess Session
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) (err error) {
		sess, err = s.issue(ctx, tx, u, dev)
		return err
	})
	if err != nil {
		return Session{}, err
	}
	if err := s.marks.Mark(ctx, sess.ID, u.ID, sess.ExpiresAt); err != nil {
		return Session{}, fmt.Errorf("identity: login %s: %w", u.ID, err)
	}
	return sess, nil
}

// Verifier wraps the token verifier v: a token passes only while its
// session is live, and the caller's role is the one stored now, not the one
// the token was issued with. So a logout, a password change, a revoked
// session, a deleted account and a revoked role all take effect on the
// next request. While PostgreSQL cannot answer, the session's mark in
// Redis (the gateway's) decides instead, with the user role only: what is
// served from Redis (feeds) stays up, and no admin power rests on a copy.
func (s *Service) Verifier(v TokenVerifier) TokenVerifier {
	return sessionVerifier{next: v, pool: s.pool, marks: s.marks, log: s.log}
}

// TokenVerifier checks a bearer token (httpapi.TokenVerifier).
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (auth.Claims, error)
}

type sessionVerifier struct {
	next  TokenVerifier
	pool  *pgxpool.Pool
	marks *session.Marks
	log   *slog.Logger
}

func (v sessionVerifier) Verify(ctx context.Context, token string) (auth.Claims, error) {
	c, err := v.next.Verify(ctx, token)
	if err != nil {
		return c, err
	}
	if _, err := uuid.Parse(c.ID); err != nil {
		// Only tokens this service issued have sessions.
		return auth.Claims{}, auth.Revoked("no such session")
	}
	var role string
	err = v.pool.QueryRow(ctx, `SELECT u.role FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > now()`, c.ID, string(c.Subject)).Scan(&role)
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.Claims{}, auth.Revoked("the session has ended")
	}
	if err != nil {
		if alive, merr := v.marks.Alive(ctx, c.Subject, c.ID); merr == nil && alive[0] {
			v.log.WarnContext(ctx, "session checked in Redis, PostgreSQL unavailable; serving as a user", "error", err)
			c.Role = auth.RoleUser
			return c, nil
		}
		// Not the token's fault: the caller answers 503.
		return auth.Claims{}, fmt.Errorf("identity: look up session: %w", err)
	}
	c.Role = auth.Role(role)
	return c, nil
}

// Logout ends the caller's session.
func (s *Service) Logout(ctx context.Context, p auth.Principal) error {
	return s.RevokeSession(ctx, p.UserID, p.SessionID)
}

// RevokeSession ends one of uid's live sessions; ErrSessionNotFound when
// uid has no live session with that id.
func (s *Service) RevokeSession(ctx context.Context, uid id.UserID, sessionID string) error {
	if _, err := uuid.Parse(sessionID); err != nil {
		return ErrSessionNotFound
	}
	tag, err := s.pool.Exec(ctx, `UPDATE sessions SET revoked_at = $3
		WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $3`, sessionID, string(uid), s.now())
	if err != nil {
		return fmt.Errorf("identity: revoke session of %s: %w", uid, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrSessionNotFound
	}
	return s.unmark(ctx, sessionID)
}

// unmark removes ended sessions' marks. The sessions already ended in
// PostgreSQL, which nova-api checks; a mark left behind (Redis away) lets
// the gateway keep a websocket until the token expires, so it is an error
// the caller sees.
func (s *Service) unmark(ctx context.Context, sessionIDs ...string) error {
	if err := s.marks.Unmark(ctx, sessionIDs...); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	return nil
}

// Sessions lists uid's live sessions, newest first (at most
// MaxListedSessions).
func (s *Service) Sessions(ctx context.Context, uid id.UserID) ([]SessionInfo, error) {
	rows, err := s.pool.Query(ctx, `SELECT id::text, created_at, expires_at, user_agent, ip FROM sessions
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC, id LIMIT $3`,
		string(uid), s.now(), MaxListedSessions)
	if err != nil {
		return nil, fmt.Errorf("identity: sessions of %s: %w", uid, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SessionInfo, error) {
		var si SessionInfo
		err := r.Scan(&si.ID, &si.CreatedAt, &si.ExpiresAt, &si.UserAgent, &si.IP)
		si.CreatedAt, si.ExpiresAt = si.CreatedAt.UTC(), si.ExpiresAt.UTC()
		return si, err
	})
	if err != nil {
		return nil, fmt.Errorf("identity: sessions of %s: %w", uid, err)
	}
	return out, nil
}

// revokeAll ends every live session of uid in tx and returns their ids.
func (s *Service) revokeAll(ctx context.Context, tx pgx.Tx, uid id.UserID) ([]string, error) {
	rows, err := tx.Query(ctx, `UPDATE sessions SET revoked_at = $2
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 RETURNING id::text`, string(uid), s.now())
	if err != nil {
		return nil, fmt.Errorf("identity: revoke sessions of %s: %w", uid, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("identity: revoke sessions of %s: %w", uid, err)
	}
	return ids, nil
}

// PasswordChange is the input of ChangePassword.
type PasswordChange struct {
	Current string
	New     string
}

// ChangePassword replaces the caller's password after checking the
// current one (ErrWrongPassword), ends every session of theirs, the
// caller's own included, and returns a new session for the caller.
func (s *Service) ChangePassword(ctx context.Context, p auth.Principal, c PasswordChange, dev Device) (Session, error) {
	if c.Current == "" {
		return Session{}, invalid("current_password", "is required")
	}
	if err := ValidatePassword(c.New); err != nil {
		return Session{}, err
	}
	var hash string
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+`, password_hash FROM users WHERE id = $1`, string(p.UserID)), &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, ErrNotFound
	}
	if err != nil {
		return Session{}, fmt.Errorf("identity: change password of %s: %w", p.UserID, err)
	}
	if len(c.Current) > password.MaxPasswordBytes {
		return Session{}, ErrWrongPassword
	}
	if _, err := s.hasher.Verify(ctx, c.Current, hash); errors.Is(err, password.ErrMismatch) {
		return Session{}, ErrWrongPassword
	} else if err != nil {
		return Session{}, fmt.Errorf("identity: change password of %s: %w", p.UserID, err)
	}
	newHash, err := s.hasher.Hash(ctx, c.New)
	if err != nil {
		return Session{}, fmt.Errorf("identity: change password of %s: %w", p.UserID, err)
	}
	var (
		sess  Session
		ended []string
	)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Compare-and-set on the hash: of two changes racing with the same
		// current password, one wins and the other is told it was wrong.
		tag, err := tx.Exec(ctx, `UPDATE users SET password_hash = $3, updated_at = $4 WHERE id = $1 AND password_hash = $2`,
			string(p.UserID), hash, newHash, s.now())
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrWrongPassword
		}
		if ended, err = s.revokeAll(ctx, tx, p.UserID); err != nil {
			return err
		}
		sess, err = s.issue(ctx, tx, u, dev)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrWrongPassword) {
			return Session{}, err
		}
		return Session{}, fmt.Errorf("identity: change password of %s: %w", p.UserID, err)
	}
	if err := s.unmark(ctx, ended...); err != nil {
		return Session{}, err
	}
	if err := s.marks.Mark(ctx, sess.ID, u.ID, sess.ExpiresAt); err != nil {
		return Session{}, fmt.Errorf("identity: change password of %s: %w", p.UserID, err)
	}
	return sess, nil
}

// syncBatch is how many sessions a resync marks per round trip.
const syncBatch = 1000

// KeepSessions keeps Redis's marks complete until ctx ends: every interval
// it checks the sentinel and, when Redis lost it, marks every live session
// again; it also deletes sessions that expired more than a day ago.
func (s *Service) KeepSessions(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.SyncSessions(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("live sessions not written to Redis; the gateway answers 503 until they are", "error", err)
		}
		if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at < $1`, s.now().Add(-24*time.Hour)); err != nil && ctx.Err() == nil {
			s.log.Warn("expired sessions not deleted", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SyncSessions marks every live session in Redis when the sentinel is
// missing, then writes it.
func (s *Service) SyncSessions(ctx context.Context) error {
	if ok, err := s.marks.Synced(ctx); err != nil || ok {
		return err
	}
	after := uuid.Nil.String()
	for {
		rows, err := s.pool.Query(ctx, `SELECT id::text, user_id::text, expires_at FROM sessions
			WHERE id > $1 AND revoked_at IS NULL AND expires_at > now() ORDER BY id LIMIT $2`, after, syncBatch)
		if err != nil {
			return fmt.Errorf("identity: sync sessions: %w", err)
		}
		live, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (session.Live, error) {
			var (
				l   session.Live
				uid string
			)
			if err := r.Scan(&l.ID, &uid, &l.Expires); err != nil {
				return l, err
			}
			var err error
			l.User, err = id.ParseUserID(uid)
			return l, err
		})
		if err != nil {
			return fmt.Errorf("identity: sync sessions: %w", err)
		}
		if len(live) == 0 {
			return s.marks.SetSynced(ctx)
		}
		if err := s.marks.MarkAll(ctx, live); err != nil {
			return err
		}
		// A session revoked (or deleted with its user) between the read and
		// the marking had its mark removed before this one was written:
		// remove it again. One revoked
		// after this check removes the mark itself.
		ids := make([]string, len(live))
		for i, l := range live {
			ids[i] = l.ID
		}
		rows, err = s.pool.Query(ctx, `SELECT x.id::text FROM unnest($1::uuid[]) AS x(id)
			WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = x.id AND s.revoked_at IS NULL)`, ids)
		if err != nil {
			return fmt.Errorf("identity: sync sessions: %w", err)
		}
		ended, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("identity: sync sessions: %w", err)
		}
		if err := s.unmark(ctx, ended...); err != nil {
			return err
		}
		after = live[len(live)-1].ID
	}
}

package notification

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/nova-social/nova/shared/id"
)

const columns = `id::text, recipient_id::text, kind, subject_id, actor_ids::text[], count, text, read_at, created_at, updated_at`

func scanOne(row pgx.Row) (Notification, error) {
	var n Notification
	var kind string
	err := row.Scan(&n.ID, &n.RecipientID, &kind, &n.SubjectID, &n.ActorIDs, &n.Count, &n.Text, &n.ReadAt, &n.CreatedAt, &n.UpdatedAt)
	if err != nil {
		return Notification{}, err
	}
	n.Kind = Kind(kind)
	n.Read = n.ReadAt != nil
	if n.ReadAt != nil {
		t := n.ReadAt.UTC()
		n.ReadAt = &t
	}
	n.CreatedAt, n.UpdatedAt = n.CreatedAt.UTC(), n.UpdatedAt.UTC()
	if n.ActorIDs == nil {
		n.ActorIDs = []string{}
	}
	return n, nil
}

// Cursor is the position after which a page of the inbox starts.
type Cursor struct {
	UpdatedAt time.Time `json:"t"`
	ID        string    `json:"id"`
}

// Validate rejects cursors that cannot name a notification.
func (c Cursor) Validate() error {
	if c.UpdatedAt.IsZero() {
		return errors.New("no time")
	}
	if _, err := uuid.Parse(c.ID); err != nil {
		return fmt.Errorf("notification id: %w", err)
	}
	return nil
}

// Query selects a page of an inbox.
type Query struct {
	// UnreadOnly leaves read notifications out.
	UnreadOnly bool
	// After is the cursor of the previous page's last item; nil for the
	// first page.
	After *Cursor
	// Limit is the page size, at least 1.
	Limit int
}

// List returns user's notifications, most recently updated first (a
// growing group rises to the top), and whether more follow.
func (s *Service) List(ctx context.Context, user id.UserID, q Query) ([]Notification, bool, error) {
	if q.Limit < 1 {
		return nil, false, fmt.Errorf("%w: limit must be positive", ErrInvalid)
	}
	var (
		at  *time.Time
		aid *string
	)
	if q.After != nil {
		at, aid = &q.After.UpdatedAt, &q.After.ID
	}
	// Two statements rather than a parameter, so the unread read can use
	// its partial index.
	unread := ""
	if q.UnreadOnly {
		unread = "AND read_at IS NULL"
	}
	rows, err := s.cfg.Pool.Query(ctx, `SELECT `+columns+` FROM notifications
		WHERE recipient_id = $1 `+unread+`
		  AND ($2::timestamptz IS NULL OR (updated_at, id) < ($2::timestamptz, $3::uuid))
		ORDER BY updated_at DESC, id DESC
		LIMIT $4`, user.String(), at, aid, q.Limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("notification: list: %w", err)
	}
	ns, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notification, error) { return scanOne(r) })
	if err != nil {
		return nil, false, fmt.Errorf("notification: list: %w", err)
	}
	more := len(ns) > q.Limit
	if more {
		ns = ns[:q.Limit]
	}
	return ns, more, nil
}

// Unread counts user's unread notifications.
func (s *Service) Unread(ctx context.Context, user id.UserID) (int64, error) {
	var n int64
	if err := s.cfg.Pool.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE recipient_id = $1 AND read_at IS NULL`,
		user.String()).Scan(&n); err != nil {
		return 0, fmt.Errorf("notification: count unread: %w", err)
	}
	return n, nil
}

// MarkRead marks one of user's notifications read and returns it. Marking
// it again keeps the first read time. Someone else's notification, or none,
// is ErrNotFound: the caller cannot tell the two apart.
func (s *Service) MarkRead(ctx context.Context, user id.UserID, notificationID string) (Notification, error) {
	if _, err := uuid.Parse(notificationID); err != nil {
		return Notification{}, ErrNotFound
	}
	n, err := scanOne(s.cfg.Pool.QueryRow(ctx, `UPDATE notifications SET read_at = COALESCE(read_at, $3)
		WHERE id = $1 AND recipient_id = $2 RETURNING `+columns, notificationID, user.String(), s.now()))
	if errors.Is(err, pgx.ErrNoRows) {
		return Notification{}, ErrNotFound
	}
	if err != nil {
		return Notification{}, fmt.Errorf("notification: mark read: %w", err)
	}
	return n, nil
}

// MarkAllRead marks every unread notification of user read and returns
// how many it marked.
func (s *Service) MarkAllRead(ctx context.Context, user id.UserID) (int64, error) {
	tag, err := s.cfg.Pool.Exec(ctx, `UPDATE notifications SET read_at = $2 WHERE recipient_id = $1 AND read_at IS NULL`,
		user.String(), s.now())
	if err != nil {
		return 0, fmt.Errorf("notification: mark all read: %w", err)
	}
	return tag.RowsAffected(), nil
}

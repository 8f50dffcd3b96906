package notification

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nova-social/nova/shared/id"
)

// EraseUser erases what the inbox holds of a deleted account, inside tx:
// the notifications addressed to the user are deleted, and so are those
// only the user acted in; a group the user shared with others loses the
// user from its actors and one from its count, and its text is written
// again without a preview, which may have quoted the user. Erasing again
// finds nothing.
func (s *Service) EraseUser(ctx context.Context, tx pgx.Tx, uid id.UserID, _ time.Time) error {
	u := uid.String()
	if _, err := tx.Exec(ctx, `DELETE FROM notifications WHERE recipient_id = $1`, u); err != nil {
		return fmt.Errorf("notification: erase inbox of %s: %w", uid, err)
	}
	return s.removeActor(ctx, tx, u, "")
}

// Blocked makes the inboxes of a newly blocked pair forget what each did to
// the other, as EraseUser does for a deleted account but in those two
// inboxes only: neither is shown the other's name there again (the
// notifier leaves out whatever comes later). It is identity's BlockHook.
func (s *Service) Blocked(ctx context.Context, tx pgx.Tx, blocker, blocked id.UserID) error {
	if err := s.removeActor(ctx, tx, blocked.String(), blocker.String()); err != nil {
		return err
	}
	return s.removeActor(ctx, tx, blocker.String(), blocked.String())
}

// removeActor takes actor out of the notifications of recipient (of every
// recipient when ""): those only actor acted in are deleted; a group shared
// with others loses actor from its actors and one from its count, and its
// text is written again without a preview, which may have quoted actor.
func (s *Service) removeActor(ctx context.Context, tx pgx.Tx, u, recipient string) error {
	type group struct {
		id     string
		kind   Kind
		count  int
		actors []string
	}
	rows, err := tx.Query(ctx, `SELECT id::text, kind, count, actor_ids::text[] FROM notifications
		WHERE actor_ids @> ARRAY[$1::uuid] AND ($2 = '' OR recipient_id = $2::uuid) ORDER BY id FOR UPDATE`, u, recipient)
	if err != nil {
		return fmt.Errorf("notification: erase actions of %s: %w", u, err)
	}
	groups, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (group, error) {
		var g group
		var kind string
		err := r.Scan(&g.id, &kind, &g.count, &g.actors)
		g.kind = Kind(kind)
		return g, err
	})
	if err != nil {
		return fmt.Errorf("notification: erase actions of %s: %w", u, err)
	}
	now := s.now()
	for _, g := range groups {
		actors := slices.DeleteFunc(g.actors, func(a string) bool { return a == u })
		if len(actors) == 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM notifications WHERE id = $1`, g.id); err != nil {
				return fmt.Errorf("notification: erase %s: %w", g.id, err)
			}
			continue
		}
		count := max(g.count-1, len(actors))
		if _, err := tx.Exec(ctx, `UPDATE notifications SET actor_ids = $2::uuid[], count = $3, text = $4, updated_at = $5 WHERE id = $1`,
			g.id, actors, count, text(g.kind, count, ""), now); err != nil {
			return fmt.Errorf("notification: anonymise %s: %w", g.id, err)
		}
	}
	return nil
}

// Erase is EraseUser in a transaction of its own that also marks trigger
// processed, for the notifier's UserDeleted: a redelivery finds the
// trigger and changes nothing. It reports whether the trigger was new.
func (s *Service) Erase(ctx context.Context, trigger Trigger, uid id.UserID) (bool, error) {
	if trigger.Source == "" || trigger.ID == "" {
		return false, fmt.Errorf("%w: trigger without source or id", ErrInvalid)
	}
	if _, err := id.ParseUserID(uid.String()); err != nil {
		return false, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	fresh := false
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO notification_triggers (source, id) VALUES ($1, $2)
			ON CONFLICT (source, id) DO NOTHING`, trigger.Source, trigger.ID)
		if err != nil {
			return fmt.Errorf("mark trigger: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		fresh = true
		return s.EraseUser(ctx, tx, uid, time.Time{})
	})
	if err != nil {
		return false, fmt.Errorf("notification: erase %s: %w", uid, err)
	}
	return fresh, nil
}

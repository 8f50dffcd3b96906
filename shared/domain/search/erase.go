package search

import (
	"context"
	"fmt"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/id"
)

// UserDeleted erases a deleted account from the index: its user entry and
// its follow edges, both ways, are deleted; its posts, live or tombstones,
// keep only a tombstone (text and tags erased, deleted, the author
// id.Deleted) so that a late redelivery of one's creation is still
// recognised and dropped. Running it again changes nothing.
func (ix *Indexer) UserDeleted(ctx context.Context, m *eventsv1.UserDeleted) error {
	if err := uuids(m.GetUserId()); err != nil {
		return err
	}
	u := m.GetUserId()
	for _, st := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE search_posts SET author_id = $2, content = '', tags = '{}', deleted_at = COALESCE(deleted_at, now())
			WHERE author_id = $1`, []any{u, id.Deleted.String()}},
		{`DELETE FROM search_users WHERE user_id = $1`, []any{u}},
		{`DELETE FROM search_follows WHERE follower_id = $1 OR followee_id = $1`, []any{u}},
	} {
		if _, err := ix.pool.Exec(ctx, st.sql, st.args...); err != nil {
			return fmt.Errorf("erase user: %w", err)
		}
	}
	return nil
}

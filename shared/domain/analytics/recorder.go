package analytics

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/id"
)

// Recorder counts events into the analytics tables. It is safe for
// concurrent use.
type Recorder struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// NewRecorder returns a Recorder writing through pool. now is the clock for
// events without a time (nil: time.Now).
func NewRecorder(pool *pgxpool.Pool, now func() time.Time) *Recorder {
	if now == nil {
		now = time.Now
	}
	return &Recorder{pool: pool, now: now}
}

// Record counts one decoded event, exactly once: the event's (source, id)
// is written in the same transaction as the counters, so a redelivery, or a
// retry after a failure half-way, counts nothing twice. It reports whether
// the event was counted (false for a duplicate). An event naming malformed
// ids can never be counted: its error is permanent.
func (r *Recorder) Record(ctx context.Context, d envelope.Decoded) (bool, error) {
	c, err := r.counts(d)
	if err != nil {
		return false, fmt.Errorf("analytics: %s %s: %w", d.Event.Type(), d.Event.ID(), delivery.Permanent(err))
	}
	counted := false
	src, evID := envelope.DedupeKey(d.Event)
	err = pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO analytics_processed (source, id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
			src, evID)
		if err != nil {
			return fmt.Errorf("mark processed: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		if c.engagementID != "" {
			tag, err := tx.Exec(ctx, `INSERT INTO analytics_engagements (engagement_id) VALUES ($1) ON CONFLICT DO NOTHING`, c.engagementID)
			if err != nil {
				return fmt.Errorf("mark engagement: %w", err)
			}
			if tag.RowsAffected() == 0 {
				return nil
			}
		}
		// Rows are locked in one order (post, user-day, event-hour) by every
		// transaction, so concurrent deliveries wait for each other but never
		// deadlock.
		if err := c.unlinkErased(ctx, tx); err != nil {
			return err
		}
		if err := c.post(ctx, tx, c.author); err != nil {
			return err
		}
		if c.actor != "" {
			if _, err := tx.Exec(ctx, `INSERT INTO analytics_user_days (day, user_id, events) VALUES ($1, $2, 1)
				ON CONFLICT (day, user_id) DO UPDATE SET events = analytics_user_days.events + 1`,
				c.at.Format(time.DateOnly), c.actor); err != nil {
				return fmt.Errorf("count user day: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO analytics_event_hours (hour, topic, event, kind, events) VALUES ($1, $2, $3, $4, 1)
			ON CONFLICT (hour, topic, event, kind) DO UPDATE SET events = analytics_event_hours.events + 1`,
			c.at.Truncate(time.Hour), c.topic, c.event, c.kind); err != nil {
			return fmt.Errorf("count event hour: %w", err)
		}
		counted = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("analytics: %s %s: %w", d.Event.Type(), d.Event.ID(), err)
	}
	return counted, nil
}

// counts is what one event adds.
type counts struct {
	at           time.Time
	topic, event string
	kind         string // engagement kind, "" for other events
	actor        string // the user who acted, "" if none
	engagementID string
	post         func(ctx context.Context, tx pgx.Tx, author string) error
	// author is the post's author the counters name, "" if none.
	author string
}

func (r *Recorder) counts(d envelope.Decoded) (counts, error) {
	c := counts{
		at:    d.Event.Time().UTC(),
		topic: d.Type.Topic,
		event: string(d.Message.ProtoReflect().Descriptor().Name()),
		post:  func(context.Context, pgx.Tx, string) error { return nil },
	}
	if c.at.IsZero() || c.at.Unix() <= 0 {
		c.at = r.now().UTC()
	}
	var check []string
	switch m := d.Message.(type) {
	case *eventsv1.Engagement:
		col := engagementColumn(m.GetKind())
		if col == "" {
			return c, fmt.Errorf("engagement kind %s is not counted", m.GetKind())
		}
		c.kind = strings.TrimPrefix(m.GetKind().String(), "ENGAGEMENT_KIND_")
		c.actor, c.engagementID = m.GetUserId(), m.GetEngagementId()
		check = []string{m.GetPostId(), m.GetAuthorId(), m.GetUserId()}
		c.author = m.GetAuthorId()
		c.post = func(ctx context.Context, tx pgx.Tx, author string) error {
			// col is one of engagementColumn's constants, never the event's text.
			_, err := tx.Exec(ctx, `INSERT INTO analytics_posts (post_id, author_id, `+col+`) VALUES ($1, $2, $3)
				ON CONFLICT (post_id) DO UPDATE SET `+col+` = analytics_posts.`+col+` + EXCLUDED.`+col+`, updated_at = now()`,
				m.GetPostId(), author, engagementDelta(m.GetKind()))
			if err != nil {
				return fmt.Errorf("count engagement: %w", err)
			}
			return nil
		}
	case *eventsv1.PostCreated:
		c.actor = m.GetUserId()
		check = []string{m.GetPostId(), m.GetUserId()}
		created := c.at
		if m.GetCreatedAt().IsValid() && m.GetCreatedAt().AsTime().Unix() > 0 {
			created = m.GetCreatedAt().AsTime()
		}
		c.author = m.GetUserId()
		c.post = func(ctx context.Context, tx pgx.Tx, author string) error {
			_, err := tx.Exec(ctx, `INSERT INTO analytics_posts (post_id, author_id, created_at) VALUES ($1, $2, $3)
				ON CONFLICT (post_id) DO UPDATE SET created_at = COALESCE(analytics_posts.created_at, EXCLUDED.created_at)`,
				m.GetPostId(), author, created)
			if err != nil {
				return fmt.Errorf("record post: %w", err)
			}
			return nil
		}
	case *eventsv1.PostUpdated:
		c.actor = m.GetUserId()
		check = []string{m.GetPostId(), m.GetUserId()}
	case *eventsv1.PostDeleted:
		c.actor = m.GetUserId()
		check = []string{m.GetPostId(), m.GetUserId()}
		c.author = m.GetUserId()
		c.post = func(ctx context.Context, tx pgx.Tx, author string) error {
			_, err := tx.Exec(ctx, `INSERT INTO analytics_posts (post_id, author_id, deleted_at) VALUES ($1, $2, $3)
				ON CONFLICT (post_id) DO UPDATE SET deleted_at = COALESCE(analytics_posts.deleted_at, EXCLUDED.deleted_at)`,
				m.GetPostId(), author, c.at)
			if err != nil {
				return fmt.Errorf("record delete: %w", err)
			}
			return nil
		}
	case *eventsv1.UserRegistered:
		c.actor = m.GetUserId()
		check = []string{c.actor}
	case *eventsv1.UserProfileUpdated:
		c.actor = m.GetUserId()
		check = []string{c.actor}
	case *eventsv1.UserFollowed:
		c.actor = m.GetFollowerId()
		check = []string{c.actor, m.GetFolloweeId()}
	case *eventsv1.UserUnfollowed:
		c.actor = m.GetFollowerId()
		check = []string{c.actor, m.GetFolloweeId()}
	case *eventsv1.UserDeleted:
		// No actor: the deletion is not a day of activity of anyone.
		check = []string{m.GetUserId()}
		c.post = func(ctx context.Context, tx pgx.Tx, _ string) error { return anonymise(ctx, tx, m.GetUserId()) }
	}
	// Other events are counted per topic and hour only.
	for _, v := range check {
		if _, err := id.ParseUserID(v); err != nil {
			return c, err
		}
	}
	return c, nil
}

// engagementColumn is the analytics_posts column a kind counts in, "" for
// a kind that is not counted.
func engagementColumn(k eventsv1.EngagementKind) string {
	switch k {
	case eventsv1.EngagementKind_ENGAGEMENT_KIND_VIEW:
		return "views"
	case eventsv1.EngagementKind_ENGAGEMENT_KIND_LIKE, eventsv1.EngagementKind_ENGAGEMENT_KIND_UNLIKE:
		return "likes"
	case eventsv1.EngagementKind_ENGAGEMENT_KIND_COMMENT:
		return "comments"
	case eventsv1.EngagementKind_ENGAGEMENT_KIND_SHARE:
		return "shares"
	}
	return ""
}

// engagementDelta is what a kind adds to its column. Net likes are not
// floored at zero: an UNLIKE is never delivered before its LIKE (both are
// keyed by post), and a floor would make a reordered pair count wrong.
func engagementDelta(k eventsv1.EngagementKind) int64 {
	if k == eventsv1.EngagementKind_ENGAGEMENT_KIND_UNLIKE {
		return -1
	}
	return 1
}

package moderation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/outbox"
)

// Reason is one rule a post broke, or a reviewer's note.
type Reason struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// Verdict is the rules' judgement of one version of a post.
type Verdict struct {
	PostID    string
	AuthorID  string
	Content   string
	Tags      []string
	ContentAt time.Time
	Action    eventsv1.ModerationAction
	Reasons   []Reason
}

// Subject is the newest judged version of a post.
type Subject struct {
	PostID    string
	AuthorID  string
	Content   string
	Tags      []string
	ContentAt time.Time
	Action    eventsv1.ModerationAction
}

// Store keeps trust-safety's tables and writes decisions through the
// outbox. It is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	outbox *outbox.Outbox
	now    func() time.Time
}

// NewStore returns a store on pool writing events through ob.
func NewStore(pool *pgxpool.Pool, ob *outbox.Outbox) (*Store, error) {
	if pool == nil || ob == nil {
		return nil, errors.New("moderation: store needs a pool and an outbox")
	}
	return &Store{pool: pool, outbox: ob, now: time.Now}, nil
}

// Record stores v and its ModerationDecision (decided_by "auto") in one
// transaction, and queues a FLAG or HIDE for review. It returns false, and
// writes nothing, when this version or a newer one of the post was judged
// already: a redelivered event is decided once.
func (s *Store) Record(ctx context.Context, v Verdict) (bool, error) {
	reasons, err := json.Marshal(nonNilReasons(v.Reasons))
	if err != nil {
		return false, fmt.Errorf("moderation: reasons: %w", err)
	}
	tags := nonNilTags(v.Tags)
	recorded := false
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO moderation_subjects AS s (post_id, author_id, content, tags, content_at, action)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (post_id) DO UPDATE SET content = excluded.content, tags = excluded.tags,
				content_at = excluded.content_at, action = excluded.action
			WHERE s.content_at < excluded.content_at`,
			v.PostID, v.AuthorID, v.Content, tags, v.ContentAt, v.Action.String())
		if err != nil {
			return fmt.Errorf("store subject: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		recorded = true
		switch v.Action {
		case eventsv1.ModerationAction_MODERATION_ACTION_FLAG, eventsv1.ModerationAction_MODERATION_ACTION_HIDE:
			_, err = tx.Exec(ctx, `INSERT INTO moderation_queue (post_id, author_id, content, tags, action, reasons, content_at, queued_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
				ON CONFLICT (post_id) DO UPDATE SET content = excluded.content, tags = excluded.tags,
					action = excluded.action, reasons = excluded.reasons, content_at = excluded.content_at`,
				v.PostID, v.AuthorID, v.Content, tags, v.Action.String(), reasons, v.ContentAt, s.now())
		default:
			// A newer version the rules allow makes a queued verdict moot.
			_, err = tx.Exec(ctx, `DELETE FROM moderation_queue WHERE post_id = $1`, v.PostID)
		}
		if err != nil {
			return fmt.Errorf("queue: %w", err)
		}
		return s.decide(ctx, tx, &eventsv1.ModerationDecision{
			PostId: v.PostID, AuthorId: v.AuthorID, Action: v.Action, Reasons: toProto(v.Reasons),
			DecidedBy: "auto", ContentAt: timestamppb.New(v.ContentAt),
		})
	})
	if err != nil {
		return false, fmt.Errorf("moderation: record verdict on %s: %w", v.PostID, err)
	}
	return recorded, nil
}

// Subject returns the newest judged version of a post.
func (s *Store) Subject(ctx context.Context, postID string) (Subject, bool, error) {
	var (
		sub    Subject
		action string
	)
	err := s.pool.QueryRow(ctx, `SELECT post_id::text, author_id::text, content, tags, content_at, action
		FROM moderation_subjects WHERE post_id = $1`, postID).
		Scan(&sub.PostID, &sub.AuthorID, &sub.Content, &sub.Tags, &sub.ContentAt, &action)
	if errors.Is(err, pgx.ErrNoRows) {
		return Subject{}, false, nil
	}
	if err != nil {
		return Subject{}, false, fmt.Errorf("moderation: read subject %s: %w", postID, err)
	}
	sub.ContentAt = sub.ContentAt.UTC()
	sub.Action = eventsv1.ModerationAction(eventsv1.ModerationAction_value[action])
	return sub, true, nil
}

// Forget drops a deleted post's subject and queue entry. It is idempotent.
func (s *Store) Forget(ctx context.Context, postID string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM moderation_queue WHERE post_id = $1`, postID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM moderation_subjects WHERE post_id = $1`, postID)
		return err
	})
	if err != nil {
		return fmt.Errorf("moderation: forget %s: %w", postID, err)
	}
	return nil
}

// Item is a queued post as the review endpoint shows it.
type Item struct {
	PostID    string    `json:"post_id"`
	AuthorID  string    `json:"author_id"`
	Content   string    `json:"content"`
	Tags      []string  `json:"tags"`
	Action    string    `json:"action"`
	Reasons   []Reason  `json:"reasons"`
	ContentAt time.Time `json:"content_at"`
	QueuedAt  time.Time `json:"queued_at"`
}

// position is where a queue page ends.
type position struct {
	QueuedAt time.Time `json:"t"`
	PostID   string    `json:"id"`
}

// Validate refuses a cursor a client made up.
func (p position) Validate() error {
	if _, err := uuid.Parse(p.PostID); err != nil || p.QueuedAt.IsZero() {
		return errors.New("bad position")
	}
	return nil
}

// Queue lists queued posts oldest first, after pos when given.
func (s *Store) Queue(ctx context.Context, after *position, limit int) ([]Item, error) {
	q := `SELECT post_id::text, author_id::text, content, tags, action, reasons, content_at, queued_at
		FROM moderation_queue`
	args := []any{limit}
	if after != nil {
		q += ` WHERE (queued_at, post_id) > ($2, $3)`
		args = append(args, after.QueuedAt, after.PostID)
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY queued_at, post_id LIMIT $1`, args...)
	if err != nil {
		return nil, fmt.Errorf("moderation: read queue: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Item, error) {
		var it Item
		err := r.Scan(&it.PostID, &it.AuthorID, &it.Content, &it.Tags, &it.Action, &it.Reasons, &it.ContentAt, &it.QueuedAt)
		it.Action = actionName(eventsv1.ModerationAction(eventsv1.ModerationAction_value[it.Action]))
		it.ContentAt, it.QueuedAt = it.ContentAt.UTC(), it.QueuedAt.UTC()
		it.Tags, it.Reasons = nonNilTags(it.Tags), nonNilReasons(it.Reasons)
		return it, err
	})
	if err != nil {
		return nil, fmt.Errorf("moderation: read queue: %w", err)
	}
	return items, nil
}

// ErrNotQueued: the post is not in the review queue (never queued, decided
// already, or deleted).
var ErrNotQueued = errors.New("moderation: post is not in the review queue")

// Decide records a reviewer's decision on a queued post: the queue entry
// goes and a ModerationDecision with decided_by = reviewer, about the
// version that was queued, is written in the same transaction.
func (s *Store) Decide(ctx context.Context, postID, reviewer string, action eventsv1.ModerationAction, note string) (*eventsv1.ModerationDecision, error) {
	var d *eventsv1.ModerationDecision
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var (
			author    string
			contentAt time.Time
		)
		err := tx.QueryRow(ctx, `DELETE FROM moderation_queue WHERE post_id = $1 RETURNING author_id::text, content_at`, postID).
			Scan(&author, &contentAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotQueued
		}
		if err != nil {
			return err
		}
		d = &eventsv1.ModerationDecision{
			PostId: postID, AuthorId: author, Action: action, DecidedBy: reviewer,
			Reasons: []*eventsv1.ModerationReason{{Code: "reviewer", Detail: note}}, ContentAt: timestamppb.New(contentAt),
		}
		return s.decide(ctx, tx, d)
	})
	if errors.Is(err, ErrNotQueued) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("moderation: decide on %s: %w", postID, err)
	}
	return d, nil
}

// decide fills the decision's id and time and writes its event into tx.
// The decision id is the event id, so consumers deduplicate on either.
func (s *Store) decide(ctx context.Context, tx pgx.Tx, d *eventsv1.ModerationDecision) error {
	u, err := uuid.NewV7()
	if err != nil {
		return err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	d.DecisionId, d.DecidedAt = u.String(), timestamppb.New(now)
	if _, err := s.outbox.Enqueue(ctx, tx, d, envelope.WithID(d.DecisionId), envelope.WithTime(now)); err != nil {
		return fmt.Errorf("enqueue decision: %w", err)
	}
	return nil
}

func toProto(rs []Reason) []*eventsv1.ModerationReason {
	out := make([]*eventsv1.ModerationReason, 0, len(rs))
	for _, r := range rs {
		out = append(out, &eventsv1.ModerationReason{Code: r.Code, Detail: r.Detail})
	}
	return out
}

// ReasonText is a decision's reasons as one line for the post's author,
// e.g. "blocked_term: buy followers; link_spam: 5 links (at most 3)".
func ReasonText(rs []*eventsv1.ModerationReason) string {
	out := ""
	for i, r := range rs {
		if i > 0 {
			out += "; "
		}
		out += r.GetCode()
		if r.GetDetail() != "" {
			out += ": " + r.GetDetail()
		}
	}
	return out
}

func nonNilTags(t []string) []string {
	if t == nil {
		return []string{}
	}
	return t
}

func nonNilReasons(r []Reason) []Reason {
	if r == nil {
		return []Reason{}
	}
	return r
}

package notification

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/id"
)

// Trigger is the CloudEvents identity of the event that caused
// notifications: what deduplication is keyed on.
type Trigger struct {
	Source string
	ID     string
}

// Incoming is one action to notify a recipient of.
type Incoming struct {
	Recipient id.UserID
	Kind      Kind
	// SubjectID is the post, the conversation, or for a follow the
	// followed user (the recipient).
	SubjectID string
	Actor     id.UserID
	// Preview is the message or comment text, shortened in the
	// notification's text; empty for likes and follows.
	Preview string
}

func (in Incoming) validate() error {
	if in.Recipient.IsZero() || in.Actor.IsZero() {
		return errors.New("recipient and actor are required")
	}
	if in.Recipient == in.Actor {
		return fmt.Errorf("%s would notify %s of their own action", in.Kind, in.Actor)
	}
	if !in.Kind.Valid() {
		return fmt.Errorf("unknown kind %q", in.Kind)
	}
	if in.SubjectID == "" {
		return fmt.Errorf("%s has no subject", in.Kind)
	}
	return nil
}

func (in Incoming) groupKey() string { return string(in.Kind) + ":" + in.SubjectID }

// ErrInvalid matches the errors of Record for input that can never be
// recorded (the caller should not retry it).
var ErrInvalid = errors.New("notification: invalid input")

// Result is what Record did.
type Result struct {
	// Duplicate is true when the trigger had been recorded before; nothing
	// was written.
	Duplicate bool
	// Written are the notifications created or grown, in input order; an
	// action that changed nothing (a repeated like) has none.
	Written []Notification
}

// groupLockClass keeps Record's advisory locks apart from the outbox's
// and others' (the first int4 of the two-key form; "ntfg" in ASCII).
const groupLockClass int32 = 0x6e746667

// Record files the actions in, caused by trigger, into their recipients'
// inboxes in one transaction: the trigger is marked processed, each action
// creates a notification or folds into its open group, and every
// notification created or grown is announced with NotificationCreated
// through the outbox. A trigger recorded before makes Record a no-op, so
// a redelivered event changes nothing. An empty in still marks the trigger
// processed: the decision that it notifies no one is kept too.
func (s *Service) Record(ctx context.Context, trigger Trigger, in []Incoming) (Result, error) {
	if trigger.Source == "" || trigger.ID == "" {
		return Result{}, fmt.Errorf("%w: trigger without source or id", ErrInvalid)
	}
	for _, n := range in {
		if err := n.validate(); err != nil {
			return Result{}, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	var res Result
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		res = Result{}
		tag, err := tx.Exec(ctx, `INSERT INTO notification_triggers (source, id) VALUES ($1, $2)
			ON CONFLICT (source, id) DO NOTHING`, trigger.Source, trigger.ID)
		if err != nil {
			return fmt.Errorf("mark trigger: %w", err)
		}
		if tag.RowsAffected() == 0 {
			res.Duplicate = true
			return nil
		}
		if len(in) == 0 {
			return nil
		}
		// Concurrent events for one group (likes arriving on different
		// partitions) must not both open a notification: writers of a
		// (recipient, group) queue on a transaction lock, taken in one
		// sorted order so transactions with several groups cannot deadlock,
		// and all before the outbox's own key locks.
		locks := make([]int32, 0, len(in))
		for _, n := range in {
			locks = append(locks, groupHash(n.Recipient, n.groupKey()))
		}
		slices.Sort(locks)
		b := &pgx.Batch{}
		for _, h := range slices.Compact(locks) {
			b.Queue("SELECT pg_advisory_xact_lock($1, $2)", groupLockClass, h)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("lock groups: %w", err)
		}
		now := s.now()
		var msgs []proto.Message
		for _, n := range in {
			out, changed, err := s.fold(ctx, tx, n, now)
			if err != nil {
				return err
			}
			if !changed {
				continue
			}
			res.Written = append(res.Written, out)
			msgs = append(msgs, announcement(out))
		}
		if len(msgs) == 0 {
			return nil
		}
		if _, err := s.cfg.Outbox.EnqueueAll(ctx, tx, msgs); err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("notification: record %s %s: %w", trigger.Source, trigger.ID, err)
	}
	return res, nil
}

// fold adds n to its recipient's open group, or opens a new notification.
// It reports false when n changed nothing.
func (s *Service) fold(ctx context.Context, tx pgx.Tx, n Incoming, now time.Time) (Notification, bool, error) {
	open, err := scanOne(tx.QueryRow(ctx, `SELECT `+columns+` FROM notifications
		WHERE recipient_id = $1 AND group_key = $2 AND read_at IS NULL AND created_at > $3
		ORDER BY created_at DESC LIMIT 1`,
		n.Recipient.String(), n.groupKey(), now.Add(-s.cfg.GroupWindow)))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		out := Notification{
			ID: uuid.Must(uuid.NewV7()).String(), RecipientID: n.Recipient.String(), Kind: n.Kind,
			SubjectID: n.SubjectID, ActorIDs: []string{n.Actor.String()}, Count: 1,
			Text: text(n.Kind, 1, n.Preview), CreatedAt: now, UpdatedAt: now,
		}
		if _, err := tx.Exec(ctx, `INSERT INTO notifications
			(id, recipient_id, kind, subject_id, actor_ids, count, text, group_key, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)`,
			out.ID, out.RecipientID, string(out.Kind), out.SubjectID, out.ActorIDs, out.Count, out.Text,
			n.groupKey(), now); err != nil {
			return Notification{}, false, fmt.Errorf("insert notification: %w", err)
		}
		return out, true, nil
	case err != nil:
		return Notification{}, false, fmt.Errorf("read open group: %w", err)
	}
	actor := n.Actor.String()
	listed := slices.Contains(open.ActorIDs, actor)
	if listed && !n.Kind.countsRepeats() {
		return open, false, nil
	}
	actors := append([]string{actor}, slices.DeleteFunc(open.ActorIDs, func(a string) bool { return a == actor })...)
	if len(actors) > MaxActors {
		actors = actors[:MaxActors]
	}
	open.ActorIDs = actors
	open.Count++
	open.Text = text(n.Kind, open.Count, n.Preview)
	// updated_at never goes back, even if replicas' clocks disagree.
	if err := tx.QueryRow(ctx, `UPDATE notifications SET actor_ids = $2, count = $3, text = $4,
			updated_at = GREATEST($5, updated_at + interval '1 microsecond')
		WHERE id = $1 RETURNING updated_at`,
		open.ID, open.ActorIDs, open.Count, open.Text, now).Scan(&open.UpdatedAt); err != nil {
		return Notification{}, false, fmt.Errorf("grow notification: %w", err)
	}
	open.UpdatedAt = open.UpdatedAt.UTC()
	return open, true, nil
}

// announcement is the NotificationCreated of n.
func announcement(n Notification) *eventsv1.NotificationCreated {
	return &eventsv1.NotificationCreated{
		NotificationId: n.ID,
		RecipientId:    n.RecipientID,
		Kind:           n.Kind.Proto(),
		ActorIds:       n.ActorIDs,
		Count:          int32(min(n.Count, 1<<31-1)),
		SubjectId:      n.SubjectID,
		Text:           n.Text,
		CreatedAt:      timestamppb.New(n.CreatedAt),
	}
}

// text is the notification's line. It names no one: events carry ids, and
// clients show the actors from actor_ids.
func text(k Kind, count int, preview string) string {
	preview = shorten(preview)
	switch k {
	case Message:
		if count == 1 {
			if preview == "" {
				return "You have a new message"
			}
			return "New message: " + preview
		}
		return fmt.Sprintf("You have %d new messages", count)
	case Follow:
		if count == 1 {
			return "You have a new follower"
		}
		return fmt.Sprintf("You have %d new followers", count)
	case Like:
		if count == 1 {
			return "Your post has a new like"
		}
		return fmt.Sprintf("Your post has %d new likes", count)
	case Comment:
		if count == 1 {
			if preview == "" {
				return "New comment on your post"
			}
			return "New comment on your post: " + preview
		}
		return fmt.Sprintf("%d new comments on your post", count)
	}
	return ""
}

// shorten keeps the first line of s, at most maxPreviewRunes runes.
func shorten(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i]) + "…"
	}
	if utf8.RuneCountInString(s) <= maxPreviewRunes {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:maxPreviewRunes-1])) + "…"
}

func groupHash(recipient id.UserID, key string) int32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(recipient))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(key))
	return int32(h.Sum32())
}

// Prune forgets triggers processed before cutoff. Call it with a cutoff
// older than anything Kafka can still redeliver (its retention).
func (s *Service) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := s.cfg.Pool.Exec(ctx, `DELETE FROM notification_triggers WHERE processed_at < $1`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("notification: prune triggers: %w", err)
	}
	return tag.RowsAffected(), nil
}

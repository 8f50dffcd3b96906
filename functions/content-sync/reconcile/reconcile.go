// Package reconcile is the work of the content-sync function: it keeps
// content's store and content-events in step when a post event reaches the
// topic without content (an operator's kcat, the design document's
// console-producer test, anyone the topic lets write).
//
//   - A PostCreated of a post content holds (its own events coming back,
//     the common case) changes nothing, at the cost of one primary-key
//     lookup.
//   - A PostCreated of a post content never held becomes a post in content,
//     stored as Create would have stored it and with no event of its own
//     (the creation is on the topic already), when content would have
//     accepted it: its author is an account and its text, tags, type and
//     visibility pass content's rules (content.Service.CheckCreated).
//     Otherwise it is withdrawn: content keeps a tombstone of it and
//     enqueues a PostDeleted through its outbox, keyed by the author as the
//     creation was, so every consumer of the topic removes it again.
//   - A PostUpdated of a post content never held is withdrawn likewise.
//   - A PostDeleted changes nothing: of a post content holds, it is
//     content's own or the post is gone already; of one it never held,
//     there is nothing to remove.
//
// A post content deleted keeps its row (deletion is soft), and a withdrawn
// post leaves a tombstone, so a late or replayed copy of its creation finds
// a row and changes nothing: neither is ever brought back. Redelivery is
// harmless: an adopted post is found, a withdrawal writes its tombstone
// and its PostDeleted once.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/content"
	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/id"
)

// Outcome says what an event did, for logs and tests.
type Outcome string

// Outcomes.
const (
	// Held: content holds the post (its own event, or one reconciled
	// before); nothing changed.
	Held Outcome = "held"
	// Adopted: the post is now content's, as its author would have
	// created it.
	Adopted Outcome = "adopted"
	// Withdrawn: content would not have the post; its tombstone and a
	// PostDeleted were written.
	Withdrawn Outcome = "withdrawn"
	// Ignored: not an event that can put a post where content has none.
	Ignored Outcome = "ignored"
)

// Reconciler applies content-events to content's store.
type Reconciler struct {
	pool    *pgxpool.Pool
	content *content.Service
	log     *slog.Logger
}

// New returns a Reconciler over content's tables in pool (identity's users
// table in the same database says who is an account); svc writes through
// the outbox content-events' consumers read.
func New(pool *pgxpool.Pool, svc *content.Service, log *slog.Logger) (*Reconciler, error) {
	if pool == nil || svc == nil {
		return nil, errors.New("reconcile: a pool and the content service are required")
	}
	if log == nil {
		log = slog.Default()
	}
	return &Reconciler{pool: pool, content: svc, log: log}, nil
}

// React applies one decoded event. Errors wrapped by delivery.Permanent
// can never succeed (dead-letter at once); others may on retry.
func (r *Reconciler) React(ctx context.Context, d envelope.Decoded) (Outcome, error) {
	switch m := d.Message.(type) {
	case *eventsv1.PostCreated:
		if m.CreatedAt == nil {
			// A plain record may carry no time; the record's own timestamp
			// is what every consumer takes instead.
			m.CreatedAt = timestamppb.New(d.At())
		}
		return r.created(ctx, d, m)
	case *eventsv1.PostUpdated:
		return r.updated(ctx, d, m)
	default:
		// PostDeleted, or an event of another topic.
		return Ignored, nil
	}
}

func (r *Reconciler) created(ctx context.Context, d envelope.Decoded, m *eventsv1.PostCreated) (Outcome, error) {
	pid, author, err := ids(d, m.GetPostId(), m.GetUserId())
	if err != nil {
		return "", err
	}
	if held, err := r.content.Holds(ctx, pid); err != nil {
		return "", err
	} else if held {
		return Held, nil
	}
	p, refused := r.content.CheckCreated(m)
	if refused != nil && !errors.Is(refused, content.ErrInvalid) {
		return "", refused
	}
	var (
		out Outcome
		why string
	)
	err = pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		why = ""
		if refused != nil {
			why = "content refuses it: " + refused.Error()
			return r.withdraw(ctx, tx, pid, author, &out)
		}
		live, err := identity.HoldAccount(ctx, tx, author)
		if err != nil {
			return err
		}
		if !live {
			why = "its author is no account"
			return r.withdraw(ctx, tx, pid, author, &out)
		}
		adopted, err := r.content.Adopt(ctx, tx, p)
		if err != nil {
			return err
		}
		out = Held
		if adopted {
			out = Adopted
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("reconcile: PostCreated %s: %w", pid, err)
	}
	r.report(ctx, d, pid, author, out, why)
	return out, nil
}

func (r *Reconciler) updated(ctx context.Context, d envelope.Decoded, m *eventsv1.PostUpdated) (Outcome, error) {
	pid, author, err := ids(d, m.GetPostId(), m.GetUserId())
	if err != nil {
		return "", err
	}
	if held, err := r.content.Holds(ctx, pid); err != nil {
		return "", err
	} else if held {
		return Held, nil
	}
	var out Outcome
	if err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		return r.withdraw(ctx, tx, pid, author, &out)
	}); err != nil {
		return "", fmt.Errorf("reconcile: PostUpdated %s: %w", pid, err)
	}
	r.report(ctx, d, pid, author, out, "an update of a post content never held")
	return out, nil
}

// withdraw writes the post's tombstone and its PostDeleted in tx; *out is
// Held when a row appeared meanwhile (another delivery of the event).
func (r *Reconciler) withdraw(ctx context.Context, tx pgx.Tx, pid id.PostID, author id.UserID, out *Outcome) error {
	done, err := r.content.Withdraw(ctx, tx, pid, author)
	if err != nil {
		return err
	}
	*out = Held
	if done {
		*out = Withdrawn
	}
	return nil
}

func (r *Reconciler) report(ctx context.Context, d envelope.Decoded, pid id.PostID, author id.UserID, out Outcome, why string) {
	attrs := []any{"post", pid, "author", author, "type", d.Event.Type(), "source", d.Event.Source(), "id", d.Event.ID()}
	switch out {
	case Adopted:
		r.log.InfoContext(ctx, "post written to content-events without content adopted", attrs...)
	case Withdrawn:
		r.log.WarnContext(ctx, "post written to content-events without content withdrawn (PostDeleted)", append(attrs, "reason", why)...)
	}
}

// ids parses the post and author of an event; the contract checked both
// when the event was decoded, so a failure here is permanent.
func ids(d envelope.Decoded, post, user string) (id.PostID, id.UserID, error) {
	pid, err := id.ParsePostID(post)
	if err != nil {
		return "", "", delivery.Permanent(fmt.Errorf("%s %s: post_id: %w", d.Event.Type(), d.Event.ID(), err))
	}
	author, err := id.ParseUserID(user)
	if err != nil {
		return "", "", delivery.Permanent(fmt.Errorf("%s %s: user_id: %w", d.Event.Type(), d.Event.ID(), err))
	}
	return pid, author, nil
}

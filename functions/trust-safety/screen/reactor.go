package screen

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/moderation"
	"github.com/nova-social/nova/shared/event/envelope"
)

// Repeats counts, per author and normalised text, the distinct posts that
// carried it within the window, in Redis:
//
//	{prefix}repeat:{author}:{sha256 of the text}  ZSET post id → content time (unix ms)
//
// Adding a post is idempotent (the member is the post id), so a redelivered
// event counts once and an edit of the same post never counts twice.
type Repeats struct {
	rdb    *redis.Client
	prefix string
	window time.Duration
}

// NewRepeats returns a counter over rdb with keys under prefix.
func NewRepeats(rdb *redis.Client, prefix string, window time.Duration) *Repeats {
	return &Repeats{rdb: rdb, prefix: prefix, window: window}
}

// Add records that postID carried normalised text at, and returns how many
// distinct posts of author carried it within the window before at.
func (r *Repeats) Add(ctx context.Context, author, postID, text string, at time.Time) (int64, error) {
	sum := sha256.Sum256([]byte(text))
	key := r.prefix + "repeat:" + author + ":" + hex.EncodeToString(sum[:16])
	pipe := r.rdb.TxPipeline()
	pipe.ZAdd(ctx, key, redis.Z{Score: float64(at.UnixMilli()), Member: postID})
	n := pipe.ZCount(ctx, key, fmt.Sprint(at.Add(-r.window).UnixMilli()), fmt.Sprint(at.UnixMilli()))
	pipe.ZRemRangeByScore(ctx, key, "-inf", fmt.Sprint(time.Now().Add(-2*r.window).UnixMilli()))
	pipe.Expire(ctx, key, 2*r.window)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("trust-safety: count repeats: %w", err)
	}
	return n.Val(), nil
}

// Reactor judges content events.
type Reactor struct {
	policy  *Policy
	repeats *Repeats
	store   *moderation.Store
	log     *slog.Logger
}

// NewReactor returns a reactor judging with policy and recording in store.
func NewReactor(policy *Policy, repeats *Repeats, store *moderation.Store, log *slog.Logger) *Reactor {
	return &Reactor{policy: policy, repeats: repeats, store: store, log: log}
}

// React judges a PostCreated or PostUpdated, forgets a PostDeleted post and
// a UserDeleted author.
// A version already judged is not judged again (Store.Record), so a
// redelivered event changes nothing.
func (r *Reactor) React(ctx context.Context, d envelope.Decoded) error {
	switch m := d.Message.(type) {
	case *eventsv1.PostCreated:
		return r.judge(ctx, m.GetPostId(), m.GetUserId(), m.GetContent(), m.GetTags(), at(d, m.GetCreatedAt()))
	case *eventsv1.PostUpdated:
		if m.Hidden != nil {
			// Moderation's own change; the content is what was judged.
			return nil
		}
		text := m.GetContent()
		if m.Content == nil {
			// Only tags, visibility or media changed: judge the tags with
			// the text last seen.
			sub, ok, err := r.store.Subject(ctx, m.GetPostId())
			if err != nil {
				return err
			}
			if ok {
				text = sub.Content
			}
		}
		return r.judge(ctx, m.GetPostId(), m.GetUserId(), text, m.GetTags(), at(d, m.GetUpdatedAt()))
	case *eventsv1.PostDeleted:
		return r.store.Forget(ctx, m.GetPostId())
	case *eventsv1.UserDeleted:
		return r.erase(ctx, m.GetUserId())
	default:
		return nil
	}
}

func (r *Reactor) judge(ctx context.Context, postID, author, text string, tags []string, contentAt time.Time) error {
	if postID == "" || author == "" {
		return nil
	}
	reasons := r.policy.Check(text, tags)
	cfg := r.policy.Config()
	if norm := Normalise(text); len([]rune(norm)) >= cfg.RepeatMinChars {
		n, err := r.repeats.Add(ctx, author, postID, norm, contentAt)
		if err != nil {
			return err
		}
		if n >= int64(cfg.RepeatThreshold) {
			reasons = append(reasons, moderation.Reason{Code: "repeated_content",
				Detail: fmt.Sprintf("the same text in %d posts within %v", n, cfg.RepeatWindow)})
		}
	}
	v := moderation.Verdict{PostID: postID, AuthorID: author, Content: text, Tags: tags,
		ContentAt: contentAt, Action: Action(reasons), Reasons: reasons}
	recorded, err := r.store.Record(ctx, v)
	if err != nil {
		return err
	}
	if recorded && v.Action != eventsv1.ModerationAction_MODERATION_ACTION_ALLOW {
		r.log.InfoContext(ctx, "post moderated", "post", postID, "action", v.Action.String(), "reasons", moderation.ReasonText(toProto(reasons)))
	}
	return nil
}

func toProto(rs []moderation.Reason) []*eventsv1.ModerationReason {
	out := make([]*eventsv1.ModerationReason, len(rs))
	for i, r := range rs {
		out[i] = &eventsv1.ModerationReason{Code: r.Code, Detail: r.Detail}
	}
	return out
}

// at is the post version a message names, else its event's time. The
// version must be exactly the post's created_at or updated_at, which the
// content service always sets; the event time is a fallback for plain
// records.
func at(d envelope.Decoded, ts *timestamppb.Timestamp) time.Time {
	if ts != nil {
		return ts.AsTime()
	}
	if t := d.Event.Time(); !t.IsZero() {
		return t
	}
	return time.Now()
}

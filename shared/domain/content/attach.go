package content

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/id"
)

// postMedia resolves the media of a new post: the ids named (every one must
// be the author's upload) or, when none are named, the author's pending
// uploads that still exist. explicit reports which.
func (s *Service) postMedia(ctx context.Context, author id.UserID, named []id.MediaID) (media []post.Media, explicit bool, err error) {
	explicit = named != nil
	ids := named
	if !explicit {
		if s.cfg.Pending == nil || s.cfg.Media == nil {
			return nil, false, nil
		}
		pending, err := s.cfg.Pending.Pending(ctx, author.String(), s.cfg.Now())
		if err != nil {
			return nil, false, fmt.Errorf("content: pending media: %w", err)
		}
		for _, raw := range pending {
			if m, err := id.ParseMediaID(raw); err == nil {
				ids = append(ids, m)
			}
		}
	}
	if len(ids) == 0 {
		return nil, explicit, nil
	}
	if explicit && s.cfg.Media == nil {
		return nil, true, invalid("media_ids", "this server takes no media")
	}
	if len(ids) > s.cfg.MaxMedia {
		if explicit {
			return nil, true, invalid("media_ids", "%d media given, at most %d are allowed", len(ids), s.cfg.MaxMedia)
		}
		ids = ids[:s.cfg.MaxMedia] // the oldest; the rest wait for the next post
	}
	lib, err := s.cfg.Media.Media(ctx, author, ids)
	if err != nil {
		return nil, explicit, fmt.Errorf("content: media: %w", err)
	}
	seen := map[id.MediaID]bool{}
	for _, mid := range ids {
		if seen[mid] {
			if explicit {
				return nil, true, invalid("media_ids", "media %s is named twice", mid)
			}
			continue
		}
		seen[mid] = true
		m, ok := lib[mid.String()]
		if !ok {
			if explicit {
				// Someone else's media reads the same as none at all.
				return nil, true, invalid("media_ids", "media %s is not one of your uploads", mid)
			}
			continue
		}
		media = append(media, m)
	}
	return media, explicit, nil
}

// claimMedia records media as attached to postID and returns the ids it
// won; a media already attached (to any post) is not won again.
func claimMedia(ctx context.Context, tx pgx.Tx, postID string, owner id.UserID, media []post.Media, at time.Time) (map[string]bool, error) {
	ids := make([]string, len(media))
	for i, m := range media {
		ids[i] = m.ID
	}
	rows, err := tx.Query(ctx, `INSERT INTO post_media (media_id, post_id, owner_id, attached_at)
		SELECT m, $2, $3, $4 FROM unnest($1::uuid[]) AS m
		ON CONFLICT (media_id) DO NOTHING RETURNING media_id::text`, ids, postID, owner.String(), at)
	if err != nil {
		return nil, fmt.Errorf("attach media: %w", err)
	}
	won, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("attach media: %w", err)
	}
	out := make(map[string]bool, len(won))
	for _, w := range won {
		out[w] = true
	}
	return out, nil
}

// typeFor is the post type media gives a post of type cur: an image makes
// a text post an IMAGE post, a video a VIDEO post; audio and posts that
// already have a media type keep theirs.
func typeFor(m post.Media, cur post.Type) post.Type {
	if cur != post.Text {
		return cur
	}
	switch m.Type {
	case "IMAGE":
		return post.Image
	case "VIDEO":
		return post.Video
	}
	return cur
}

// Attacher attaches uploaded media to existing posts: the content side of
// media-events. It needs only the database and the outbox, so the
// media-attach function runs it without the rest of the content domain.
type Attacher struct {
	pool   *pgxpool.Pool
	outbox *outbox.Outbox
	now    func() time.Time
}

// NewAttacher returns an Attacher; now nil means time.Now.
func NewAttacher(pool *pgxpool.Pool, ob *outbox.Outbox, now func() time.Time) (*Attacher, error) {
	if pool == nil || ob == nil {
		return nil, errors.New("content: attacher needs a pool and an outbox")
	}
	if now == nil {
		now = time.Now
	}
	return &Attacher{pool: pool, outbox: ob, now: now}, nil
}

// AttachMedia attaches owner's media m to owner's post postID and emits
// PostUpdated with the post's full media list, in one transaction. It
// reports false, writing and emitting nothing, when m is attached already
// (to this post: a redelivery; or to another). A post that is gone is
// ErrNotFound; someone else's post is ErrForbidden.
func (a *Attacher) AttachMedia(ctx context.Context, owner id.UserID, postID id.PostID, m post.Media) (bool, error) {
	if _, err := id.ParsePostID(postID.String()); err != nil {
		return false, ErrNotFound
	}
	attached := false
	err := pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		var (
			author, typ string
			tags        []string
			media       []post.Media
		)
		err := tx.QueryRow(ctx, `SELECT author_id::text, type, tags, media FROM posts
			WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`, postID.String()).Scan(&author, &typ, &tags, &media)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("read post: %w", err)
		}
		if author != owner.String() {
			return ErrForbidden
		}
		now := a.now().UTC().Truncate(time.Microsecond)
		won, err := claimMedia(ctx, tx, postID.String(), owner, []post.Media{m}, now)
		if err != nil || !won[m.ID] {
			return err
		}
		media = append(media, m)
		next := typeFor(m, post.Type(typ))
		var updated time.Time
		if err := tx.QueryRow(ctx, `UPDATE posts SET media = $2, type = $3,
				updated_at = GREATEST($4, updated_at + interval '1 microsecond')
			WHERE id = $1 RETURNING updated_at`, postID.String(), media, string(next), now).Scan(&updated); err != nil {
			return fmt.Errorf("update post: %w", err)
		}
		if tags == nil {
			tags = []string{}
		}
		updated = updated.UTC()
		if _, err := a.outbox.Enqueue(ctx, tx, &eventsv1.PostUpdated{
			PostId: postID.String(), UserId: author, Tags: tags, UpdatedAt: timestamppb.New(updated),
			Media: post.MediaToProto(media), Type: next.Proto(),
		}, envelope.WithTime(updated)); err != nil {
			return fmt.Errorf("enqueue event: %w", err)
		}
		attached = true
		return nil
	})
	if err != nil {
		return false, wrap("attach media", err)
	}
	return attached, nil
}

// Attached reports whether a media is attached to a post already.
func (a *Attacher) Attached(ctx context.Context, mediaID id.MediaID) (bool, error) {
	var ok bool
	if err := a.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM post_media WHERE media_id = $1)`,
		mediaID.String()).Scan(&ok); err != nil {
		return false, fmt.Errorf("content: read attachment: %w", err)
	}
	return ok, nil
}

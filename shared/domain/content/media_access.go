package content

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/nova-social/nova/shared/domain/media/mediaurl"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/id"
)

// MediaRemover deletes media and their stored files; *media.Service
// implements it.
type MediaRemover interface {
	RemoveMedia(ctx context.Context, ids []id.MediaID) error
}

// MediaAudience says who may fetch a media's files, by the post it is
// attached to: anyone when that post is live, PUBLIC and not hidden;
// nobody when it is deleted; otherwise (a post some may not see, or no
// post yet) only holders of a signed URL. The media file server asks it on
// every request, so a post turned private or deleted stops serving its
// files at once.
func (s *Service) MediaAudience(ctx context.Context, media id.MediaID) (mediaurl.Audience, error) {
	var (
		vis             string
		hidden, deleted bool
	)
	err := s.cfg.Pool.QueryRow(ctx, `SELECT p.visibility, p.hidden, p.deleted_at IS NOT NULL
		FROM post_media pm JOIN posts p ON p.id = pm.post_id WHERE pm.media_id = $1`, media.String()).Scan(&vis, &hidden, &deleted)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return mediaurl.Restricted, nil
	case err != nil:
		return 0, fmt.Errorf("content: media audience: %w", err)
	case deleted:
		return mediaurl.Gone, nil
	case mediaurl.PublicPost(post.Visibility(vis), hidden):
		return mediaurl.Public, nil
	}
	return mediaurl.Restricted, nil
}

// shown is p as a viewer receives it: the media of a post that is not
// public carry signed URLs, valid for a short while.
func (s *Service) shown(p post.Summary) post.Summary {
	p.Media = s.cfg.MediaURLs.Media(p.Media, mediaurl.PublicPost(p.Visibility, p.Hidden))
	return p
}

// postMediaIDs lists the media attached to a post.
func postMediaIDs(ctx context.Context, tx pgx.Tx, postID id.PostID) ([]id.MediaID, error) {
	rows, err := tx.Query(ctx, `SELECT media_id::text FROM post_media WHERE post_id = $1`, postID.String())
	if err != nil {
		return nil, fmt.Errorf("read post media: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[id.MediaID])
	if err != nil {
		return nil, fmt.Errorf("read post media: %w", err)
	}
	return ids, nil
}

// removeMedia deletes a deleted post's media. A failure is logged, not
// returned: the post is deleted, its files already answer 404, and the
// file server retries the removal when one is asked for.
func (s *Service) removeMedia(ctx context.Context, postID id.PostID, ids []id.MediaID) {
	if s.cfg.MediaRemover == nil || len(ids) == 0 {
		return
	}
	if err := s.cfg.MediaRemover.RemoveMedia(context.WithoutCancel(ctx), ids); err != nil {
		s.cfg.Logger.WarnContext(ctx, "media of a deleted post left in the store", "post", postID, "error", err)
	}
}

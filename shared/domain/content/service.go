package content

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/id"
)

// Post is a post as the API shows it.
type Post struct {
	post.Summary
	LikeCount    int64 `json:"like_count"`
	CommentCount int64 `json:"comment_count"`
}

// Service is the content domain. It is safe for concurrent use.
type Service struct {
	cfg Config
}

// New returns a Service; cfg gets its defaults first.
func New(cfg Config) (*Service, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Service{cfg: cfg}, nil
}

// now is the service's clock at PostgreSQL's precision, so what an event
// carries equals what a later read returns.
func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// Create publishes a post by author.
func (s *Service) Create(ctx context.Context, author id.UserID, in NewPost) (Post, error) {
	if author.IsZero() {
		return Post{}, errors.New("content: create: no author")
	}
	typ, err := checkType(in.Type)
	if err != nil {
		return Post{}, err
	}
	vis, err := checkVisibility(in.Visibility)
	if err != nil {
		return Post{}, err
	}
	tags, err := s.normTags(in.Tags)
	if err != nil {
		return Post{}, err
	}
	media, explicit, err := s.postMedia(ctx, author, in.MediaIDs)
	if err != nil {
		return Post{}, err
	}
	if in.Type == "" && len(media) > 0 {
		typ = typeFor(media[0], post.Text)
	}
	// Text posts need words; a post carrying media may come without.
	if err := s.checkText("content", in.Content, typ == post.Text && len(media) == 0); err != nil {
		return Post{}, err
	}
	now := s.now()
	p := post.Summary{
		ID: id.NewPostID().String(), AuthorID: author.String(), Content: in.Content, Type: typ,
		Visibility: vis, Tags: tags, Media: []post.Media{}, CreatedAt: now, UpdatedAt: now,
	}
	err = pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		// The attachment rows decide which post gets a media when two
		// race for it: the first to commit.
		p.Media = []post.Media{}
		if len(media) > 0 {
			won, err := claimMedia(ctx, tx, p.ID, author, media, now)
			if err != nil {
				return err
			}
			for _, m := range media {
				if won[m.ID] {
					p.Media = append(p.Media, m)
				} else if explicit {
					return invalid("media_ids", "media %s is already attached to a post", m.ID)
				}
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO posts (id, author_id, content, type, visibility, tags, media, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`,
			p.ID, p.AuthorID, p.Content, string(typ), string(vis), p.Tags, p.Media, now); err != nil {
			return fmt.Errorf("insert post: %w", err)
		}
		return s.enqueue(ctx, tx, &eventsv1.PostCreated{
			PostId: p.ID, UserId: p.AuthorID, Content: p.Content, Type: typ.Proto(), Visibility: vis.Proto(),
			Tags: p.Tags, CreatedAt: timestamppb.New(now), Media: post.MediaToProto(p.Media),
		}, now)
	})
	if err != nil {
		return Post{}, wrap("create post", err)
	}
	if len(p.Media) > 0 && s.cfg.Pending != nil {
		ids := make([]string, len(p.Media))
		for i, m := range p.Media {
			ids[i] = m.ID
		}
		if err := s.cfg.Pending.Remove(ctx, author.String(), ids...); err != nil {
			// Harmless: a later post finds them attached and skips them.
			s.cfg.Logger.WarnContext(ctx, "attached media left in the pending set", "error", err)
		}
	}
	return Post{Summary: s.shown(p)}, nil
}

// Get returns a post if viewer may see it, ErrNotFound otherwise.
func (s *Service) Get(ctx context.Context, viewer id.UserID, postID id.PostID) (Post, error) {
	p, err := s.load(ctx, postID, true)
	if err != nil {
		return Post{}, err
	}
	if err := s.mustSee(ctx, viewer, p.Summary); err != nil {
		return Post{}, err
	}
	p.Summary = s.shown(p.Summary)
	return p, nil
}

// Update applies the author's change. Someone else gets ErrForbidden if they
// can see the post and ErrNotFound otherwise. A change that changes nothing
// writes nothing and emits nothing.
func (s *Service) Update(ctx context.Context, caller id.UserID, postID id.PostID, ch Change) (Post, error) {
	if ch.Content == nil && ch.Tags == nil && ch.Visibility == nil {
		return Post{}, invalid("body", "nothing to change: give content, tags or visibility")
	}
	var (
		vis  post.Visibility
		tags []string
		err  error
	)
	if ch.Visibility != nil {
		if vis, err = checkVisibility(*ch.Visibility); err != nil {
			return Post{}, err
		}
		if *ch.Visibility == "" {
			return Post{}, invalid("visibility", "visibility must not be empty")
		}
	}
	if ch.Tags != nil {
		if tags, err = s.normTags(*ch.Tags); err != nil {
			return Post{}, err
		}
	}
	if ch.Content != nil {
		// Whether text is required depends on the type, checked below.
		if err := s.checkText("content", *ch.Content, false); err != nil {
			return Post{}, err
		}
	}
	if err := s.mustOwn(ctx, caller, postID); err != nil {
		return Post{}, err
	}

	var out Post
	err = pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		cur, err := s.loadTx(ctx, tx, postID)
		if err != nil {
			return err
		}
		next := cur.Summary
		ev := &eventsv1.PostUpdated{PostId: cur.ID, UserId: cur.AuthorID, Type: cur.Type.Proto()}
		changed := false
		if ch.Content != nil && *ch.Content != cur.Content {
			if err := s.checkText("content", *ch.Content, cur.Type == post.Text); err != nil {
				return err
			}
			next.Content = *ch.Content
			ev.Content = proto.String(next.Content)
			changed = true
		}
		if ch.Tags != nil && !slices.Equal(tags, cur.Tags) {
			next.Tags = tags
			changed = true
		}
		if ch.Visibility != nil && vis != cur.Visibility {
			next.Visibility = vis
			v := vis.Proto()
			ev.Visibility = &v
			changed = true
		}
		if !changed {
			out = cur
			return nil
		}
		if err := tx.QueryRow(ctx, `UPDATE posts SET content = $2, tags = $3, visibility = $4,
				updated_at = GREATEST($5, updated_at + interval '1 microsecond')
			WHERE id = $1 RETURNING updated_at`,
			cur.ID, next.Content, next.Tags, string(next.Visibility), s.now()).Scan(&next.UpdatedAt); err != nil {
			return fmt.Errorf("update post: %w", err)
		}
		// Readers drop updates older than what they hold, so updated_at
		// never goes back even when replicas' clocks disagree.
		next.UpdatedAt = next.UpdatedAt.UTC()
		ev.Tags = next.Tags
		ev.Media = post.MediaToProto(next.Media)
		ev.UpdatedAt = timestamppb.New(next.UpdatedAt)
		out = Post{Summary: next, LikeCount: cur.LikeCount, CommentCount: cur.CommentCount}
		return s.enqueue(ctx, tx, ev, next.UpdatedAt)
	})
	if err != nil {
		return Post{}, wrap("update post", err)
	}
	out.Summary = s.shown(out.Summary)
	return out, nil
}

// Delete removes the author's post (softly: the row stays, readers no longer
// see it). Someone else gets ErrForbidden if they can see the post and
// ErrNotFound otherwise.
func (s *Service) Delete(ctx context.Context, caller id.UserID, postID id.PostID) error {
	if err := s.mustOwn(ctx, caller, postID); err != nil {
		return err
	}
	now := s.now()
	var media []id.MediaID
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE posts SET deleted_at = $3 WHERE id = $1 AND author_id = $2 AND deleted_at IS NULL`,
			postID.String(), caller.String(), now)
		if err != nil {
			return fmt.Errorf("delete post: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound // deleted meanwhile
		}
		if media, err = postMediaIDs(ctx, tx, postID); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, &eventsv1.PostDeleted{
			PostId: postID.String(), UserId: caller.String(), DeletedAt: timestamppb.New(now),
		}, now)
	})
	if err != nil {
		return wrap("delete post", err)
	}
	// The media go with the post, once its deletion has committed.
	s.removeMedia(ctx, postID, media)
	return nil
}

// Summaries returns the posts among ids that viewer may see, by id; ids that
// are unknown, deleted, malformed or not visible are left out. It is the
// feed's direct-call hydrator.
func (s *Service) Summaries(ctx context.Context, viewer id.UserID, ids []string) (map[string]post.Summary, error) {
	out := make(map[string]post.Summary, len(ids))
	valid := make([]string, 0, len(ids))
	for _, raw := range ids {
		if pid, err := id.ParsePostID(raw); err == nil {
			valid = append(valid, pid.String())
		}
	}
	if len(valid) == 0 {
		return out, nil
	}
	rows, err := s.cfg.Pool.Query(ctx, `SELECT `+summaryColumns+` FROM posts p
		WHERE p.id = ANY($1::uuid[]) AND p.deleted_at IS NULL`, valid)
	if err != nil {
		return nil, fmt.Errorf("content: read posts: %w", err)
	}
	sums, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (post.Summary, error) { return scanSummary(r) })
	if err != nil {
		return nil, fmt.Errorf("content: read posts: %w", err)
	}
	// One follow check per author, however many of their posts are asked.
	follows := map[string]bool{}
	for _, p := range sums {
		if p.AuthorID == viewer.String() || p.Hidden || p.Visibility != post.FollowersOnly {
			continue
		}
		if _, done := follows[p.AuthorID]; done || viewer.IsZero() {
			continue
		}
		f, err := s.follows(ctx, viewer, p.AuthorID)
		if err != nil {
			return nil, err
		}
		follows[p.AuthorID] = f
	}
	blocked := map[string]bool{}
	for _, p := range sums {
		if _, done := blocked[p.AuthorID]; done || p.AuthorID == viewer.String() {
			continue
		}
		b, err := s.blocked(ctx, viewer, p.AuthorID)
		if err != nil {
			return nil, err
		}
		blocked[p.AuthorID] = b
	}
	for _, p := range sums {
		if blocked[p.AuthorID] {
			continue
		}
		if p.VisibleTo(viewer.String(), follows[p.AuthorID]) {
			out[p.ID] = s.shown(p)
		}
	}
	return out, nil
}

// mustSee returns ErrNotFound unless viewer may see p.
func (s *Service) mustSee(ctx context.Context, viewer id.UserID, p post.Summary) error {
	if viewer.IsZero() {
		return ErrNotFound
	}
	follows := false
	if p.AuthorID != viewer.String() && !p.Hidden && p.Visibility == post.FollowersOnly {
		f, err := s.follows(ctx, viewer, p.AuthorID)
		if err != nil {
			return err
		}
		follows = f
	}
	if !p.VisibleTo(viewer.String(), follows) {
		return ErrNotFound
	}
	if p.AuthorID != viewer.String() {
		blocked, err := s.blocked(ctx, viewer, p.AuthorID)
		if err != nil {
			return err
		}
		if blocked {
			return ErrNotFound
		}
	}
	return nil
}

// blocked asks the block graph whether viewer and author (an id read from
// the posts table) blocked one another.
func (s *Service) blocked(ctx context.Context, viewer id.UserID, author string) (bool, error) {
	if s.cfg.Blocks == nil || viewer.IsZero() {
		return false, nil
	}
	a, err := id.ParseUserID(author)
	if err != nil {
		return false, fmt.Errorf("content: post author: %w", err)
	}
	b, err := s.cfg.Blocks.Blocked(ctx, viewer, a)
	if err != nil {
		return false, fmt.Errorf("content: block check: %w", err)
	}
	return b, nil
}

// follows asks the follow graph whether viewer follows author (an id read
// from the posts table).
func (s *Service) follows(ctx context.Context, viewer id.UserID, author string) (bool, error) {
	a, err := id.ParseUserID(author)
	if err != nil {
		return false, fmt.Errorf("content: post author: %w", err)
	}
	f, err := s.cfg.Follows.Follows(ctx, viewer, a)
	if err != nil {
		return false, fmt.Errorf("content: follow check: %w", err)
	}
	return f, nil
}

// MustOwn returns nil when postID is a live post of caller, ErrForbidden
// when caller sees it but it is someone else's, ErrNotFound otherwise. The
// media domain asks it before storing an upload for a post.
func (s *Service) MustOwn(ctx context.Context, caller id.UserID, postID id.PostID) error {
	return s.mustOwn(ctx, caller, postID)
}

// mustOwn lets the author through; others get ErrForbidden when they can
// see the post and ErrNotFound when they cannot. The author never changes,
// so this runs before the transaction, without locks.
func (s *Service) mustOwn(ctx context.Context, caller id.UserID, postID id.PostID) error {
	p, err := s.load(ctx, postID, false)
	if err != nil {
		return err
	}
	if p.AuthorID == caller.String() {
		return nil
	}
	if err := s.mustSee(ctx, caller, p.Summary); err != nil {
		return err
	}
	return ErrForbidden
}

// visible returns the post if viewer may see it (for engagement).
func (s *Service) visible(ctx context.Context, viewer id.UserID, postID id.PostID) (post.Summary, error) {
	p, err := s.load(ctx, postID, false)
	if err != nil {
		return post.Summary{}, err
	}
	if err := s.mustSee(ctx, viewer, p.Summary); err != nil {
		return post.Summary{}, err
	}
	return p.Summary, nil
}

const summaryColumns = `p.id::text, p.author_id::text, p.content, p.type, p.visibility, p.tags, p.media,
	p.hidden, p.hidden_reason, p.created_at, p.updated_at`

const countColumns = `(SELECT count(*) FROM likes l WHERE l.post_id = p.id),
	(SELECT count(*) FROM comments c WHERE c.post_id = p.id AND c.deleted_at IS NULL)`

func scanSummary(r pgx.Row, extra ...any) (post.Summary, error) {
	var (
		p        post.Summary
		typ, vis string
	)
	dst := append([]any{&p.ID, &p.AuthorID, &p.Content, &typ, &vis, &p.Tags, &p.Media,
		&p.Hidden, &p.HiddenReason, &p.CreatedAt, &p.UpdatedAt}, extra...)
	if err := r.Scan(dst...); err != nil {
		return post.Summary{}, err
	}
	p.Type, p.Visibility = post.Type(typ), post.Visibility(vis)
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	if p.Tags == nil {
		p.Tags = []string{}
	}
	if p.Media == nil {
		p.Media = []post.Media{}
	}
	return p, nil
}

// load reads a live post, with its counts when counts is true.
func (s *Service) load(ctx context.Context, postID id.PostID, counts bool) (Post, error) {
	if _, err := id.ParsePostID(postID.String()); err != nil {
		return Post{}, ErrNotFound
	}
	var out Post
	var err error
	if counts {
		row := s.cfg.Pool.QueryRow(ctx, `SELECT `+summaryColumns+`, `+countColumns+`
			FROM posts p WHERE p.id = $1 AND p.deleted_at IS NULL`, postID.String())
		out.Summary, err = scanSummary(row, &out.LikeCount, &out.CommentCount)
	} else {
		row := s.cfg.Pool.QueryRow(ctx, `SELECT `+summaryColumns+`
			FROM posts p WHERE p.id = $1 AND p.deleted_at IS NULL`, postID.String())
		out.Summary, err = scanSummary(row)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return Post{}, ErrNotFound
	}
	if err != nil {
		return Post{}, fmt.Errorf("content: read post: %w", err)
	}
	return out, nil
}

// loadTx reads a live post with its counts and locks it for an update.
func (s *Service) loadTx(ctx context.Context, tx pgx.Tx, postID id.PostID) (Post, error) {
	var out Post
	row := tx.QueryRow(ctx, `SELECT `+summaryColumns+`, `+countColumns+`
		FROM posts p WHERE p.id = $1 AND p.deleted_at IS NULL FOR UPDATE OF p`, postID.String())
	sum, err := scanSummary(row, &out.LikeCount, &out.CommentCount)
	if errors.Is(err, pgx.ErrNoRows) {
		return Post{}, ErrNotFound
	}
	if err != nil {
		return Post{}, fmt.Errorf("read post: %w", err)
	}
	out.Summary = sum
	return out, nil
}

// enqueue stores msg's event in tx, stamped with the time of the change.
func (s *Service) enqueue(ctx context.Context, tx pgx.Tx, msg proto.Message, at time.Time) error {
	if _, err := s.cfg.Outbox.Enqueue(ctx, tx, msg, envelope.WithTime(at)); err != nil {
		return fmt.Errorf("enqueue event: %w", err)
	}
	return nil
}

// wrap adds context to unexpected errors and leaves the domain's own as
// they are, so callers match them with errors.Is either way.
func wrap(op string, err error) error {
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrForbidden) || errors.Is(err, ErrInvalid) {
		return err
	}
	return fmt.Errorf("content: %s: %w", op, err)
}

package timeline

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/feed"
	"github.com/nova-social/nova/shared/domain/media/mediaurl"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
)

// Service reads home feeds. It is safe for concurrent use.
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

// Query selects a page of a feed.
type Query struct {
	// Limit is the page size, 1 to Config.Page.MaxLimit.
	Limit int
	// Cursor is the next_cursor of the previous page, "" for the first.
	Cursor string
	// Order is feed.Newest (the default) or feed.Ranked.
	Order feed.Order
}

// Author is a feed item's author as the API shows it.
type Author struct {
	ID          string `json:"id"`
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	AvatarURL   string `json:"avatar_url"`
}

// Item is one post of a feed page.
type Item struct {
	ID         string          `json:"id"`
	Author     Author          `json:"author"`
	AuthorID   string          `json:"author_id"`
	Content    string          `json:"content"`
	Type       post.Type       `json:"type"`
	Visibility post.Visibility `json:"visibility"`
	Tags       []string        `json:"tags"`
	Media      []post.Media    `json:"media"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
	// Score is the ranking score, on ranked pages only.
	Score *float64 `json:"score,omitempty"`
}

// ErrBadQuery is matched by errors about a Query (limit, order, cursor).
var ErrBadQuery = errors.New("timeline: bad query")

// Read returns a page of viewer's home feed and the cursor of the next one
// ("" on the last page).
func (s *Service) Read(ctx context.Context, viewer id.UserID, q Query) ([]Item, string, error) {
	if q.Limit < 1 || q.Limit > s.cfg.Page.MaxLimit {
		return nil, "", fmt.Errorf("%w: limit %d outside 1..%d", ErrBadQuery, q.Limit, s.cfg.Page.MaxLimit)
	}
	switch q.Order {
	case "":
		q.Order = feed.Newest
	case feed.Newest, feed.Ranked:
	default:
		return nil, "", fmt.Errorf("%w: unknown order %q", ErrBadQuery, q.Order)
	}
	opts := feed.ReadOptions{Limit: q.Limit, Cursor: q.Cursor, Order: q.Order}
	if s.cfg.DirectCall {
		opts.Hydrator = direct{content: s.cfg.Content, viewer: viewer}
	}
	page, err := s.cfg.Store.Read(ctx, viewer.String(), opts)
	if errors.Is(err, feed.ErrBadCursor) {
		return nil, "", fmt.Errorf("%w: %w", ErrBadQuery, err)
	}
	if err != nil {
		return nil, "", fmt.Errorf("timeline: read feed: %w", err)
	}
	items := make([]Item, len(page.Items))
	for i, it := range page.Items {
		items[i] = Item{
			ID: it.ID,
			Author: Author{ID: it.AuthorID, Username: it.Author.Username,
				DisplayName: it.Author.DisplayName, AvatarURL: it.Author.AvatarURL},
			AuthorID: it.AuthorID, Content: it.Content, Type: it.Type, Visibility: it.Visibility,
			Tags: nonNil(it.Tags), Media: it.Media, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt,
			Score: it.Score,
		}
		if items[i].Media == nil {
			items[i].Media = []post.Media{}
		}
		items[i].Media = s.cfg.MediaURLs.Media(items[i].Media, mediaurl.PublicPost(it.Visibility, false))
	}
	return items, page.NextCursor, nil
}

// direct is the rollback path's hydrator: the content service, asked on
// behalf of the reader, so its visibility rules apply as well as the feed's.
type direct struct {
	content Content
	viewer  id.UserID
}

func (d direct) Summaries(ctx context.Context, ids []string) (map[string]post.Summary, error) {
	sums, err := d.content.Summaries(ctx, d.viewer, ids)
	if err != nil {
		return nil, fmt.Errorf("timeline: direct call to content: %w", err)
	}
	return sums, nil
}

// Mount registers GET /v1/feed?limit=&cursor=&order=newest|ranked behind
// authed → 200 {"items": [...], "next_cursor": "…" or null}.
func (s *Service) Mount(mux httpapi.Router, authed func(http.Handler) http.Handler) {
	mux.Handle("GET /v1/feed", authed(httpapi.Handle(s.cfg.Logger, s.handleFeed)))
}

func (s *Service) handleFeed(w http.ResponseWriter, r *http.Request) error {
	p, ok := auth.FromContext(r.Context())
	if !ok || p.UserID.IsZero() {
		return httpapi.Unauthorized("a bearer token is required").
			WithHeader("WWW-Authenticate", `Bearer realm="`+httpapi.Realm+`"`)
	}
	q, err := s.query(r)
	if err != nil {
		return err
	}
	items, next, err := s.Read(r.Context(), p.UserID, q)
	switch {
	case errors.Is(err, feed.ErrBadCursor):
		return httpapi.NewError(http.StatusBadRequest, httpapi.CodeInvalidCursor, "invalid cursor").Wrap(err)
	case errors.Is(err, ErrBadQuery):
		return httpapi.BadRequest(strings.TrimPrefix(err.Error(), ErrBadQuery.Error()+": ")).Wrap(err)
	case err != nil:
		return err
	}
	httpapi.WriteJSON(w, r, s.cfg.Logger, http.StatusOK, httpapi.NewPage(items, next))
	return nil
}

// query reads ?limit=, ?cursor= and ?order=, each at most once.
func (s *Service) query(r *http.Request) (Query, error) {
	q := Query{Limit: s.cfg.Page.DefaultLimit}
	// r.URL.Query would drop a malformed pair silently and serve the first
	// page instead of saying the query is wrong.
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return q, httpapi.BadRequest("malformed query string").Wrap(err)
	}
	one := func(name string) (string, bool, error) {
		vs, ok := vals[name]
		if ok && len(vs) != 1 {
			return "", false, httpapi.Errorf(http.StatusBadRequest, httpapi.CodeBadRequest, "%s given more than once", name)
		}
		if !ok {
			return "", false, nil
		}
		return vs[0], true, nil
	}
	if v, ok, err := one("limit"); err != nil {
		return q, err
	} else if ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > s.cfg.Page.MaxLimit {
			return q, httpapi.Errorf(http.StatusBadRequest, httpapi.CodeBadRequest,
				"limit must be one integer from 1 to %d", s.cfg.Page.MaxLimit)
		}
		q.Limit = n
	}
	if v, ok, err := one("cursor"); err != nil {
		return q, httpapi.NewError(http.StatusBadRequest, httpapi.CodeInvalidCursor, "invalid cursor: given twice")
	} else if ok {
		if v == "" || len(v) > httpapi.MaxCursorLen {
			return q, httpapi.NewError(http.StatusBadRequest, httpapi.CodeInvalidCursor, "invalid cursor")
		}
		q.Cursor = v
	}
	if v, ok, err := one("order"); err != nil {
		return q, err
	} else if ok {
		switch o := feed.Order(v); o {
		case feed.Newest, feed.Ranked:
			q.Order = o
		default:
			return q, httpapi.Errorf(http.StatusBadRequest, httpapi.CodeBadRequest, "order must be newest or ranked")
		}
	}
	return q, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

package search

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/id"
)

// Config holds the Service's dependencies.
type Config struct {
	Pool   *pgxpool.Pool
	Logger *slog.Logger
	// Blocks leaves out of a searcher's hits the users the searcher
	// blocked or who blocked them, and their posts; nil leaves nothing out.
	Blocks BlockGraph
	// MaxQueryRunes bounds q. Default 200.
	MaxQueryRunes int
	// MaxTags bounds the #tags of one query. Default 10.
	MaxTags int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// BlockGraph answers whether either of two users blocked the other;
// *identity.Service implements it. The index holds no blocks (no event
// carries them), so hits are filtered as they are read.
type BlockGraph interface {
	Blocked(ctx context.Context, a, b id.UserID) (bool, error)
}

// Defaults returns c with zero fields set to their defaults.
func (c Config) Defaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxQueryRunes == 0 {
		c.MaxQueryRunes = 200
	}
	if c.MaxTags == 0 {
		c.MaxTags = 10
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports a configuration the Service cannot run with.
func (c Config) Validate() error {
	var errs []error
	if c.Pool == nil {
		errs = append(errs, errors.New("pool is nil"))
	}
	if c.MaxQueryRunes < 1 || c.MaxTags < 1 {
		errs = append(errs, fmt.Errorf("limits must be positive (query %d, tags %d)", c.MaxQueryRunes, c.MaxTags))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("search config: %w", err)
	}
	return nil
}

// Service answers searches from the index. It is safe for concurrent use.
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

// ErrQuery is a query that cannot be run (empty, too long); errors.As to
// *QueryError for the message.
var ErrQuery = errors.New("search: bad query")

// QueryError says what is wrong with a query.
type QueryError struct{ Message string }

func (e *QueryError) Error() string { return "search: " + e.Message }
func (e *QueryError) Unwrap() error { return ErrQuery }

func badQuery(format string, args ...any) error {
	return &QueryError{Message: fmt.Sprintf(format, args...)}
}

// PostHit is a post found by a search.
type PostHit struct {
	ID             string          `json:"id"`
	AuthorID       string          `json:"author_id"`
	AuthorUsername string          `json:"author_username,omitempty"`
	Content        string          `json:"content"`
	Tags           []string        `json:"tags"`
	Visibility     post.Visibility `json:"visibility"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
	Score          float64         `json:"score"`
}

// UserHit is a user found by a search.
type UserHit struct {
	ID          string  `json:"id"`
	Username    string  `json:"username"`
	DisplayName string  `json:"display_name,omitempty"`
	Score       float64 `json:"score"`
}

// Cursor is the position after which a page of hits continues: the last
// hit's score and id, the reference time scores were computed at, and a
// hash of the query so a cursor is not replayed against another one.
type Cursor struct {
	At    time.Time `json:"at"`
	Score float64   `json:"s"`
	ID    string    `json:"id"`
	Query uint32    `json:"q"`
}

// Validate rejects cursors that cannot name a hit.
func (c Cursor) Validate() error {
	if c.At.IsZero() {
		return errors.New("no time")
	}
	if _, err := uuid.Parse(c.ID); err != nil {
		return fmt.Errorf("id: %w", err)
	}
	return nil
}

// PostQuery is a parsed posts query: #tags (all must match, case
// insensitively) and words (websearch syntax: "a phrase", or, -not) that
// match content and tags.
type PostQuery struct {
	Words string
	Tags  []string
}

// ParsePostQuery splits q into #tags and words.
func (s *Service) ParsePostQuery(q string) (PostQuery, error) {
	if err := s.checkQuery(q); err != nil {
		return PostQuery{}, err
	}
	var (
		out   PostQuery
		words []string
	)
	for _, f := range strings.FieldsFunc(q, unicode.IsSpace) {
		if t, ok := strings.CutPrefix(f, "#"); ok {
			if t = strings.ToLower(strings.TrimLeft(t, "#")); t != "" && !contains(out.Tags, t) {
				out.Tags = append(out.Tags, t)
			}
			continue
		}
		words = append(words, f)
	}
	if len(out.Tags) > s.cfg.MaxTags {
		return PostQuery{}, badQuery("at most %d #tags per query", s.cfg.MaxTags)
	}
	out.Words = strings.Join(words, " ")
	if out.Words == "" && len(out.Tags) == 0 {
		return PostQuery{}, badQuery("q holds nothing to search for")
	}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	return out, nil
}

func (s *Service) checkQuery(q string) error {
	switch n := len([]rune(q)); {
	case strings.TrimSpace(q) == "":
		return badQuery("q is required")
	case n > s.cfg.MaxQueryRunes:
		return badQuery("q has %d characters, at most %d are allowed", n, s.cfg.MaxQueryRunes)
	case strings.ContainsFunc(q, unicode.IsControl):
		return badQuery("q contains control characters")
	}
	return nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func queryHash(kind, q string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(kind + "\x00" + q))
	return h.Sum32()
}

// Posts returns up to limit posts matching q that viewer may see, best
// first, after the cursor (nil for the first page), and the cursor of the
// next page (nil on the last).
func (s *Service) Posts(ctx context.Context, viewer id.UserID, q string, after *Cursor, limit int) ([]PostHit, *Cursor, error) {
	if viewer.IsZero() {
		return nil, nil, errors.New("search: no viewer")
	}
	if limit < 1 {
		return nil, nil, badQuery("limit must be positive")
	}
	pq, err := s.ParsePostQuery(q)
	if err != nil {
		return nil, nil, err
	}
	qh := queryHash("posts", q)
	at := s.cfg.Now().UTC().Truncate(time.Microsecond)
	if after != nil {
		if after.Query != qh {
			return nil, nil, badQuery("the cursor belongs to another query")
		}
		at = after.At
	}

	// The SQL is assembled from fixed fragments so each shape gets a plan
	// that uses its index; values always travel as parameters.
	args := pgx.NamedArgs{"viewer": viewer.String(), "at": at, "limit": limit + 1}
	relevance := "1::float8"
	var where []string
	if pq.Words != "" {
		args["words"] = pq.Words
		relevance = "ts_rank_cd(p.document, websearch_to_tsquery('english', @words), 32)::float8"
		where = append(where, "p.document @@ websearch_to_tsquery('english', @words)")
	}
	if len(pq.Tags) > 0 {
		args["tags"] = pq.Tags
		where = append(where, "p.tag_keys @> @tags::text[]")
	}
	keyset := ""
	if after != nil {
		args["after_score"], args["after_id"] = after.Score, after.ID
		keyset = "WHERE (hit.score, hit.post_id) < (@after_score::float8, @after_id::uuid)"
	}
	sql := `SELECT hit.post_id::text, hit.author_id::text, COALESCE(u.username, ''), hit.content, hit.tags, hit.visibility,
			hit.created_at, hit.updated_at, hit.score
		FROM (
			SELECT p.post_id, p.author_id, p.content, p.tags, p.visibility, p.created_at, p.updated_at,
				` + relevance + ` * (0.3 + 0.7 / (1 + GREATEST(extract(epoch FROM @at::timestamptz - p.created_at)::float8, 0) / 259200)) AS score
			FROM search_posts p
			WHERE p.deleted_at IS NULL AND NOT p.hidden AND ` + strings.Join(where, " AND ") + `
			  AND (p.visibility = 'PUBLIC'
			       OR p.author_id = @viewer::uuid
			       OR (p.visibility = 'FOLLOWERS_ONLY' AND EXISTS (
			             SELECT 1 FROM search_follows f
			             WHERE f.follower_id = @viewer::uuid AND f.followee_id = p.author_id AND f.following)))
		) hit
		LEFT JOIN search_users u ON u.user_id = hit.author_id
		` + keyset + `
		ORDER BY hit.score DESC, hit.post_id DESC
		LIMIT @limit`
	rows, err := s.cfg.Pool.Query(ctx, sql, args)
	if err != nil {
		return nil, nil, fmt.Errorf("search: posts: %w", err)
	}
	hits, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PostHit, error) {
		var h PostHit
		err := r.Scan(&h.ID, &h.AuthorID, &h.AuthorUsername, &h.Content, &h.Tags, &h.Visibility, &h.CreatedAt, &h.UpdatedAt, &h.Score)
		h.CreatedAt, h.UpdatedAt = h.CreatedAt.UTC(), h.UpdatedAt.UTC()
		return h, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("search: posts: %w", err)
	}
	var next *Cursor
	if len(hits) > limit {
		hits = hits[:limit]
		last := hits[limit-1]
		next = &Cursor{At: at, Score: last.Score, ID: last.ID, Query: qh}
	}
	// Filtered after the cursor is taken, so a page may come out short
	// but the next one continues where this one's query stopped.
	if hits, err = s.unblocked(ctx, viewer, hits); err != nil {
		return nil, nil, err
	}
	if hits == nil {
		hits = []PostHit{}
	}
	return hits, next, nil
}

// Users returns up to limit users whose username or display name matches
// q, best first, after the cursor (nil for the first page), and the cursor
// of the next page.
func (s *Service) Users(ctx context.Context, q string, after *Cursor, limit int) ([]UserHit, *Cursor, error) {
	if limit < 1 {
		return nil, nil, badQuery("limit must be positive")
	}
	if err := s.checkQuery(q); err != nil {
		return nil, nil, err
	}
	term := strings.TrimPrefix(strings.TrimSpace(q), "@")
	if term == "" {
		return nil, nil, badQuery("q holds nothing to search for")
	}
	qh := queryHash("users", q)
	args := pgx.NamedArgs{"term": term, "prefix": likeEscape(term) + "%", "part": "%" + likeEscape(term) + "%", "limit": limit + 1}
	keyset := ""
	if after != nil {
		if after.Query != qh {
			return nil, nil, badQuery("the cursor belongs to another query")
		}
		args["after_score"], args["after_id"] = after.Score, after.ID
		keyset = "WHERE (score, user_id) < (@after_score::float8, @after_id::uuid)"
	}
	rows, err := s.cfg.Pool.Query(ctx, `SELECT user_id::text, username, display_name, score FROM (
			SELECT user_id, username, display_name,
				(CASE WHEN lower(username) = lower(@term) THEN 3
				      WHEN username ILIKE @prefix THEN 2
				      WHEN username ILIKE @part OR display_name ILIKE @part THEN 1
				      ELSE 0 END
				 + GREATEST(similarity(username, @term), similarity(display_name, @term)))::float8 AS score
			FROM search_users
			WHERE username <> ''
			  AND (username ILIKE @part OR display_name ILIKE @part OR username % @term OR display_name % @term)
		) hit `+keyset+`
		ORDER BY score DESC, user_id DESC
		LIMIT @limit`, args)
	if err != nil {
		return nil, nil, fmt.Errorf("search: users: %w", err)
	}
	hits, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (UserHit, error) {
		var h UserHit
		return h, r.Scan(&h.ID, &h.Username, &h.DisplayName, &h.Score)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("search: users: %w", err)
	}
	var next *Cursor
	if len(hits) > limit {
		hits = hits[:limit]
		last := hits[limit-1]
		next = &Cursor{At: time.Unix(0, 0).UTC(), Score: last.Score, ID: last.ID, Query: qh}
	}
	if hits == nil {
		hits = []UserHit{}
	}
	return hits, next, nil
}

// likeEscape makes s match itself literally in a LIKE pattern.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// unblocked leaves out of hits the posts whose author and viewer blocked
// one another, asking once per author.
func (s *Service) unblocked(ctx context.Context, viewer id.UserID, hits []PostHit) ([]PostHit, error) {
	if s.cfg.Blocks == nil {
		return hits, nil
	}
	blocked := map[string]bool{}
	out := hits[:0]
	for _, h := range hits {
		b, seen := blocked[h.AuthorID]
		if !seen && h.AuthorID != viewer.String() {
			author, err := id.ParseUserID(h.AuthorID)
			if err != nil {
				return nil, fmt.Errorf("search: post author: %w", err)
			}
			if b, err = s.cfg.Blocks.Blocked(ctx, viewer, author); err != nil {
				return nil, fmt.Errorf("search: block check: %w", err)
			}
			blocked[h.AuthorID] = b
		}
		if !b {
			out = append(out, h)
		}
	}
	return out, nil
}

// unblockedUsers leaves out of hits the users who blocked viewer or whom
// viewer blocked (the blocker has their block list).
func (s *Service) unblockedUsers(ctx context.Context, viewer id.UserID, hits []UserHit) ([]UserHit, error) {
	if s.cfg.Blocks == nil {
		return hits, nil
	}
	out := hits[:0]
	for _, h := range hits {
		u, err := id.ParseUserID(h.ID)
		if err != nil {
			return nil, fmt.Errorf("search: user hit: %w", err)
		}
		b, err := s.cfg.Blocks.Blocked(ctx, viewer, u)
		if err != nil {
			return nil, fmt.Errorf("search: block check: %w", err)
		}
		if !b {
			out = append(out, h)
		}
	}
	return out, nil
}

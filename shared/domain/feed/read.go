package feed

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/shared/domain/post"
)

// Order is how a feed page is sorted.
type Order string

// Orders.
const (
	Newest Order = "newest"
	Ranked Order = "ranked"
)

// ErrBadCursor is returned for a cursor this package did not make.
var ErrBadCursor = errors.New("feed: invalid cursor")

// Item is one entry of a feed page.
type Item struct {
	post.Summary
	Author Author   `json:"author"`
	Score  *float64 `json:"score,omitempty"`
}

// Page is one page of a home feed.
type Page struct {
	Items      []Item `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// Hydrator turns post ids into summaries. The feed's own cache is the
// default; ENABLE_DIRECT_CALL swaps in the content service (the design
// document's rollback path). Missing ids are left out of the map.
type Hydrator interface {
	Summaries(ctx context.Context, ids []string) (map[string]post.Summary, error)
}

// Summaries reads summaries from the local post cache.
func (s *Store) Summaries(ctx context.Context, ids []string) (map[string]post.Summary, error) {
	out := make(map[string]post.Summary, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = postKey(id)
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("feed: read cached posts: %w", err)
	}
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		var p post.Summary
		if err := json.Unmarshal([]byte(str), &p); err != nil {
			return nil, fmt.Errorf("feed: decode cached post %s: %w", ids[i], err)
		}
		out[ids[i]] = p
	}
	return out, nil
}

// ReadOptions select a page.
type ReadOptions struct {
	Limit  int
	Cursor string
	Order  Order
	// Hydrator overrides the local cache when set.
	Hydrator Hydrator
}

type entry struct {
	id    string
	score float64
}

// position is a place in a newest-first feed: entries strictly after it
// (lower score, or equal score and lower id) come next.
type position struct {
	score float64
	id    string
}

func (p position) before(e entry) bool {
	return e.score < p.score || (e.score == p.score && e.id < p.id)
}

// Read returns a page of reader's home feed: their feed sorted set merged
// with the recent posts of the celebrities they follow, hydrated, and
// filtered to what reader may see.
func (s *Store) Read(ctx context.Context, reader string, o ReadOptions) (Page, error) {
	if o.Limit <= 0 || o.Limit > 200 {
		return Page{}, fmt.Errorf("feed: limit %d out of range 1..200", o.Limit)
	}
	h := o.Hydrator
	if h == nil {
		h = s
	}
	if o.Order == Ranked {
		offset, err := decodeRankedCursor(o.Cursor)
		if err != nil {
			return Page{}, err
		}
		st, err := s.readerState(ctx, reader)
		if err != nil {
			return Page{}, err
		}
		return s.readRanked(ctx, reader, o, h, st, offset)
	}
	pos, err := decodeNewestCursor(o.Cursor)
	if err != nil {
		return Page{}, err
	}
	st, err := s.readerState(ctx, reader)
	if err != nil {
		return Page{}, err
	}
	follows, celebs, floor := st.follows, st.celebs, st.floor
	var page Page
	for len(page.Items) < o.Limit {
		window := o.Limit*2 + 10
		entries, err := s.window(ctx, reader, celebs, pos, floor, window)
		if err != nil {
			return Page{}, err
		}
		if len(entries) == 0 {
			break
		}
		items, err := s.hydrate(ctx, reader, entries, h, follows)
		if err != nil {
			return Page{}, err
		}
		for i, it := range items {
			if it != nil {
				page.Items = append(page.Items, *it)
			}
			pos = position{entries[i].score, entries[i].id}
			if len(page.Items) == o.Limit {
				break
			}
		}
		if len(entries) < window && len(page.Items) < o.Limit {
			pos = position{}
			break
		}
	}
	if pos != (position{}) && len(page.Items) == o.Limit {
		page.NextCursor = encodeNewestCursor(pos)
	}
	if page.Items == nil {
		page.Items = []Item{}
	}
	return page, nil
}

// readerState is what every read of reader's feed needs first, fetched in
// one round trip: whom they follow, which of those are celebrities, and the
// lowest score a read may return (the Cap-th entry of the feed, so reads
// never reach the part that trimming has not removed yet).
type readerState struct {
	follows map[string]bool
	celebs  []string
	floor   float64
}

func (s *Store) readerState(ctx context.Context, reader string) (readerState, error) {
	pipe := s.rdb.Pipeline()
	following := pipe.SMembers(ctx, followingKey(reader))
	celebs := pipe.SInter(ctx, followingKey(reader), celebritiesKey)
	edge := pipe.ZRevRangeWithScores(ctx, feedKey(reader), int64(s.cfg.Cap-1), int64(s.cfg.Cap-1))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return readerState{}, fmt.Errorf("feed: read reader state: %w", err)
	}
	st := readerState{follows: make(map[string]bool, len(following.Val())), celebs: celebs.Val(), floor: math.Inf(-1)}
	for _, f := range following.Val() {
		st.follows[f] = true
	}
	if z := edge.Val(); len(z) > 0 {
		st.floor = z[0].Score
	}
	return st, nil
}

// window returns up to n entries after pos, newest first, from the feed and
// the celebrity timelines.
func (s *Store) window(ctx context.Context, reader string, celebs []string, pos position, floor float64, n int) ([]entry, error) {
	top := "+inf"
	if pos != (position{}) {
		top = formatScore(pos.score)
	}
	by := &redis.ZRangeBy{Max: top, Min: "-inf", Count: int64(n) + 16}
	pipe := s.rdb.Pipeline()
	feedCmd := pipe.ZRevRangeByScoreWithScores(ctx, feedKey(reader), by)
	celebCmds := make([]*redis.ZSliceCmd, len(celebs))
	for i, c := range celebs {
		celebCmds[i] = pipe.ZRevRangeByScoreWithScores(ctx, authorPostsKey(c), by)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("feed: read window: %w", err)
	}
	seen := map[string]bool{}
	var out []entry
	add := func(zs []redis.Z, capped bool) {
		for _, z := range zs {
			id, _ := z.Member.(string)
			e := entry{id, z.Score}
			if seen[id] || (pos != (position{}) && !pos.before(e)) || (capped && z.Score < floor) {
				continue
			}
			seen[id] = true
			out = append(out, e)
		}
	}
	add(feedCmd.Val(), true)
	for _, c := range celebCmds {
		add(c.Val(), false)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].score != out[j].score {
			return out[i].score > out[j].score
		}
		return out[i].id > out[j].id
	})
	if len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// hydrate resolves entries to items, nil where the reader may not see the
// post or it no longer exists.
func (s *Store) hydrate(ctx context.Context, reader string, entries []entry, h Hydrator, follows map[string]bool) ([]*Item, error) {
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.id
	}
	sums, err := h.Summaries(ctx, ids)
	if err != nil {
		return nil, err
	}
	var authors []string
	for _, p := range sums {
		authors = append(authors, p.AuthorID)
	}
	profiles, err := s.Authors(ctx, authors)
	if err != nil {
		return nil, err
	}
	out := make([]*Item, len(entries))
	for i, e := range entries {
		p, ok := sums[e.id]
		if !ok || !p.VisibleTo(reader, follows[p.AuthorID]) || (p.Hidden && p.AuthorID == reader) {
			continue
		}
		out[i] = &Item{Summary: p, Author: profiles[p.AuthorID]}
	}
	return out, nil
}

// readRanked orders the newest RankedWindow visible entries by score.
func (s *Store) readRanked(ctx context.Context, reader string, o ReadOptions, h Hydrator, st readerState, offset int) (Page, error) {
	follows := st.follows
	entries, err := s.window(ctx, reader, st.celebs, position{}, st.floor, s.cfg.RankedWindow)
	if err != nil {
		return Page{}, err
	}
	items, err := s.hydrate(ctx, reader, entries, h, follows)
	if err != nil {
		return Page{}, err
	}
	var visible []Item
	var ids []string
	for _, it := range items {
		if it != nil {
			visible = append(visible, *it)
			ids = append(ids, it.ID)
		}
	}
	if len(ids) > 0 {
		scores, err := s.rdb.ZMScore(ctx, scoresKey, ids...).Result()
		if err != nil {
			return Page{}, fmt.Errorf("feed: read scores: %w", err)
		}
		for i := range visible {
			v := scores[i]
			visible[i].Score = &v
		}
	}
	sort.SliceStable(visible, func(i, j int) bool {
		a, b := *visible[i].Score, *visible[j].Score
		if a != b {
			return a > b
		}
		return visible[i].CreatedAt.After(visible[j].CreatedAt)
	})
	page := Page{Items: []Item{}}
	if offset < len(visible) {
		end := min(offset+o.Limit, len(visible))
		page.Items = visible[offset:end]
		if end < len(visible) {
			page.NextCursor = encodeRankedCursor(end)
		}
	}
	return page, nil
}

func encodeNewestCursor(p position) string {
	return base64.RawURLEncoding.EncodeToString([]byte("n:" + formatScore(p.score) + ":" + p.id))
}

func decodeNewestCursor(c string) (position, error) {
	if c == "" {
		return position{}, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return position{}, ErrBadCursor
	}
	parts := strings.SplitN(string(raw), ":", 3)
	if len(parts) != 3 || parts[0] != "n" || parts[2] == "" {
		return position{}, ErrBadCursor
	}
	v, err := strconv.ParseFloat(parts[1], 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return position{}, ErrBadCursor
	}
	return position{v, parts[2]}, nil
}

func encodeRankedCursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("r:" + strconv.Itoa(offset)))
}

func decodeRankedCursor(c string) (int, error) {
	if c == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, ErrBadCursor
	}
	s, ok := strings.CutPrefix(string(raw), "r:")
	if !ok {
		return 0, ErrBadCursor
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 1<<20 {
		return 0, ErrBadCursor
	}
	return n, nil
}

package feed_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nova-social/nova/shared/domain/feed"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/testrig"
)

// rig is a feed store on the real Redis with helpers that build fixtures.
type rig struct {
	t     *testing.T
	ctx   context.Context
	store *feed.Store
	clock time.Time
}

func newRig(t *testing.T, mutate ...func(*feed.Config)) *rig {
	t.Helper()
	cfg := feed.DefaultConfig()
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := feed.NewStore(testrig.Redis(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, ctx: context.Background(), store: s, clock: time.Now().Truncate(time.Millisecond)}
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func (r *rig) user() string { return newID() }

func (r *rig) follow(follower, followee string) {
	r.t.Helper()
	if _, err := r.store.Follow(r.ctx, follower, followee); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) post(author string, vis post.Visibility) post.Summary {
	r.t.Helper()
	r.clock = r.clock.Add(time.Second)
	p := post.Summary{ID: newID(), AuthorID: author, Content: "hello " + author[:8], Type: post.Text,
		Visibility: vis, Tags: []string{}, Media: []post.Media{}, CreatedAt: r.clock, UpdatedAt: r.clock}
	if _, err := r.store.PostCreated(r.ctx, p); err != nil {
		r.t.Fatal(err)
	}
	return p
}

func (r *rig) feedIDs(reader string) []string {
	r.t.Helper()
	page, err := r.store.Read(r.ctx, reader, feed.ReadOptions{Limit: 200})
	if err != nil {
		r.t.Fatal(err)
	}
	ids := make([]string, len(page.Items))
	for i, it := range page.Items {
		ids[i] = it.ID
	}
	return ids
}

func (r *rig) wantFeed(reader string, want ...string) {
	r.t.Helper()
	got := r.feedIDs(reader)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		r.t.Fatalf("feed of %s = %v, want %v", reader[:8], got, want)
	}
}

func TestPostCreatedReachesFollowersAllowedToSeeIt(t *testing.T) {
	r := newRig(t)
	author, a, b, stranger := r.user(), r.user(), r.user(), r.user()
	r.follow(a, author)
	r.follow(b, author)
	pub := r.post(author, post.Public)
	fo := r.post(author, post.FollowersOnly)
	priv := r.post(author, post.Private)

	r.wantFeed(a, fo.ID, pub.ID)
	r.wantFeed(b, fo.ID, pub.ID)
	r.wantFeed(stranger)
	r.wantFeed(author, priv.ID, fo.ID, pub.ID)
	// Not only filtered on read: never written where it does not belong.
	if raw := testrig.Redis(t).ZRange(r.ctx, feed.FeedKey(a), 0, -1).Val(); len(raw) != 2 {
		t.Fatalf("follower's stored feed holds %v, want only the two shareable posts", raw)
	}
}

func TestRedeliveredPostCreatedChangesNothing(t *testing.T) {
	r := newRig(t)
	author, a := r.user(), r.user()
	r.follow(a, author)
	p := r.post(author, post.Public)
	before, err := testrig.Redis(t).ZRangeWithScores(r.ctx, feed.FeedKey(a), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.store.PostCreated(r.ctx, p); err != nil {
		t.Fatal(err)
	}
	after, _ := testrig.Redis(t).ZRangeWithScores(r.ctx, feed.FeedKey(a), 0, -1).Result()
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("redelivery changed the feed: %v → %v", before, after)
	}
}

func TestProcessedMarker(t *testing.T) {
	r := newRig(t)
	src, id := "/nova/content-service", newID()
	if seen, err := r.store.Processed(r.ctx, src, id); err != nil || seen {
		t.Fatalf("fresh event seen=%v err=%v", seen, err)
	}
	if err := r.store.MarkProcessed(r.ctx, src, id); err != nil {
		t.Fatal(err)
	}
	if seen, err := r.store.Processed(r.ctx, src, id); err != nil || !seen {
		t.Fatalf("marked event seen=%v err=%v", seen, err)
	}
	ttl := testrig.Redis(t).TTL(r.ctx, "processed:"+src+":"+id).Val()
	if ttl < 6*24*time.Hour || ttl > 7*24*time.Hour {
		t.Fatalf("dedupe TTL %v, want 7 days", ttl)
	}
}

func TestDeleteRemovesEverywhereAndTombstoneStopsLateDuplicate(t *testing.T) {
	r := newRig(t)
	author, a := r.user(), r.user()
	r.follow(a, author)
	p := r.post(author, post.Public)
	if _, err := r.store.PostDeleted(r.ctx, p.ID, author); err != nil {
		t.Fatal(err)
	}
	r.wantFeed(a)
	r.wantFeed(author)
	if _, ok, _ := r.store.Summary(r.ctx, p.ID); ok {
		t.Fatal("deleted post still cached")
	}
	res, err := r.store.PostCreated(r.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Ignored {
		t.Fatal("duplicate creation of a deleted post was applied")
	}
	r.wantFeed(a)
}

func update(p post.Summary, at time.Time, f func(*post.Summary)) func(post.Summary) (post.Summary, bool) {
	return func(cur post.Summary) (post.Summary, bool) {
		if at.Before(cur.UpdatedAt) {
			return cur, false
		}
		n := cur
		n.UpdatedAt = at
		f(&n)
		return n, true
	}
}

func TestVisibilityChangesAddAndRemove(t *testing.T) {
	r := newRig(t)
	author, a := r.user(), r.user()
	r.follow(a, author)
	p := r.post(author, post.Public)
	at := p.UpdatedAt.Add(time.Second)
	if _, err := r.store.PostUpdated(r.ctx, update(p, at, func(s *post.Summary) { s.Visibility = post.Private }), p.ID); err != nil {
		t.Fatal(err)
	}
	r.wantFeed(a)
	r.wantFeed(author, p.ID)
	if n := testrig.Redis(t).ZCard(r.ctx, feed.FeedKey(a)).Val(); n != 0 {
		t.Fatalf("post made private still stored in a follower's feed")
	}
	at = at.Add(time.Second)
	if _, err := r.store.PostUpdated(r.ctx, update(p, at, func(s *post.Summary) { s.Visibility = post.FollowersOnly }), p.ID); err != nil {
		t.Fatal(err)
	}
	r.wantFeed(a, p.ID)
}

func TestHiddenPostLeavesEveryFeed(t *testing.T) {
	r := newRig(t)
	author, a := r.user(), r.user()
	r.follow(a, author)
	p := r.post(author, post.Public)
	at := p.UpdatedAt.Add(time.Second)
	if _, err := r.store.PostUpdated(r.ctx, update(p, at, func(s *post.Summary) { s.Hidden = true; s.HiddenReason = "blocked_term" }), p.ID); err != nil {
		t.Fatal(err)
	}
	r.wantFeed(a)
	r.wantFeed(author)
}

func TestStaleUpdateIgnored(t *testing.T) {
	r := newRig(t)
	author := r.user()
	p := r.post(author, post.Public)
	newer := p.UpdatedAt.Add(2 * time.Second)
	if _, err := r.store.PostUpdated(r.ctx, update(p, newer, func(s *post.Summary) { s.Content = "new" }), p.ID); err != nil {
		t.Fatal(err)
	}
	res, err := r.store.PostUpdated(r.ctx, update(p, p.UpdatedAt.Add(time.Second), func(s *post.Summary) { s.Content = "old" }), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, _, _ := r.store.Summary(r.ctx, p.ID)
	if !res.Ignored || got.Content != "new" {
		t.Fatalf("stale update applied: ignored=%v content=%q", res.Ignored, got.Content)
	}
}

func TestFollowBackfillsAndUnfollowRemoves(t *testing.T) {
	r := newRig(t)
	author, a := r.user(), r.user()
	p1 := r.post(author, post.Public)
	priv := r.post(author, post.Private)
	p2 := r.post(author, post.FollowersOnly)
	r.follow(a, author)
	r.wantFeed(a, p2.ID, p1.ID)
	_ = priv
	other := r.user()
	r.follow(a, other)
	q := r.post(other, post.Public)
	if _, err := r.store.Unfollow(r.ctx, a, author); err != nil {
		t.Fatal(err)
	}
	r.wantFeed(a, q.ID)
	if ok, _ := r.store.Follows(r.ctx, a, author); ok {
		t.Fatal("still following after unfollow")
	}
}

func TestCelebrityPostsMergedAtReadTime(t *testing.T) {
	r := newRig(t, func(c *feed.Config) { c.CelebrityThreshold = 3 })
	celeb, normal := r.user(), r.user()
	fans := []string{r.user(), r.user(), r.user()}
	for _, f := range fans {
		r.follow(f, celeb)
	}
	r.follow(fans[0], normal)
	c1 := r.post(celeb, post.Public)
	n1 := r.post(normal, post.Public)
	c2 := r.post(celeb, post.FollowersOnly)
	res, err := r.store.PostCreated(r.ctx, c2)
	if err != nil {
		t.Fatal(err)
	}
	if !res.FanoutOnRead || res.FeedsWritten != 1 {
		t.Fatalf("celebrity post fanned out on write: %+v", res)
	}
	if n := testrig.Redis(t).ZCard(r.ctx, feed.FeedKey(fans[1])).Val(); n != 0 {
		t.Fatalf("celebrity post written into a fan's feed (%d entries)", n)
	}
	r.wantFeed(fans[0], c2.ID, n1.ID, c1.ID)
	r.wantFeed(fans[1], c2.ID, c1.ID)
	r.wantFeed(r.user())
}

func TestPagesAreDisjointAndComplete(t *testing.T) {
	r := newRig(t)
	author, a := r.user(), r.user()
	r.follow(a, author)
	var want []string
	for range 25 {
		want = append([]string{r.post(author, post.Public).ID}, want...)
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		page, err := r.store.Read(r.ctx, a, feed.ReadOptions{Limit: 7, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			got = append(got, it.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("paged feed\n got %v\nwant %v", got, want)
	}
	if _, err := r.store.Read(r.ctx, a, feed.ReadOptions{Limit: 7, Cursor: "bm90LWEtY3Vyc29y"}); err == nil {
		t.Fatal("forged cursor accepted")
	}
}

func TestFeedIsCapped(t *testing.T) {
	r := newRig(t, func(c *feed.Config) { c.Cap = 5; c.BackfillLimit = 5; c.TrimEvery = 1 })
	author, a := r.user(), r.user()
	r.follow(a, author)
	var newest []string
	for range 9 {
		newest = append([]string{r.post(author, post.Public).ID}, newest...)
	}
	r.wantFeed(a, newest[:5]...)
	if n := testrig.Redis(t).ZCard(r.ctx, feed.FeedKey(a)).Val(); n != 5 {
		t.Fatalf("feed holds %d entries, cap 5", n)
	}
}

func TestRankedOrderUsesScores(t *testing.T) {
	r := newRig(t)
	author, a := r.user(), r.user()
	r.follow(a, author)
	p1 := r.post(author, post.Public)
	p2 := r.post(author, post.Public)
	p3 := r.post(author, post.Public)
	for id, v := range map[string]float64{p1.ID: 9, p2.ID: 1, p3.ID: 5} {
		if err := r.store.SetScore(r.ctx, id, v); err != nil {
			t.Fatal(err)
		}
	}
	page, err := r.store.Read(r.ctx, a, feed.ReadOptions{Limit: 2, Order: feed.Ranked})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 || page.Items[0].ID != p1.ID || page.Items[1].ID != p3.ID || page.NextCursor == "" {
		t.Fatalf("ranked page 1: %+v", page)
	}
	page, err = r.store.Read(r.ctx, a, feed.ReadOptions{Limit: 2, Order: feed.Ranked, Cursor: page.NextCursor})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].ID != p2.ID {
		t.Fatalf("ranked page 2: %+v", page)
	}
}

func TestAuthorsFromProfileCache(t *testing.T) {
	r := newRig(t)
	author, a := r.user(), r.user()
	name := "alice_" + author[:6]
	if err := r.store.UpdateProfile(r.ctx, author, feed.ProfileChange{Username: &name}); err != nil {
		t.Fatal(err)
	}
	r.follow(a, author)
	r.post(author, post.Public)
	page, err := r.store.Read(r.ctx, a, feed.ReadOptions{Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].Author.Username != name {
		t.Fatalf("author not hydrated: %+v", page.Items)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := feed.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := feed.DefaultConfig()
	bad.Cap = 0
	if bad.Validate() == nil {
		t.Fatal("zero cap accepted")
	}
}

func TestFanoutInManyBatchesReachesEveryFollower(t *testing.T) {
	r := newRig(t, func(c *feed.Config) { c.BatchSize = 3; c.Writers = 2 })
	author := r.user()
	fans := make([]string, 50)
	for i := range fans {
		fans[i] = r.user()
		r.follow(fans[i], author)
	}
	p := r.post(author, post.Public)
	res, err := r.store.PostCreated(r.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if res.FeedsWritten < 51 {
		t.Fatalf("fan-out wrote %d feeds, want 51", res.FeedsWritten)
	}
	for _, f := range fans {
		r.wantFeed(f, p.ID)
	}
}

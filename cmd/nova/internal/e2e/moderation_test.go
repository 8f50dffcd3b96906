package e2e_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/nova-social/nova/shared/testrig"
)

// A post with a blocked term leaves every follower's feed and search on its
// own: nova-api → content-events → trust-safety (HIDE, queued for review) →
// trust-safety-events → moderation-apply (PostUpdated hidden) →
// content-events → feed-fanout and search-indexer. Its author sees why; a
// reviewer's allow brings it back.
func TestBlockedPostLeavesFeedsAndSearchOnItsOwn(t *testing.T) {
	r := startInsight(t, nil)
	admin := r.register("mod")
	r.grantAdmin(admin)

	author, fan, friend := r.register("author"), r.register("fan"), r.register("friend")
	r.follow(fan, author)
	r.follow(friend, author)
	word := "meadow" + testrig.ID()[:6]
	ok := r.post(author, "a sunny "+word+" walk", "PUBLIC")
	bad := r.post(author, "want to buy followers? cheap "+word, "PUBLIC")

	// The author sees why, once moderation-apply has hidden the post.
	r.eventually("the author sees the post hidden, with the reason", func() (bool, string) {
		mine := r.must(http.StatusOK, "GET", "/v1/posts/"+bad, author.Token, nil)
		return mine["hidden"] == true && strings.Contains(fmt.Sprint(mine["hidden_reason"]), "blocked_term: buy followers"), fmt.Sprint(mine)
	})
	r.must(http.StatusNotFound, "GET", "/v1/posts/"+bad, fan.Token, nil)
	// A later post of the author travels the same partition behind the
	// hide, so once it is in the feeds the hide has been applied there.
	later := r.post(author, "a later post", "PUBLIC")
	r.feedIs(fan, later, ok)
	r.feedIs(friend, later, ok)
	r.feedIs(author, later, ok)

	t.Run("search", func(t *testing.T) {
		r.finds(fan, "posts", word, ok)
		r.finds(author, "posts", word, ok) // search never shows hidden posts, not even to their author
	})

	t.Run("review queue", func(t *testing.T) {
		r.must(http.StatusForbidden, "GET", "/v1/moderation/queue", fan.Token, nil)
		q := r.must(http.StatusOK, "GET", "/v1/moderation/queue?limit=100", admin.Token, nil)
		found := false
		for _, it := range q["items"].([]any) {
			m := it.(map[string]any)
			if m["post_id"] == bad {
				found = m["action"] == "hide"
			}
		}
		if !found {
			t.Fatalf("queue %v lacks the hidden post", q)
		}
		d := r.must(http.StatusOK, "POST", "/v1/moderation/queue/"+bad+"/decision", admin.Token,
			map[string]any{"action": "allow", "reason": "a joke among friends"})
		if d["action"] != "allow" || d["decided_by"] == "" || d["decided_by"] == "auto" {
			t.Fatalf("decision %v", d)
		}
		// The reviewer's allow restores the post everywhere.
		r.feedIs(fan, later, bad, ok)
		r.feedIs(friend, later, bad, ok)
		r.must(http.StatusNotFound, "POST", "/v1/moderation/queue/"+bad+"/decision", admin.Token, map[string]any{"action": "allow"})
	})
}

// rankedFeed returns the post ids of u's feed in ranked order.
func (r *rig) rankedFeed(u user) []string {
	r.t.Helper()
	out := r.must(http.StatusOK, "GET", "/v1/feed?order=ranked&limit=100", u.Token, nil)
	var ids []string
	items, _ := out["items"].([]any)
	for _, it := range items {
		ids = append(ids, it.(map[string]any)["id"].(string))
	}
	return ids
}

// Likes from several users move an older post above a newer one in
// GET /v1/feed?order=ranked: content → analytics-events → ranking
// (coalesced PostScoreUpdated) → ranking-updates → feed-fanout.
func TestLikesMoveAPostUpTheRankedFeed(t *testing.T) {
	r := start(t)
	author, fan := r.register("author"), r.register("fan")
	r.follow(fan, author)
	older := r.post(author, "the older post", "PUBLIC")
	newer := r.post(author, "the newer post", "PUBLIC")
	r.feedIs(fan, newer, older)
	r.eventually("ranked feed: newer first before any like", func() (bool, string) {
		got := r.rankedFeed(fan)
		return fmt.Sprint(got) == fmt.Sprint([]string{newer, older}), fmt.Sprint(got)
	})
	for i := range 3 {
		liker := r.register(fmt.Sprintf("liker%d", i))
		r.must(http.StatusOK, "POST", "/v1/posts/"+older+"/likes", liker.Token, nil)
	}
	r.eventually("ranked feed: the liked post first", func() (bool, string) {
		got := r.rankedFeed(fan)
		return fmt.Sprint(got) == fmt.Sprint([]string{older, newer}), fmt.Sprint(got)
	})
	// The newest-first order is untouched.
	r.feedIs(fan, newer, older)
}

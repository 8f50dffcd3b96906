package api_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Through the assembled nova-api: after the owner blocks another user,
// that user finds none of the owner's posts (GET → 404, search leaves them
// out) while a third user still does, and the owner's inbox forgets them;
// unblocking brings the posts back.
func TestBlockHidesPostsAcrossDomains(t *testing.T) {
	r := newSecRig(t, nil)
	o, blocked, third := r.people[owner], r.people[other], r.people[admin]
	marker := "zblocked" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	if _, err := r.pool.Exec(context.Background(), `INSERT INTO search_posts (post_id, author_id, content, visibility, created_at, updated_at)
		VALUES ($1, $2, $3, 'PUBLIC', now(), now())`, r.publicPost, o.id.String(), "hello "+marker); err != nil {
		t.Fatal(err)
	}
	finds := func(token string) bool {
		t.Helper()
		code, _, body := r.send(request{method: "GET", path: "/v1/search?q=" + url.QueryEscape(marker)}, token)
		if code != http.StatusOK {
			t.Fatalf("search: %d %s", code, body)
		}
		return strings.Contains(string(body), marker)
	}
	if !finds(blocked.token) {
		t.Fatal("before the block the post is not found")
	}

	// The blocked user's follow, as the notifier put it in the owner's inbox.
	if _, err := r.pool.Exec(context.Background(), `INSERT INTO notifications
		(id, recipient_id, kind, subject_id, actor_ids, count, text, group_key, created_at, updated_at)
		VALUES (gen_random_uuid(), $1::uuid, 'FOLLOW', $1::text, ARRAY[$2::uuid], 1, 'You have a new follower', 'FOLLOW:' || $1::text, now(), now())`,
		o.id.String(), blocked.id.String()); err != nil {
		t.Fatal(err)
	}
	inboxNames := func(token string, who string) bool {
		t.Helper()
		code, _, body := r.send(request{method: "GET", path: "/v1/notifications"}, token)
		if code != http.StatusOK {
			t.Fatalf("notifications: %d %s", code, body)
		}
		return strings.Contains(string(body), who)
	}
	if !inboxNames(o.token, blocked.id.String()) {
		t.Fatal("before the block the owner's inbox does not show the follow")
	}

	r.must(http.StatusNoContent, "POST", "/v1/users/"+blocked.id.String()+"/block", o.token, nil)
	if inboxNames(o.token, blocked.id.String()) {
		t.Error("after the block the owner's inbox still shows the blocked user")
	}
	if finds(blocked.token) {
		t.Error("the blocked user finds the blocker's post")
	}
	if !finds(third.token) {
		t.Error("a third user no longer finds the post")
	}
	// Nor does the blocked find the blocker among users.
	if _, err := r.pool.Exec(context.Background(), `INSERT INTO search_users (user_id, username, display_name, updated_at)
		VALUES ($1, $2, '', now()) ON CONFLICT (user_id) DO UPDATE SET username = excluded.username`, o.id.String(), o.name); err != nil {
		t.Fatal(err)
	}
	findsUser := func(token string) bool {
		t.Helper()
		code, _, body := r.send(request{method: "GET", path: "/v1/search?type=users&q=" + url.QueryEscape(o.name)}, token)
		if code != http.StatusOK {
			t.Fatalf("user search: %d %s", code, body)
		}
		return strings.Contains(string(body), o.id.String())
	}
	if findsUser(blocked.token) || !findsUser(third.token) {
		t.Error("user search: the blocked finds the blocker, or a third user does not")
	}
	r.must(http.StatusNotFound, "GET", "/v1/posts/"+r.publicPost, blocked.token, nil)
	r.must(http.StatusNotFound, "GET", "/v1/users/"+o.id.String(), blocked.token, nil)
	r.must(http.StatusNotFound, "POST", "/v1/users/"+o.id.String()+"/follow", blocked.token, nil)
	r.must(http.StatusOK, "GET", "/v1/posts/"+r.publicPost, third.token, nil)

	r.must(http.StatusNoContent, "DELETE", "/v1/users/"+blocked.id.String()+"/block", o.token, nil)
	if !finds(blocked.token) {
		t.Error("after the unblock the post is still not found")
	}
	r.must(http.StatusOK, "GET", "/v1/posts/"+r.publicPost, blocked.token, nil)
}

package content_test

import (
	"testing"

	"github.com/nova-social/nova/shared/id"
)

// Between a blocked pair, each other's posts are not there: reads and
// every engagement are 404, and the feed's hydrator leaves them out; a
// third user is untouched and unblocking restores them.
func TestBlockedPairSeesNoPosts(t *testing.T) {
	r := newRig(t)
	author, blocked, stranger := r.user(), r.user(), r.user()
	r.follows(blocked, author)
	pub := r.create(author, `{"content":"public"}`)
	fol := r.create(author, `{"content":"followers","visibility":"FOLLOWERS_ONLY"}`)
	theirs := r.create(blocked, `{"content":"the blocked user's"}`)
	if _, err := r.people.Block(r.ctx, author, blocked); err != nil {
		t.Fatal(err)
	}

	for _, p := range []apiPost{pub, fol} {
		for _, c := range []struct{ method, suffix, body string }{
			{"GET", "", ""}, {"POST", "/likes", ""}, {"DELETE", "/likes", ""},
			{"POST", "/comments", `{"content":"hi"}`}, {"GET", "/comments", ""},
			{"POST", "/views", ""}, {"POST", "/shares", ""},
		} {
			res := r.doAs(c.method, "/v1/posts/"+p.ID+c.suffix, blocked, c.body)
			if code := res.errorCode(t, 404); code != "not_found" {
				t.Errorf("blocked %s %q%s: code %s", c.method, p.Content, c.suffix, code)
			}
		}
	}
	// The blocker does not see the blocked user's posts either.
	if code := r.doAs("GET", "/v1/posts/"+theirs.ID, author, "").errorCode(t, 404); code != "not_found" {
		t.Errorf("blocker reading the blocked's post: %s", code)
	}
	if res := r.doAs("GET", "/v1/posts/"+pub.ID, stranger, ""); res.Status != 200 {
		t.Errorf("stranger reading: %d", res.Status)
	}
	if res := r.doAs("GET", "/v1/posts/"+pub.ID, author, ""); res.Status != 200 {
		t.Errorf("author reading their own: %d", res.Status)
	}
	var n int
	if err := r.pool.QueryRow(r.ctx, `SELECT (SELECT count(*) FROM likes) + (SELECT count(*) FROM comments)`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("refused engagement left %d likes and comments", n)
	}

	// Comments by the blocked are left out of the blocker's reading, also
	// on someone else's post; a third user still reads them.
	third := r.create(stranger, `{"content":"a third user's"}`)
	if _, err := r.people.Unblock(r.ctx, author, blocked); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		who  id.UserID
		text string
	}{{blocked, "by the blocked"}, {author, "by the blocker"}, {blocked, "again by the blocked"}} {
		if res := r.doAs("POST", "/v1/posts/"+third.ID+"/comments", c.who, `{"content":"`+c.text+`"}`); res.Status != 201 {
			t.Fatalf("comment: %d", res.Status)
		}
	}
	if _, err := r.people.Block(r.ctx, author, blocked); err != nil {
		t.Fatal(err)
	}
	readComments := func(viewer id.UserID) []string {
		var texts []string
		path := "/v1/posts/" + third.ID + "/comments?limit=1"
		for range 5 {
			var page struct {
				Items []struct {
					Content string `json:"content"`
				} `json:"items"`
				NextCursor *string `json:"next_cursor"`
			}
			r.doAs("GET", path, viewer, "").json(t, &page)
			for _, it := range page.Items {
				texts = append(texts, it.Content)
			}
			if page.NextCursor == nil {
				break
			}
			path = "/v1/posts/" + third.ID + "/comments?limit=1&cursor=" + *page.NextCursor
		}
		return texts
	}
	if got := readComments(author); len(got) != 1 || got[0] != "by the blocker" {
		t.Errorf("the blocker reads comments %q, want only their own", got)
	}
	if got := readComments(stranger); len(got) != 3 {
		t.Errorf("a third user reads comments %q, want all 3", got)
	}

	sums, err := r.svc.Summaries(r.ctx, blocked, []string{pub.ID, theirs.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sums[pub.ID]; ok || len(sums) != 1 {
		t.Errorf("Summaries for the blocked user: %v, want only their own post", sums)
	}

	if _, err := r.people.Unblock(r.ctx, author, blocked); err != nil {
		t.Fatal(err)
	}
	if res := r.doAs("GET", "/v1/posts/"+pub.ID, blocked, ""); res.Status != 200 {
		t.Errorf("after unblock: %d, want 200", res.Status)
	}
}

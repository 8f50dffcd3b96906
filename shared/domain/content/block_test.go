package content_test

import (
	"testing"
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

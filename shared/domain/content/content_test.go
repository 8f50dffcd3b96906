package content_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/content"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/id"
)

func TestCreateAndGet(t *testing.T) {
	r := newRig(t)
	author := r.user()
	p := r.create(author, `{"content":"hello Nova","visibility":"FOLLOWERS_ONLY","tags":["#go"," kafka ","go"]}`)
	if _, err := id.ParsePostID(p.ID); err != nil {
		t.Fatalf("id %q: %v", p.ID, err)
	}
	if p.AuthorID != author.String() || p.Content != "hello Nova" || p.Type != "TEXT" || p.Visibility != "FOLLOWERS_ONLY" ||
		fmt.Sprint(p.Tags) != "[go kafka]" || p.Media == nil || len(p.Media) != 0 || p.CreatedAt.IsZero() ||
		!p.UpdatedAt.Equal(p.CreatedAt) || p.LikeCount != 0 || p.CommentCount != 0 {
		t.Fatalf("created %+v", p)
	}

	// The event was written with the row, keyed by the author.
	evs := r.events()
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
	ev := evs[0]
	if ev.Topic != "content-events" || ev.Key != author.String() || ev.Event.Subject() != p.ID ||
		ev.Event.Source() != "/nova/content-service" || !ev.Event.Time().Equal(p.CreatedAt) {
		t.Fatalf("event envelope %s/%s %v", ev.Topic, ev.Key, ev.Event)
	}
	want := &eventsv1.PostCreated{
		PostId: p.ID, UserId: author.String(), Content: "hello Nova", Type: eventsv1.PostType_POST_TYPE_TEXT,
		Visibility: eventsv1.PostVisibility_POST_VISIBILITY_FOLLOWERS_ONLY, Tags: []string{"go", "kafka"},
	}
	got := proto.Clone(ev.Message).(*eventsv1.PostCreated)
	if !got.GetCreatedAt().AsTime().Equal(p.CreatedAt) {
		t.Fatalf("created_at %v, want %v", got.GetCreatedAt().AsTime(), p.CreatedAt)
	}
	got.CreatedAt = nil
	if !proto.Equal(got, want) {
		t.Fatalf("PostCreated\n got %v\nwant %v", got, want)
	}

	// Read back, the same post.
	res := r.doAs("GET", "/v1/posts/"+p.ID, author, "")
	var again apiPost
	res.json(t, &again)
	if res.Status != http.StatusOK || fmt.Sprint(again) != fmt.Sprint(p) {
		t.Fatalf("GET %d\n got %+v\nwant %+v", res.Status, again, p)
	}

	// Defaults and the other design names.
	img := r.create(author, `{"type":"image","content":""}`)
	if img.Type != "IMAGE" || img.Visibility != "PUBLIC" || len(img.Tags) != 0 || img.Tags == nil {
		t.Fatalf("defaults %+v", img)
	}
}

func TestVisibilityOnRead(t *testing.T) {
	r := newRig(t)
	author, follower, stranger := r.user(), r.user(), r.user()
	r.follows(follower, author)
	pub := r.create(author, `{"content":"public"}`)
	fol := r.create(author, `{"content":"followers","visibility":"FOLLOWERS_ONLY"}`)
	priv := r.create(author, `{"content":"private","visibility":"PRIVATE"}`)
	hidden := r.create(author, `{"content":"hidden"}`)
	r.hide(hidden.ID, "spam")

	cases := []struct {
		post   apiPost
		viewer id.UserID
		status int
	}{
		{pub, author, 200}, {pub, follower, 200}, {pub, stranger, 200},
		{fol, author, 200}, {fol, follower, 200}, {fol, stranger, 404},
		{priv, author, 200}, {priv, follower, 404}, {priv, stranger, 404},
		{hidden, author, 200}, {hidden, follower, 404}, {hidden, stranger, 404},
	}
	who := map[id.UserID]string{author: "author", follower: "follower", stranger: "stranger"}
	for _, c := range cases {
		res := r.doAs("GET", "/v1/posts/"+c.post.ID, c.viewer, "")
		if c.status == 404 {
			if code := res.errorCode(t, 404); code != "not_found" {
				t.Errorf("%s reading %q: code %s", who[c.viewer], c.post.Content, code)
			}
			continue
		}
		if res.Status != c.status {
			t.Errorf("%s reading %q: status %d, want %d", who[c.viewer], c.post.Content, res.Status, c.status)
		}
	}
	// The author sees why their post was hidden.
	var h apiPost
	r.doAs("GET", "/v1/posts/"+hidden.ID, author, "").json(t, &h)
	if !h.Hidden || h.HiddenReason != "spam" {
		t.Fatalf("author's view of the hidden post: %+v", h)
	}

	// Summaries (the feed's direct-call hydrator) apply the same rules and
	// skip what is unknown or malformed.
	ids := []string{pub.ID, fol.ID, priv.ID, hidden.ID, id.NewPostID().String(), "not-an-id"}
	for viewer, want := range map[id.UserID][]string{
		author:   {pub.ID, fol.ID, priv.ID, hidden.ID},
		follower: {pub.ID, fol.ID},
		stranger: {pub.ID},
	} {
		sums, err := r.svc.Summaries(r.ctx, viewer, ids)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for k, s := range sums {
			if k != s.ID {
				t.Fatalf("summary under %s has id %s", k, s.ID)
			}
			got = append(got, k)
		}
		slices.Sort(got)
		slices.Sort(want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("summaries for %s = %v, want %v", who[viewer], got, want)
		}
	}

	// Unfollowing takes the followers-only post away.
	r.unfollows(follower, author)
	r.doAs("GET", "/v1/posts/"+fol.ID, follower, "").errorCode(t, 404)
	// So does deletion, for everyone.
	r.doAs("DELETE", "/v1/posts/"+pub.ID, author, "")
	r.doAs("GET", "/v1/posts/"+pub.ID, author, "").errorCode(t, 404)
	r.doAs("GET", "/v1/posts/"+pub.ID, stranger, "").errorCode(t, 404)
}

func TestUpdateEmitsWhatChanged(t *testing.T) {
	r := newRig(t)
	author := r.user()
	p := r.create(author, `{"content":"first","tags":["a"]}`)

	res := r.doAs("PATCH", "/v1/posts/"+p.ID, author, `{"content":"second","tags":["a","b"]}`)
	var up apiPost
	res.json(t, &up)
	if res.Status != 200 || up.Content != "second" || fmt.Sprint(up.Tags) != "[a b]" || up.Visibility != "PUBLIC" ||
		!up.UpdatedAt.After(p.UpdatedAt) || !up.CreatedAt.Equal(p.CreatedAt) {
		t.Fatalf("PATCH %d %+v", res.Status, up)
	}
	res = r.doAs("PATCH", "/v1/posts/"+p.ID, author, `{"visibility":"private","tags":["a","b"]}`)
	var up2 apiPost
	res.json(t, &up2)
	if res.Status != 200 || up2.Visibility != "PRIVATE" || up2.Content != "second" || !up2.UpdatedAt.After(up.UpdatedAt) {
		t.Fatalf("PATCH %d %+v", res.Status, up2)
	}
	// Nothing changes: nothing written, nothing emitted.
	before := r.postsDigest()
	res = r.doAs("PATCH", "/v1/posts/"+p.ID, author, `{"content":"second","visibility":"PRIVATE"}`)
	if res.Status != 200 || r.postsDigest() != before {
		t.Fatalf("no-op PATCH: %d, rows changed %v", res.Status, r.postsDigest() != before)
	}

	evs := r.events()
	if len(evs) != 3 {
		t.Fatalf("%d events, want PostCreated and two PostUpdated", len(evs))
	}
	first, ok := evs[1].Message.(*eventsv1.PostUpdated)
	if !ok || evs[1].Key != author.String() {
		t.Fatalf("second event %T key %s", evs[1].Message, evs[1].Key)
	}
	if first.Content == nil || first.GetContent() != "second" || first.Visibility != nil ||
		fmt.Sprint(first.GetTags()) != "[a b]" || len(first.GetMedia()) != 0 ||
		!first.GetUpdatedAt().AsTime().Equal(up.UpdatedAt) || first.GetPostId() != p.ID || first.GetUserId() != author.String() {
		t.Fatalf("first update %v", first)
	}
	second := evs[2].Message.(*eventsv1.PostUpdated)
	if second.Content != nil || second.Visibility == nil || second.GetVisibility() != eventsv1.PostVisibility_POST_VISIBILITY_PRIVATE ||
		fmt.Sprint(second.GetTags()) != "[a b]" || !second.GetUpdatedAt().AsTime().Equal(up2.UpdatedAt) {
		t.Fatalf("second update %v", second)
	}
	// A feed that applies the events ends where the database is.
	created := evs[0].Message.(*eventsv1.PostCreated)
	sum := post.FromCreated(created)
	for _, e := range evs[1:] {
		sum, _ = sum.Apply(e.Message.(*eventsv1.PostUpdated))
	}
	got, err := r.svc.Get(r.ctx, author, id.PostID(p.ID))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sum) != fmt.Sprint(got.Summary) {
		t.Fatalf("events replayed\n %+v\ndatabase\n %+v", sum, got.Summary)
	}
}

func TestDeleteIsSoftAndEmits(t *testing.T) {
	r := newRig(t)
	author := r.user()
	p := r.create(author, `{"content":"bye"}`)
	res := r.doAs("DELETE", "/v1/posts/"+p.ID, author, "")
	if res.Status != http.StatusNoContent || len(res.Body) != 0 {
		t.Fatalf("DELETE %d %s", res.Status, res.Body)
	}
	if c := r.counts(); c.Posts != 1 || c.Live != 0 {
		t.Fatalf("rows after delete %+v, want the row kept and marked", c)
	}
	evs := r.events()
	del, ok := evs[len(evs)-1].Message.(*eventsv1.PostDeleted)
	if len(evs) != 2 || !ok || del.GetPostId() != p.ID || del.GetUserId() != author.String() ||
		del.GetDeletedAt() == nil || evs[1].Key != author.String() {
		t.Fatalf("events %d, last %v", len(evs), evs[len(evs)-1].Message)
	}
	// Deleting again finds nothing and emits nothing.
	r.doAs("DELETE", "/v1/posts/"+p.ID, author, "").errorCode(t, 404)
	r.doAs("PATCH", "/v1/posts/"+p.ID, author, `{"content":"back"}`).errorCode(t, 404)
	r.doAs("POST", "/v1/posts/"+p.ID+"/likes", author, "").errorCode(t, 404)
	if n := len(r.events()); n != 2 {
		t.Fatalf("%d events after refused requests, want 2", n)
	}
}

func TestSomeoneElsesPost(t *testing.T) {
	r := newRig(t)
	author, follower, stranger := r.user(), r.user(), r.user()
	r.follows(follower, author)
	pub := r.create(author, `{"content":"public"}`)
	fol := r.create(author, `{"content":"followers","visibility":"FOLLOWERS_ONLY"}`)
	priv := r.create(author, `{"content":"private","visibility":"PRIVATE"}`)
	before, digest := r.counts(), r.postsDigest()

	cases := []struct {
		post   apiPost
		caller id.UserID
		status int
	}{
		{pub, follower, 403}, {pub, stranger, 403},
		{fol, follower, 403}, {fol, stranger, 404},
		{priv, follower, 404}, {priv, stranger, 404},
	}
	for _, c := range cases {
		for _, m := range []struct{ method, body string }{{"PATCH", `{"content":"mine now"}`}, {"DELETE", ""}} {
			code := r.doAs(m.method, "/v1/posts/"+c.post.ID, c.caller, m.body).errorCode(t, c.status)
			if want := map[int]string{403: "forbidden", 404: "not_found"}[c.status]; code != want {
				t.Errorf("%s %q: code %s, want %s", m.method, c.post.Content, code, want)
			}
		}
	}
	if after := r.counts(); after != before || r.postsDigest() != digest {
		t.Fatalf("refused changes wrote something: %+v → %+v", before, after)
	}
	// The service says the same to Go callers.
	if _, err := r.svc.Update(r.ctx, follower, id.PostID(pub.ID), content.Change{Content: ptr("x")}); !errors.Is(err, content.ErrForbidden) {
		t.Fatalf("Update by another user: %v", err)
	}
	if err := r.svc.Delete(r.ctx, stranger, id.PostID(priv.ID)); !errors.Is(err, content.ErrNotFound) {
		t.Fatalf("Delete of an invisible post: %v", err)
	}
}

func TestLikesAreIdempotent(t *testing.T) {
	r := newRig(t)
	author, fan := r.user(), r.user()
	p := r.create(author, `{"content":"like me"}`)
	path := "/v1/posts/" + p.ID + "/likes"
	type likes struct {
		PostID    string `json:"post_id"`
		Liked     bool   `json:"liked"`
		LikeCount int64  `json:"like_count"`
	}
	step := func(method string, wantLiked bool, wantCount int64) {
		t.Helper()
		res := r.doAs(method, path, fan, "")
		var l likes
		res.json(t, &l)
		if res.Status != 200 || l.PostID != p.ID || l.Liked != wantLiked || l.LikeCount != wantCount {
			t.Fatalf("%s likes: %d %+v", method, res.Status, l)
		}
	}
	step("POST", true, 1)
	step("POST", true, 1)
	step("DELETE", false, 0)
	step("DELETE", false, 0)
	step("POST", true, 1)

	var kinds []string
	for _, e := range r.events()[1:] {
		en := e.Message.(*eventsv1.Engagement)
		if e.Topic != "analytics-events" || e.Key != p.ID || en.GetPostId() != p.ID || en.GetUserId() != fan.String() ||
			en.GetAuthorId() != author.String() || en.GetEngagementId() == "" || en.GetOccurredAt() == nil {
			t.Fatalf("engagement %s/%s %v", e.Topic, e.Key, en)
		}
		kinds = append(kinds, strings.TrimPrefix(en.GetKind().String(), "ENGAGEMENT_KIND_"))
	}
	if fmt.Sprint(kinds) != "[LIKE UNLIKE LIKE]" {
		t.Fatalf("engagements %v, want [LIKE UNLIKE LIKE]", kinds)
	}
	var got apiPost
	r.doAs("GET", "/v1/posts/"+p.ID, author, "").json(t, &got)
	if got.LikeCount != 1 {
		t.Fatalf("like_count %d", got.LikeCount)
	}
}

func TestCommentsViewsAndShares(t *testing.T) {
	r := newRig(t)
	author, reader, stranger := r.user(), r.user(), r.user()
	r.follows(reader, author)
	p := r.create(author, `{"content":"discuss","visibility":"FOLLOWERS_ONLY"}`)
	base := "/v1/posts/" + p.ID

	var ids []string
	for i := range 3 {
		res := r.doAs("POST", base+"/comments", reader, fmt.Sprintf(`{"content":"comment %d"}`, i))
		var c content.Comment
		res.json(t, &c)
		if res.Status != http.StatusCreated || c.PostID != p.ID || c.AuthorID != reader.String() || c.Content != fmt.Sprintf("comment %d", i) {
			t.Fatalf("comment: %d %+v", res.Status, c)
		}
		ids = append(ids, c.ID)
	}
	if res := r.doAs("POST", base+"/views", reader, ""); res.Status != http.StatusAccepted {
		t.Fatalf("view: %d %s", res.Status, res.Body)
	}
	if res := r.doAs("POST", base+"/shares", reader, ""); res.Status != http.StatusAccepted {
		t.Fatalf("share: %d %s", res.Status, res.Body)
	}

	// Pages of two, oldest first.
	type page struct {
		Items      []content.Comment `json:"items"`
		NextCursor *string           `json:"next_cursor"`
	}
	var p1, p2 page
	r.doAs("GET", base+"/comments?limit=2", author, "").json(t, &p1)
	if len(p1.Items) != 2 || p1.Items[0].ID != ids[0] || p1.Items[1].ID != ids[1] || p1.NextCursor == nil {
		t.Fatalf("first page %+v", p1)
	}
	r.doAs("GET", base+"/comments?limit=2&cursor="+*p1.NextCursor, author, "").json(t, &p2)
	if len(p2.Items) != 1 || p2.Items[0].ID != ids[2] || p2.NextCursor != nil {
		t.Fatalf("second page %+v", p2)
	}
	r.doAs("GET", base+"/comments?cursor=bm9wZQ", author, "").errorCode(t, 400)
	r.doAs("GET", base+"/comments", stranger, "").errorCode(t, 404)
	var got apiPost
	r.doAs("GET", base, author, "").json(t, &got)
	if got.CommentCount != 3 {
		t.Fatalf("comment_count %d", got.CommentCount)
	}

	var kinds []string
	for _, e := range r.events()[1:] {
		en := e.Message.(*eventsv1.Engagement)
		kinds = append(kinds, strings.TrimPrefix(en.GetKind().String(), "ENGAGEMENT_KIND_"))
		if en.GetAuthorId() != author.String() || e.Key != p.ID {
			t.Fatalf("engagement %v", en)
		}
		if en.GetKind() == eventsv1.EngagementKind_ENGAGEMENT_KIND_COMMENT && (en.GetCommentId() == "" || !strings.HasPrefix(en.GetCommentText(), "comment ")) {
			t.Fatalf("comment engagement %v", en)
		}
	}
	if fmt.Sprint(kinds) != "[COMMENT COMMENT COMMENT VIEW SHARE]" {
		t.Fatalf("engagements %v", kinds)
	}

	// Someone who cannot see the post cannot engage with it either.
	before := r.counts()
	for _, req := range []struct{ method, path, body string }{
		{"POST", base + "/likes", ""}, {"DELETE", base + "/likes", ""},
		{"POST", base + "/comments", `{"content":"hi"}`}, {"POST", base + "/views", ""}, {"POST", base + "/shares", ""},
	} {
		if code := r.doAs(req.method, req.path, stranger, req.body).errorCode(t, 404); code != "not_found" {
			t.Errorf("%s %s: %s", req.method, req.path, code)
		}
	}
	if after := r.counts(); after != before {
		t.Fatalf("refused engagement wrote %+v → %+v", before, after)
	}
}

func TestBadInputWritesNothing(t *testing.T) {
	r := newRig(t)
	author, other := r.user(), r.user()
	p := r.create(author, `{"content":"exists"}`)
	r.doAs("POST", "/v1/posts/"+p.ID+"/likes", author, "")
	good := r.token(author)

	expired := func() string {
		s, err := newSignerAt(r, -2)
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := s.Issue(principal(author))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}()
	foreign := func() string { // signed by a key this service does not know
		o := newRig(t)
		return o.token(author)
	}()
	parts := strings.Split(good, ".")
	forged := parts[0] + "." + parts[1] + "." + flip(parts[2])
	// The payload swapped for another user's, the signature kept.
	otherParts := strings.Split(r.token(other), ".")
	swapped := parts[0] + "." + otherParts[1] + "." + parts[2]

	long := strings.Repeat("é", 5001)
	cases := []struct {
		name, method, path, tok, body, contentType string
		status                                     int
		code                                       string
	}{
		{"malformed JSON", "POST", "/v1/posts", good, `{"content":`, "", 400, "invalid_json"},
		{"not an object", "POST", "/v1/posts", good, `["content"]`, "", 400, "invalid_json"},
		{"two values", "POST", "/v1/posts", good, `{"content":"a"}{"content":"b"}`, "", 400, "invalid_json"},
		{"unknown field", "POST", "/v1/posts", good, `{"content":"a","author_id":"x"}`, "", 400, "invalid_json"},
		{"wrong field type", "POST", "/v1/posts", good, `{"content":5}`, "", 400, "invalid_json"},
		{"missing content", "POST", "/v1/posts", good, `{"visibility":"PUBLIC"}`, "", 400, "validation_failed"},
		{"blank content", "POST", "/v1/posts", good, `{"content":"  \n "}`, "", 400, "validation_failed"},
		{"oversized content", "POST", "/v1/posts", good, `{"content":"` + long + `"}`, "", 400, "validation_failed"},
		{"NUL in content", "POST", "/v1/posts", good, `{"content":"a\u0000b"}`, "", 400, "validation_failed"},
		{"unknown visibility", "POST", "/v1/posts", good, `{"content":"a","visibility":"FRIENDS"}`, "", 400, "validation_failed"},
		{"empty visibility", "POST", "/v1/posts", good, `{"content":"a","visibility":""}`, "", 400, "validation_failed"},
		{"unknown type", "POST", "/v1/posts", good, `{"content":"a","type":"POLL"}`, "", 400, "validation_failed"},
		{"too many tags", "POST", "/v1/posts", good, `{"content":"a","tags":["1","2","3","4","5","6","7","8","9","10","11"]}`, "", 400, "validation_failed"},
		{"long tag", "POST", "/v1/posts", good, `{"content":"a","tags":["` + strings.Repeat("t", 51) + `"]}`, "", 400, "validation_failed"},
		{"empty tag", "POST", "/v1/posts", good, `{"content":"a","tags":["#"]}`, "", 400, "validation_failed"},
		{"not JSON", "POST", "/v1/posts", good, `content=a`, "application/x-www-form-urlencoded", 415, "unsupported_media_type"},
		{"body too large", "POST", "/v1/posts", good, `{"content":"` + strings.Repeat("a", 200<<10) + `"}`, "", 413, "payload_too_large"},
		{"empty patch", "PATCH", "/v1/posts/" + p.ID, good, `{}`, "", 400, "validation_failed"},
		{"patch unknown visibility", "PATCH", "/v1/posts/" + p.ID, good, `{"visibility":"SECRET"}`, "", 400, "validation_failed"},
		{"patch oversized", "PATCH", "/v1/posts/" + p.ID, good, `{"content":"` + long + `"}`, "", 400, "validation_failed"},
		{"patch blank text", "PATCH", "/v1/posts/" + p.ID, good, `{"content":""}`, "", 400, "validation_failed"},
		{"patch type", "PATCH", "/v1/posts/" + p.ID, good, `{"type":"IMAGE"}`, "", 400, "invalid_json"},
		{"empty comment", "POST", "/v1/posts/" + p.ID + "/comments", good, `{"content":""}`, "", 400, "validation_failed"},
		{"malformed comment", "POST", "/v1/posts/" + p.ID + "/comments", good, `{"text":"hi"}`, "", 400, "invalid_json"},
		{"malformed post id", "GET", "/v1/posts/12345", good, "", "", 404, "not_found"},
		{"unknown post", "PATCH", "/v1/posts/" + id.NewPostID().String(), good, `{"content":"x"}`, "", 404, "not_found"},
		{"wrong method", "PUT", "/v1/posts/" + p.ID, good, `{"content":"x"}`, "", 405, "method_not_allowed"},
		{"no token", "POST", "/v1/posts", "", `{"content":"a"}`, "", 401, "unauthorized"},
		{"expired token", "POST", "/v1/posts", expired, `{"content":"a"}`, "", 401, "unauthorized"},
		{"unknown key", "POST", "/v1/posts", foreign, `{"content":"a"}`, "", 401, "unauthorized"},
		{"forged signature", "POST", "/v1/posts", forged, `{"content":"a"}`, "", 401, "unauthorized"},
		{"swapped payload", "DELETE", "/v1/posts/" + p.ID, swapped, "", "", 401, "unauthorized"},
		{"expired token unlike", "DELETE", "/v1/posts/" + p.ID + "/likes", expired, "", "", 401, "unauthorized"},
		{"forged token delete", "DELETE", "/v1/posts/" + p.ID, forged, "", "", 401, "unauthorized"},
	}
	before, digest := r.counts(), r.postsDigest()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := r.doRaw(c.method, c.path, c.tok, c.body, c.contentType)
			if code := res.errorCode(t, c.status); code != c.code {
				t.Fatalf("code %s, want %s", code, c.code)
			}
			if after := r.counts(); after != before || r.postsDigest() != digest {
				t.Fatalf("rows changed: %+v → %+v", before, after)
			}
		})
	}
	// The limit itself is allowed.
	r.create(author, `{"content":"`+strings.Repeat("é", 5000)+`"}`)
}

func TestServiceValidation(t *testing.T) {
	r := newRig(t)
	author := r.user()
	before := r.counts()
	for name, in := range map[string]content.NewPost{
		"type":       {Content: "a", Type: "POLL"},
		"visibility": {Content: "a", Visibility: "FRIENDS"},
		"content":    {Content: ""},
	} {
		if _, err := r.svc.Create(r.ctx, author, in); !errors.Is(err, content.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := r.svc.Get(r.ctx, author, id.PostID("nope")); !errors.Is(err, content.ErrNotFound) {
		t.Errorf("Get of a malformed id: %v", err)
	}
	if after := r.counts(); after != before {
		t.Fatalf("rows written: %+v → %+v", before, after)
	}
	if _, err := content.New(content.Config{}); err == nil {
		t.Fatal("a config without dependencies was accepted")
	}
}

func ptr[T any](v T) *T { return &v }

// flip changes a token's last signature character into another valid
// base64url character, so only the signature check can catch it.
func flip(sig string) string {
	last := sig[len(sig)-2]
	repl := byte('A')
	if last == 'A' {
		repl = 'B'
	}
	return sig[:len(sig)-2] + string(repl) + sig[len(sig)-1:]
}

// "200 shares and 200 views from one user all counted and put the post
// first in the ranked feed": a user's views and shares of a post count
// once per window; repeats are accepted (202) and emit nothing. Another
// user's still count.
func TestViewsAndSharesCountOncePerUser(t *testing.T) {
	r := newRig(t)
	author, pumper, other := r.user(), r.user(), r.user()
	p := r.create(author, `{"content":"pump me","visibility":"PUBLIC"}`)
	base := "/v1/posts/" + p.ID
	before := len(r.events())
	for range 20 {
		for _, kind := range []string{"views", "shares"} {
			if res := r.doAs("POST", base+"/"+kind, pumper, ""); res.Status != http.StatusAccepted {
				t.Fatalf("%s: %d %s", kind, res.Status, res.Body)
			}
		}
	}
	r.doAs("POST", base+"/views", other, "")
	count := map[string]int{}
	for _, e := range r.events()[before:] {
		en := e.Message.(*eventsv1.Engagement)
		count[en.GetUserId()+" "+en.GetKind().String()]++
	}
	want := map[string]int{
		pumper.String() + " ENGAGEMENT_KIND_VIEW": 1, pumper.String() + " ENGAGEMENT_KIND_SHARE": 1,
		other.String() + " ENGAGEMENT_KIND_VIEW": 1,
	}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Errorf("engagements emitted %v, want %v", count, want)
	}
}

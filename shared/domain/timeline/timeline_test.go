package timeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/content"
	"github.com/nova-social/nova/shared/domain/feed"
	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/domain/session"
	"github.com/nova-social/nova/shared/domain/timeline"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/password"
	"github.com/nova-social/nova/shared/testrig"
)

var _ timeline.Content = (*content.Service)(nil)

// rig serves GET /v1/feed twice over one feed store: hydrated from the
// feed's cache and, as with ENABLE_DIRECT_CALL, from the content service.
// Users and follows live in the identity service (content's follow graph)
// and are mirrored into the feed store as feed-fanout does from
// user-events; posts are created through the content service and fanned out
// with the feed store's own methods, so both sources hold the same posts.
type rig struct {
	t       testing.TB
	ctx     context.Context
	store   *feed.Store
	people  *identity.Service
	content *content.Service
	signer  *auth.Signer
	modes   map[string]*http.ServeMux
	exec    func(sql string, args ...any)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newRig(t testing.TB) *rig {
	t.Helper()
	ctx := context.Background()
	pool := testrig.Postgres(t)
	if err := outbox.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if err := content.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if err := identity.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	store, err := feed.NewStore(testrig.Redis(t), feed.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	box := outbox.New(envelope.NewCodec(catalog.Default()))
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ks, err := auth.NewKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := auth.NewSigner(ks, auth.SignerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(ks, auth.VerifierConfig{})
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := password.New(password.Config{Memory: 8 * 1024, Iterations: 1, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	people, err := identity.New(identity.Config{Pool: pool, Outbox: box, Signer: signer, Hasher: hasher, Logger: quiet(),
		Marks: session.NewMarks(testrig.Redis(t), session.InNamespace(testrig.ID())), Mail: testrig.MailQueue(t, pool, testrig.Mail(t))})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := content.New(content.Config{Pool: pool, Outbox: box, Follows: people, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, ctx: ctx, store: store, people: people, content: svc, signer: signer, modes: map[string]*http.ServeMux{},
		exec: func(sql string, args ...any) {
			t.Helper()
			if _, err := pool.Exec(ctx, sql, args...); err != nil {
				t.Fatal(err)
			}
		}}
	for mode, direct := range map[string]bool{"cache": false, "direct": true} {
		tl, err := timeline.New(timeline.Config{Store: store, DirectCall: direct, Content: svc, Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		tl.Mount(mux, httpapi.Authenticate(verifier, quiet()))
		mux.Handle("/", httpapi.Fallback(mux, quiet()))
		r.modes[mode] = mux
	}
	return r
}

// user registers name with identity and caches the profile in the feed
// store, as feed-fanout does on UserRegistered and UserProfileUpdated.
func (r *rig) user(name string) id.UserID {
	r.t.Helper()
	u, err := r.people.Register(r.ctx, identity.Registration{Username: name, Email: name + "@example.com", Password: "correct horse"})
	if err != nil {
		r.t.Fatal(err)
	}
	display := strings.ToUpper(name[:1]) + name[1:]
	avatar := "https://cdn.example/" + name + ".png"
	if err := r.store.UpdateProfile(r.ctx, u.ID.String(), feed.ProfileChange{Username: &name, DisplayName: &display, AvatarURL: &avatar}); err != nil {
		r.t.Fatal(err)
	}
	return u.ID
}

// follow records the follow with identity and in the feed's follower index
// (feed-fanout's reaction to UserFollowed).
func (r *rig) follow(follower, followee id.UserID) {
	r.t.Helper()
	if _, err := r.people.Follow(r.ctx, follower, followee); err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.store.Follow(r.ctx, follower.String(), followee.String()); err != nil {
		r.t.Fatal(err)
	}
}

// post creates a post through the content service and fans it out the way
// feed-fanout does on PostCreated.
func (r *rig) post(author id.UserID, vis post.Visibility, text string) content.Post {
	r.t.Helper()
	p, err := r.content.Create(r.ctx, author, content.NewPost{Content: text, Visibility: vis, Tags: []string{"t"}})
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.store.PostCreated(r.ctx, p.Summary); err != nil {
		r.t.Fatal(err)
	}
	return p
}

type item struct {
	ID     string `json:"id"`
	Author struct {
		ID          string `json:"id"`
		Username    string `json:"username"`
		DisplayName string `json:"display_name"`
		AvatarURL   string `json:"avatar_url"`
	} `json:"author"`
	AuthorID   string       `json:"author_id"`
	Content    string       `json:"content"`
	Type       string       `json:"type"`
	Visibility string       `json:"visibility"`
	Tags       []string     `json:"tags"`
	Media      []post.Media `json:"media"`
	CreatedAt  time.Time    `json:"created_at"`
	UpdatedAt  time.Time    `json:"updated_at"`
	Score      *float64     `json:"score"`
}

type page struct {
	Items      []item  `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func (r *rig) get(mode string, u id.UserID, query string) (int, []byte) {
	r.t.Helper()
	req := httptest.NewRequest("GET", "/v1/feed"+query, nil)
	if !u.IsZero() {
		tok, _, err := r.signer.Issue(auth.Principal{UserID: u, Role: auth.RoleUser})
		if err != nil {
			r.t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	rec := httptest.NewRecorder()
	r.modes[mode].ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func (r *rig) read(mode string, u id.UserID, query string) page {
	r.t.Helper()
	status, body := r.get(mode, u, query)
	if status != http.StatusOK {
		r.t.Fatalf("%s GET /v1/feed%s: %d %s", mode, query, status, body)
	}
	var p page
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		r.t.Fatalf("feed body %s: %v", body, err)
	}
	if p.Items == nil {
		r.t.Fatalf("items is null: %s", body)
	}
	return p
}

func contents(p page) string {
	var out []string
	for _, it := range p.Items {
		out = append(out, it.Content)
	}
	return strings.Join(out, ",")
}

var modes = []string{"cache", "direct"}

func TestBothHydrationModesServeTheSameFeed(t *testing.T) {
	r := newRig(t)
	alice, bob, carol := r.user("alice"), r.user("bob"), r.user("carol")
	r.follow(bob, alice)
	pub := r.post(alice, post.Public, "public")
	r.post(alice, post.FollowersOnly, "followers")
	r.post(alice, post.Private, "private")

	var bodies []string
	for _, mode := range modes {
		p := r.read(mode, bob, "")
		if got := contents(p); got != "followers,public" || p.NextCursor != nil {
			t.Fatalf("%s: bob's feed %q, next %v", mode, got, p.NextCursor)
		}
		it := p.Items[1]
		if it.ID != pub.ID || it.AuthorID != alice.String() || it.Author.ID != alice.String() || it.Author.Username != "alice" ||
			it.Author.DisplayName != "Alice" || it.Author.AvatarURL != "https://cdn.example/alice.png" ||
			it.Type != "TEXT" || it.Visibility != "PUBLIC" || fmt.Sprint(it.Tags) != "[t]" || it.Media == nil ||
			!it.CreatedAt.Equal(pub.CreatedAt) || it.Score != nil {
			t.Fatalf("%s: item %+v", mode, it)
		}
		b, _ := json.Marshal(p)
		bodies = append(bodies, string(b))

		if got := contents(r.read(mode, alice, "")); got != "private,followers,public" {
			t.Fatalf("%s: alice's own feed %q", mode, got)
		}
		if got := contents(r.read(mode, carol, "")); got != "" {
			t.Fatalf("%s: carol's feed %q", mode, got)
		}
	}
	if bodies[0] != bodies[1] {
		t.Fatalf("the two hydration modes disagree:\ncache  %s\ndirect %s", bodies[0], bodies[1])
	}
}

// The rollback path reads the content service: an edit or a deletion the
// feed cache has not seen yet shows at once in direct mode only.
func TestDirectModeReadsTheContentService(t *testing.T) {
	r := newRig(t)
	alice, bob := r.user("alice"), r.user("bob")
	r.follow(bob, alice)
	edited := r.post(alice, post.Public, "before")
	gone := r.post(alice, post.Public, "doomed")
	if _, err := r.content.Update(r.ctx, alice, id.PostID(edited.ID), content.Change{Content: ptr("after")}); err != nil {
		t.Fatal(err)
	}
	if err := r.content.Delete(r.ctx, alice, id.PostID(gone.ID)); err != nil {
		t.Fatal(err)
	}
	if got := contents(r.read("cache", bob, "")); got != "doomed,before" {
		t.Fatalf("cache: %q", got)
	}
	if got := contents(r.read("direct", bob, "")); got != "after" {
		t.Fatalf("direct: %q", got)
	}
}

func TestVisibilityFiltering(t *testing.T) {
	r := newRig(t)
	alice, bob, carol := r.user("alice"), r.user("bob"), r.user("carol")
	r.follow(bob, alice)
	pub := r.post(alice, post.Public, "public")
	fol := r.post(alice, post.FollowersOnly, "followers")
	r.post(alice, post.Private, "private")

	// A follow back-fills what the new follower may see.
	r.follow(carol, alice)
	for _, mode := range modes {
		if got := contents(r.read(mode, carol, "")); got != "followers,public" {
			t.Fatalf("%s: carol after following %q", mode, got)
		}
	}
	// An entry that should not be in a feed is filtered on read anyway:
	// dave does not follow alice but his feed holds her followers-only post.
	dave := r.user("dave")
	if err := testrig.Redis(t).ZAdd(r.ctx, feed.FeedKey(dave.String()),
		redisZ(fol.CreatedAt, fol.ID), redisZ(pub.CreatedAt, pub.ID)).Err(); err != nil {
		t.Fatal(err)
	}
	for _, mode := range modes {
		if got := contents(r.read(mode, dave, "")); got != "public" {
			t.Fatalf("%s: dave %q", mode, got)
		}
	}

	// Moderation hides the public post: the content service knows first
	// (direct mode), the cache once feed-fanout applies the PostUpdated.
	r.exec(`UPDATE posts SET hidden = true, hidden_reason = 'spam' WHERE id = $1`, pub.ID)
	if got := contents(r.read("direct", bob, "")); got != "followers" {
		t.Fatalf("direct: bob after hiding %q", got)
	}
	if _, err := r.store.PostUpdated(r.ctx, func(s post.Summary) (post.Summary, bool) {
		s.Hidden, s.HiddenReason, s.UpdatedAt = true, "spam", s.UpdatedAt.Add(time.Millisecond)
		return s, true
	}, pub.ID); err != nil {
		t.Fatal(err)
	}
	for _, mode := range modes {
		if got := contents(r.read(mode, bob, "")); got != "followers" {
			t.Fatalf("%s: bob after hiding %q", mode, got)
		}
	}
}

func TestPagination(t *testing.T) {
	r := newRig(t)
	alice, bob := r.user("alice"), r.user("bob")
	r.follow(bob, alice)
	var want []string
	for i := range 25 {
		vis := post.Public
		if i%5 == 0 {
			vis = post.Private // in alice's feed only: pages must skip it
		}
		p := r.post(alice, vis, fmt.Sprintf("p%02d", i))
		if vis != post.Private {
			want = append([]string{p.Content}, want...)
		}
	}
	for _, mode := range modes {
		var got []string
		query := "?limit=7"
		pages := 0
		for {
			p := r.read(mode, bob, query)
			pages++
			if len(p.Items) > 7 {
				t.Fatalf("%s: page of %d", mode, len(p.Items))
			}
			for _, it := range p.Items {
				got = append(got, it.Content)
			}
			if p.NextCursor == nil {
				break
			}
			query = "?limit=7&cursor=" + *p.NextCursor
			if pages > 10 {
				t.Fatalf("%s: pagination does not end", mode)
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") || pages != 3 {
			t.Fatalf("%s: %d pages\n got %v\nwant %v", mode, pages, got, want)
		}
		// The default page is 20.
		if n := len(r.read(mode, bob, "").Items); n != 20 {
			t.Fatalf("%s: default page of %d", mode, n)
		}
	}
}

func TestRankedOrder(t *testing.T) {
	r := newRig(t)
	alice, bob := r.user("alice"), r.user("bob")
	r.follow(bob, alice)
	scores := map[string]float64{"low": 1, "high": 9, "mid": 5}
	for _, name := range []string{"low", "high", "mid"} {
		p := r.post(alice, post.Public, name)
		if err := r.store.SetScore(r.ctx, p.ID, scores[name]); err != nil {
			t.Fatal(err)
		}
	}
	for _, mode := range modes {
		p := r.read(mode, bob, "?order=ranked&limit=2")
		if got := contents(p); got != "high,mid" || p.NextCursor == nil || p.Items[0].Score == nil || *p.Items[0].Score != 9 {
			t.Fatalf("%s: ranked page %q", mode, got)
		}
		p = r.read(mode, bob, "?order=ranked&limit=2&cursor="+*p.NextCursor)
		if got := contents(p); got != "low" || p.NextCursor != nil {
			t.Fatalf("%s: second ranked page %q", mode, got)
		}
		if got := contents(r.read(mode, bob, "?order=newest")); got != "mid,high,low" {
			t.Fatalf("%s: newest %q", mode, got)
		}
	}
}

func TestBadQueries(t *testing.T) {
	r := newRig(t)
	bob := r.user("bob")
	ranked := r.read("cache", bob, "?order=ranked") // an empty feed still answers
	if len(ranked.Items) != 0 {
		t.Fatalf("empty feed has %d items", len(ranked.Items))
	}
	cases := []struct {
		query  string
		status int
		code   string
	}{
		{"?limit=0", 400, "bad_request"},
		{"?limit=101", 400, "bad_request"},
		{"?limit=ten", 400, "bad_request"},
		{"?limit=5&limit=6", 400, "bad_request"},
		{"?order=oldest", 400, "bad_request"},
		{"?cursor=", 400, "invalid_cursor"},
		{"?cursor=%%%", 400, "bad_request"},
		{"?cursor=bm9wZQ", 400, "invalid_cursor"},
		{"?cursor=" + strings.Repeat("a", 600), 400, "invalid_cursor"},
		{"?order=ranked&cursor=bjoxOmFi", 400, "invalid_cursor"}, // a newest cursor on a ranked read
	}
	for _, mode := range modes {
		for _, c := range cases {
			status, body := r.get(mode, bob, c.query)
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(body, &e); status != c.status || err != nil || e.Error.Code != c.code {
				t.Errorf("%s %s: %d %s, want %d %s", mode, c.query, status, body, c.status, c.code)
			}
		}
		if status, _ := r.get(mode, "", ""); status != http.StatusUnauthorized {
			t.Errorf("%s: no token answered %d", mode, status)
		}
	}
	req := httptest.NewRequest("POST", "/v1/feed", nil)
	rec := httptest.NewRecorder()
	r.modes["cache"].ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") == "" {
		t.Fatalf("POST /v1/feed: %d", rec.Code)
	}
}

func TestConfig(t *testing.T) {
	if _, err := timeline.New(timeline.Config{}); err == nil {
		t.Error("a config without a store was accepted")
	}
	store, err := feed.NewStore(testrig.Redis(t), feed.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := timeline.New(timeline.Config{Store: store, DirectCall: true}); err == nil {
		t.Error("direct call without a content service was accepted")
	}
}

// redisZ is a feed entry as feed-fanout writes it.
func redisZ(at time.Time, postID string) redis.Z {
	return redis.Z{Score: float64(at.UnixMilli()), Member: postID}
}

func ptr[T any](v T) *T { return &v }

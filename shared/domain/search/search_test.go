package search_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/search"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// rig is a migrated index on a fresh database, written through the real
// Indexer (fed encoded and decoded CloudEvents) and read through Service.
type rig struct {
	t     testing.TB
	ctx   context.Context
	pool  *pgxpool.Pool
	ix    *search.Indexer
	svc   *search.Service
	codec *envelope.Codec
	now   time.Time
}

func newRig(t testing.TB) *rig {
	t.Helper()
	ctx := context.Background()
	pool := testrig.Postgres(t)
	if err := search.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, ctx: ctx, pool: pool, ix: search.NewIndexer(pool, quiet()), codec: envelope.NewCodec(catalog.Default()),
		now: time.Now().UTC().Truncate(time.Microsecond)}
	svc, err := search.New(search.Config{Pool: pool, Logger: quiet(), Now: func() time.Time { return r.now }})
	if err != nil {
		t.Fatal(err)
	}
	r.svc = svc
	return r
}

// apply sends msg through the codec (encode, decode) into the Indexer, as
// the function does.
func (r *rig) apply(msg proto.Message) {
	r.t.Helper()
	e, err := r.codec.New(msg)
	if err != nil {
		r.t.Fatal(err)
	}
	d, err := r.codec.Decode(e)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.ix.Apply(r.ctx, d); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) user(name string) string {
	r.t.Helper()
	u := id.NewUserID().String()
	r.apply(&eventsv1.UserRegistered{UserId: u, Username: name, RegisteredAt: timestamppb.New(r.now.Add(-time.Hour))})
	return u
}

func (r *rig) post(author, content string, vis eventsv1.PostVisibility, at time.Time, tags ...string) string {
	r.t.Helper()
	p := id.NewPostID().String()
	r.apply(&eventsv1.PostCreated{PostId: p, UserId: author, Content: content, Visibility: vis, Tags: tags, CreatedAt: timestamppb.New(at)})
	return p
}

func (r *rig) follow(follower, followee string, at time.Time) {
	r.t.Helper()
	r.apply(&eventsv1.UserFollowed{FollowerId: follower, FolloweeId: followee, FollowedAt: timestamppb.New(at)})
}

func (r *rig) unfollow(follower, followee string, at time.Time) {
	r.t.Helper()
	r.apply(&eventsv1.UserUnfollowed{FollowerId: follower, FolloweeId: followee, UnfollowedAt: timestamppb.New(at)})
}

// found returns the ids viewer finds with q, every page followed.
func (r *rig) found(viewer, q string) []string {
	r.t.Helper()
	var ids []string
	var after *search.Cursor
	for range 100 {
		hits, next, err := r.svc.Posts(r.ctx, id.UserID(viewer), q, after, 2)
		if err != nil {
			r.t.Fatalf("search %q: %v", q, err)
		}
		for _, h := range hits {
			ids = append(ids, h.ID)
		}
		if next == nil {
			return ids
		}
		after = next
	}
	r.t.Fatal("pagination does not end")
	return nil
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

const (
	public    = eventsv1.PostVisibility_POST_VISIBILITY_PUBLIC
	private   = eventsv1.PostVisibility_POST_VISIBILITY_PRIVATE
	followers = eventsv1.PostVisibility_POST_VISIBILITY_FOLLOWERS_ONLY
)

// Search never leaks: every visibility rule, hidden and deleted posts, for
// the author, a follower, a former follower and a stranger, by word and by
// tag.
func TestSearchNeverLeaks(t *testing.T) {
	r := newRig(t)
	author, fan, former, stranger := r.user("author"), r.user("fan"), r.user("former"), r.user("stranger")
	t0 := r.now.Add(-30 * time.Minute)
	r.follow(fan, author, t0)
	r.follow(former, author, t0)
	r.unfollow(former, author, t0.Add(time.Minute))

	pub := r.post(author, "secretword in public", public, t0, "leak")
	fo := r.post(author, "secretword for followers", followers, t0, "leak")
	priv := r.post(author, "secretword to myself", private, t0, "leak")
	hidden := r.post(author, "secretword hidden by moderation", public, t0, "leak")
	r.apply(&eventsv1.PostUpdated{PostId: hidden, UserId: author, Tags: []string{"leak"}, Hidden: proto.Bool(true),
		HiddenReason: "blocked_term", UpdatedAt: timestamppb.New(t0.Add(time.Second))})
	gone := r.post(author, "secretword deleted", public, t0, "leak")
	r.apply(&eventsv1.PostDeleted{PostId: gone, UserId: author, DeletedAt: timestamppb.New(t0.Add(time.Second))})
	// A hidden FOLLOWERS_ONLY post stays hidden from followers too.
	hiddenFO := r.post(author, "secretword hidden for followers", followers, t0, "leak")
	r.apply(&eventsv1.PostUpdated{PostId: hiddenFO, UserId: author, Tags: []string{"leak"}, Hidden: proto.Bool(true),
		UpdatedAt: timestamppb.New(t0.Add(time.Second))})

	want := map[string][]string{
		author:   {pub, fo, priv},
		fan:      {pub, fo},
		former:   {pub},
		stranger: {pub},
	}
	for viewer, ids := range want {
		for _, q := range []string{"secretword", "#leak", "leak", "#LEAK secretword"} {
			if got := r.found(viewer, q); !slices.Equal(sorted(got), sorted(ids)) {
				t.Errorf("viewer %s, q %q: found %v, want %v", viewer, q, got, ids)
			}
		}
	}

	// Restoring the hidden post makes it findable again; making the public
	// post private takes it away from everyone but the author.
	r.apply(&eventsv1.PostUpdated{PostId: hidden, UserId: author, Tags: []string{"leak"}, Hidden: proto.Bool(false),
		UpdatedAt: timestamppb.New(t0.Add(2 * time.Second))})
	v := private
	r.apply(&eventsv1.PostUpdated{PostId: pub, UserId: author, Tags: []string{"leak"}, Visibility: &v,
		UpdatedAt: timestamppb.New(t0.Add(2 * time.Second))})
	if got := r.found(stranger, "secretword"); !slices.Equal(got, []string{hidden}) {
		t.Errorf("stranger after changes: %v, want only %s", got, hidden)
	}
	if got := r.found(author, "secretword"); len(got) != 4 {
		t.Errorf("author after changes finds %d posts (%v), want 4", len(got), got)
	}
}

// Edits and deletes are reflected; stale and redelivered events change
// nothing; a late creation does not resurrect a deleted post.
func TestEditsDeletesAndStaleEvents(t *testing.T) {
	r := newRig(t)
	author := r.user("writer")
	t0 := r.now.Add(-time.Hour)
	p := r.post(author, "original aardvark", public, t0, "zoo")
	if got := r.found(author, "aardvark"); !slices.Equal(got, []string{p}) {
		t.Fatalf("before edit: %v", got)
	}
	r.apply(&eventsv1.PostUpdated{PostId: p, UserId: author, Content: proto.String("edited zebra"), Tags: []string{"savanna"},
		UpdatedAt: timestamppb.New(t0.Add(time.Minute))})
	// A stale update (older than the edit) arrives late.
	r.apply(&eventsv1.PostUpdated{PostId: p, UserId: author, Content: proto.String("stale aardvark"), Tags: []string{"zoo"},
		UpdatedAt: timestamppb.New(t0.Add(30 * time.Second))})
	// The creation is redelivered.
	r.apply(&eventsv1.PostCreated{PostId: p, UserId: author, Content: "original aardvark", Tags: []string{"zoo"}, Visibility: public,
		CreatedAt: timestamppb.New(t0)})
	for q, want := range map[string][]string{"aardvark": nil, "#zoo": nil, "zebra": {p}, "#savanna": {p}, "savanna": {p}} {
		if got := r.found(author, q); !slices.Equal(got, want) {
			t.Errorf("after edit, %q: %v, want %v", q, got, want)
		}
	}

	r.apply(&eventsv1.PostDeleted{PostId: p, UserId: author, DeletedAt: timestamppb.New(t0.Add(2 * time.Minute))})
	r.apply(&eventsv1.PostCreated{PostId: p, UserId: author, Content: "original aardvark", Tags: []string{"zoo"}, Visibility: public,
		CreatedAt: timestamppb.New(t0)})
	r.apply(&eventsv1.PostUpdated{PostId: p, UserId: author, Content: proto.String("zebra after death"),
		UpdatedAt: timestamppb.New(t0.Add(3 * time.Minute))})
	for _, q := range []string{"aardvark", "zebra", "#savanna"} {
		if got := r.found(author, q); len(got) != 0 {
			t.Errorf("after delete, %q finds %v", q, got)
		}
	}
	var content string
	if err := r.pool.QueryRow(r.ctx, `SELECT content FROM search_posts WHERE post_id = $1`, p).Scan(&content); err != nil || content != "" {
		t.Errorf("tombstone keeps text %q (%v)", content, err)
	}

	// A delete that arrives before its creation leaves a tombstone too.
	q := id.NewPostID().String()
	r.apply(&eventsv1.PostDeleted{PostId: q, UserId: author, DeletedAt: timestamppb.New(t0.Add(time.Minute))})
	r.apply(&eventsv1.PostCreated{PostId: q, UserId: author, Content: "quokka", Visibility: public, CreatedAt: timestamppb.New(t0)})
	if got := r.found(author, "quokka"); len(got) != 0 {
		t.Errorf("created after its delete: %v", got)
	}
}

// A follow redelivered after the unfollow that followed it does not make
// FOLLOWERS_ONLY posts visible again.
func TestStaleFollowDoesNotReopen(t *testing.T) {
	r := newRig(t)
	author, fan := r.user("star"), r.user("ex")
	t0 := r.now.Add(-time.Hour)
	p := r.post(author, "members only llama", followers, t0)
	r.follow(fan, author, t0)
	if got := r.found(fan, "llama"); !slices.Equal(got, []string{p}) {
		t.Fatalf("follower: %v", got)
	}
	r.unfollow(fan, author, t0.Add(time.Minute))
	r.follow(fan, author, t0) // redelivered
	if got := r.found(fan, "llama"); len(got) != 0 {
		t.Fatalf("after unfollow and a stale follow: %v", got)
	}
	r.follow(fan, author, t0.Add(2*time.Minute))
	if got := r.found(fan, "llama"); !slices.Equal(got, []string{p}) {
		t.Fatalf("after following again: %v", got)
	}
}

// Tags match by #tag (case-insensitively, all must match) and as plain
// words.
func TestTags(t *testing.T) {
	r := newRig(t)
	a := r.user("tagger")
	t0 := r.now.Add(-time.Hour)
	golang := r.post(a, "writing servers", public, t0, "GoLang", "backend")
	rust := r.post(a, "writing compilers", public, t0, "rust", "backend")
	for q, want := range map[string][]string{
		"#golang":          {golang},
		"#GOLANG":          {golang},
		"#backend":         {golang, rust},
		"#backend #rust":   {rust},
		"#backend writing": {golang, rust},
		"golang":           {golang},
		"backend servers":  {golang},
		"#nope":            nil,
	} {
		if got := r.found(a, q); !slices.Equal(sorted(got), sorted(want)) {
			t.Errorf("%q: %v, want %v", q, got, want)
		}
	}
}

// More relevant first; among equally relevant posts, newer first; pages
// continue the order without repeats, even as time passes between pages.
func TestRankingAndPages(t *testing.T) {
	r := newRig(t)
	a := r.user("ranker")
	old := r.post(a, "heron", public, r.now.Add(-30*24*time.Hour))
	recent := r.post(a, "heron", public, r.now.Add(-time.Hour))
	strong := r.post(a, "heron heron heron watching herons", public, r.now.Add(-2*time.Hour), "heron")
	for i := range 7 {
		r.post(a, "heron number "+fmt.Sprint(i), public, r.now.Add(-time.Duration(i+3)*time.Hour))
	}
	got := r.found(a, "heron")
	if len(got) != 10 || got[0] != strong {
		t.Fatalf("order %v, want %s first and 10 hits", got, strong)
	}
	if slices.Index(got, recent) > slices.Index(got, old) {
		t.Errorf("older equal post ranked above the newer one: %v", got)
	}
	if got[len(got)-1] != old {
		t.Errorf("a 30-day-old post should come last: %v", got)
	}

	hits, next, err := r.svc.Posts(r.ctx, id.UserID(a), "heron", nil, 4)
	if err != nil || next == nil {
		t.Fatal(next, err)
	}
	r.now = r.now.Add(48 * time.Hour) // the clock moves on between pages
	rest, _, err := r.svc.Posts(r.ctx, id.UserID(a), "heron", next, 100)
	if err != nil {
		t.Fatal(err)
	}
	var paged []string
	for _, h := range append(hits, rest...) {
		paged = append(paged, h.ID)
	}
	if !slices.Equal(paged, got) {
		t.Errorf("pages %v, one pass %v", paged, got)
	}
	if _, _, err := r.svc.Posts(r.ctx, id.UserID(a), "other", next, 4); err == nil {
		t.Error("a cursor of another query was accepted")
	}
}

// Users are found by whole, prefix, partial and misspelt usernames and by
// display name; renames are reflected and stale registrations ignored.
func TestUsers(t *testing.T) {
	r := newRig(t)
	alice := r.user("alice_wonder")
	bob := r.user("bobby_tables")
	r.apply(&eventsv1.UserProfileUpdated{UserId: bob, DisplayName: proto.String("Robert Tables"), UpdatedAt: timestamppb.New(r.now)})
	names := func(q string) []string {
		hits, _, err := r.svc.Users(r.ctx, q, nil, 10)
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		var ids []string
		for _, h := range hits {
			ids = append(ids, h.ID)
		}
		return ids
	}
	for q, want := range map[string][]string{
		"alice_wonder": {alice}, "ali": {alice}, "@alice": {alice}, "wonder": {alice}, "ALICE": {alice},
		"alise_wonder": {alice}, "robert": {bob}, "tables": {bob}, "_": {alice, bob}, "%": nil,
	} {
		if got := names(q); !slices.Equal(sorted(got), sorted(want)) {
			t.Errorf("%q: %v, want %v", q, got, want)
		}
	}
	// Exact before prefix before substring.
	ally := r.user("ally")
	r.user("sally")
	if got := names("ally"); len(got) < 2 || got[0] != ally {
		t.Errorf("ally: %v, want %s first", got, ally)
	}

	r.apply(&eventsv1.UserProfileUpdated{UserId: alice, Username: proto.String("alice_renamed"), UpdatedAt: timestamppb.New(r.now)})
	r.apply(&eventsv1.UserRegistered{UserId: alice, Username: "alice_wonder", RegisteredAt: timestamppb.New(r.now.Add(-time.Hour))})
	if got := names("wonder"); len(got) != 0 {
		t.Errorf("old name still found: %v", got)
	}
	if got := names("renamed"); !slices.Equal(got, []string{alice}) {
		t.Errorf("new name: %v", got)
	}
}

func TestBadEventsArePermanent(t *testing.T) {
	r := newRig(t)
	err := r.ix.PostCreated(r.ctx, &eventsv1.PostCreated{PostId: "not-a-uuid", UserId: id.NewUserID().String()}, r.now)
	if !delivery.IsPermanent(err) {
		t.Fatalf("malformed id: %v, want a permanent error", err)
	}
	// An update of a post never created is dropped without error.
	if err := r.ix.PostUpdated(r.ctx, &eventsv1.PostUpdated{PostId: id.NewPostID().String(), UserId: id.NewUserID().String()}, r.now); err != nil {
		t.Fatal(err)
	}
}

func TestQueriesRejected(t *testing.T) {
	r := newRig(t)
	a := r.user("asker")
	for _, q := range []string{"", "   ", "#", "# ##", string(make([]rune, 201)), "a\x00b"} {
		if _, _, err := r.svc.Posts(r.ctx, id.UserID(a), q, nil, 10); err == nil {
			t.Errorf("posts %q accepted", q)
		}
	}
	// Stop words only: a valid query that finds nothing.
	if hits, _, err := r.svc.Posts(r.ctx, id.UserID(a), "the", nil, 10); err != nil || len(hits) != 0 {
		t.Errorf("stop words: %v %v", hits, err)
	}
	// websearch syntax does not break on stray operators.
	r.post(a, "quotes and dashes", public, r.now)
	for _, q := range []string{`"quotes and`, "-dashes quotes", "quotes or nothing", "a:b & c | !d"} {
		if _, _, err := r.svc.Posts(r.ctx, id.UserID(a), q, nil, 10); err != nil {
			t.Errorf("%q: %v", q, err)
		}
	}
}

// Migrate is idempotent and safe when nova-api and the indexer start
// together.
func TestMigrateConcurrently(t *testing.T) {
	pool := testrig.Postgres(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() { errs <- search.Migrate(context.Background(), pool) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestHTTP(t *testing.T) {
	r := newRig(t)
	a := r.user("http_user")
	p := r.post(a, "served over http", public, r.now.Add(-time.Minute), "web")
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
	token, _, err := signer.Issue(auth.Principal{UserID: id.UserID(a), Role: auth.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	r.svc.Mount(mux, httpapi.Authenticate(verifier, quiet()))
	mux.Handle("/", httpapi.Fallback(mux, quiet()))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(query url.Values, token string) (int, map[string]any) {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/search?"+query.Encode(), nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	code, out := get(url.Values{"q": {"#web"}}, token)
	items, _ := out["items"].([]any)
	if code != 200 || len(items) != 1 || items[0].(map[string]any)["id"] != p || items[0].(map[string]any)["author_username"] != "http_user" {
		t.Fatalf("posts: %d %v", code, out)
	}
	code, out = get(url.Values{"q": {"http_u"}, "type": {"users"}}, token)
	items, _ = out["items"].([]any)
	if code != 200 || len(items) != 1 || items[0].(map[string]any)["id"] != a {
		t.Fatalf("users: %d %v", code, out)
	}
	code, out = get(url.Values{"q": {"nothing-here-xyz"}}, token)
	if items, ok := out["items"].([]any); code != 200 || !ok || len(items) != 0 || out["next_cursor"] != nil {
		t.Fatalf("no hits: %d %v", code, out)
	}
	for _, c := range []struct {
		q    url.Values
		tok  string
		code int
	}{
		{url.Values{"q": {"x"}}, "", 401},
		{url.Values{"q": {""}}, token, 400},
		{url.Values{"q": {"x"}, "type": {"comments"}}, token, 400},
		{url.Values{"q": {"x"}, "limit": {"51"}}, token, 400},
		{url.Values{"q": {"x"}, "cursor": {"!!"}}, token, 400},
	} {
		if code, out := get(c.q, c.tok); code != c.code {
			t.Errorf("%v: %d %v, want %d", c.q, code, out, c.code)
		}
	}
	resp, err := http.Post(srv.URL+"/v1/search", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}

package notification_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/notification"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// rig is the inbox on a fresh database with a settable clock, and its
// endpoints behind the real token verifier.
type rig struct {
	t      *testing.T
	ctx    context.Context
	pool   *pgxpool.Pool
	svc    *notification.Service
	codec  *envelope.Codec
	signer *auth.Signer
	srv    *httptest.Server

	mu  sync.Mutex
	now time.Time
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	pool := testrig.Postgres(t)
	for _, m := range []func(context.Context, *pgxpool.Pool) error{outbox.Migrate, notification.Migrate, notification.Migrate} {
		if err := m(ctx, pool); err != nil {
			t.Fatal(err)
		}
	}
	r := &rig{t: t, ctx: ctx, pool: pool, codec: envelope.NewCodec(catalog.Default()),
		now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := notification.New(notification.Config{Pool: pool, Outbox: outbox.New(r.codec), Logger: log, Now: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	r.svc = svc
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ks, err := auth.NewKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	if r.signer, err = auth.NewSigner(ks, auth.SignerConfig{}); err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(ks, auth.VerifierConfig{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Mount(mux, httpapi.Authenticate(verifier, log))
	mux.Handle("/", httpapi.Fallback(mux, log))
	r.srv = httptest.NewServer(mux)
	t.Cleanup(r.srv.Close)
	return r
}

func (r *rig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *rig) advance(d time.Duration) {
	r.mu.Lock()
	r.now = r.now.Add(d)
	r.mu.Unlock()
}

func (r *rig) record(trigger string, in ...notification.Incoming) notification.Result {
	r.t.Helper()
	res, err := r.svc.Record(r.ctx, notification.Trigger{Source: "/test", ID: trigger}, in)
	if err != nil {
		r.t.Fatal(err)
	}
	return res
}

func (r *rig) list(u id.UserID, unread bool) []notification.Notification {
	r.t.Helper()
	ns, _, err := r.svc.List(r.ctx, u, notification.Query{UnreadOnly: unread, Limit: 100})
	if err != nil {
		r.t.Fatal(err)
	}
	return ns
}

// announced returns the NotificationCreated events waiting in the outbox
// for recipient, oldest first.
func (r *rig) announced(recipient id.UserID) []*eventsv1.NotificationCreated {
	r.t.Helper()
	rows, err := r.pool.Query(r.ctx, `SELECT topic, data FROM nova_outbox WHERE key = $1 ORDER BY id`, recipient.String())
	if err != nil {
		r.t.Fatal(err)
	}
	defer rows.Close()
	var out []*eventsv1.NotificationCreated
	for rows.Next() {
		var topic string
		var data []byte
		if err := rows.Scan(&topic, &data); err != nil {
			r.t.Fatal(err)
		}
		if topic != catalog.NotificationEvents {
			r.t.Fatalf("event on %s, want %s", topic, catalog.NotificationEvents)
		}
		m := &eventsv1.NotificationCreated{}
		if err := proto.Unmarshal(data, m); err != nil {
			r.t.Fatal(err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		r.t.Fatal(err)
	}
	return out
}

func like(recipient, actor id.UserID, post string) notification.Incoming {
	return notification.Incoming{Recipient: recipient, Kind: notification.Like, SubjectID: post, Actor: actor}
}

func TestLikeBurstFoldsIntoOneNotification(t *testing.T) {
	r := newRig(t)
	author, post := id.NewUserID(), id.NewPostID().String()
	fans := []id.UserID{id.NewUserID(), id.NewUserID(), id.NewUserID()}
	for i, f := range fans {
		r.advance(time.Minute)
		if res := r.record("like-"+string(rune('a'+i)), like(author, f, post)); len(res.Written) != 1 {
			t.Fatalf("like %d wrote %d notifications", i, len(res.Written))
		}
	}
	ns := r.list(author, false)
	if len(ns) != 1 {
		t.Fatalf("%d notifications, want 1: %+v", len(ns), ns)
	}
	n := ns[0]
	want := []string{fans[2].String(), fans[1].String(), fans[0].String()}
	if n.Count != 3 || strings.Join(n.ActorIDs, ",") != strings.Join(want, ",") || n.Kind != notification.Like || n.SubjectID != post {
		t.Fatalf("grouped notification %+v, want count 3 and actors %v newest first", n, want)
	}
	if n.Text != "Your post has 3 new likes" || n.Read || !n.UpdatedAt.After(n.CreatedAt) {
		t.Fatalf("grouped notification %+v", n)
	}
	// Announced on creation and on every growth, under one id.
	evs := r.announced(author)
	if len(evs) != 3 {
		t.Fatalf("%d NotificationCreated, want 3", len(evs))
	}
	for i, e := range evs {
		if e.NotificationId != n.ID || e.Count != int32(i+1) || e.Kind != eventsv1.NotificationKind_NOTIFICATION_KIND_LIKE ||
			e.RecipientId != author.String() || e.SubjectId != post || len(e.ActorIds) != i+1 {
			t.Fatalf("announcement %d: %v", i, e)
		}
	}

	// The same fan liking again (after an unlike) changes nothing.
	if res := r.record("like-again", like(author, fans[0], post)); len(res.Written) != 0 || res.Duplicate {
		t.Fatalf("repeated like: %+v", res)
	}
	if got := r.list(author, false); got[0].Count != 3 || len(r.announced(author)) != 3 {
		t.Fatalf("repeated like changed %+v", got[0])
	}

	// A like on another post is another notification.
	other := r.record("like-other", like(author, fans[0], id.NewPostID().String()))
	if len(other.Written) != 1 || other.Written[0].ID == n.ID {
		t.Fatalf("like on another post: %+v", other)
	}
}

func TestGroupClosesWhenReadOrOld(t *testing.T) {
	r := newRig(t)
	author, post := id.NewUserID(), id.NewPostID().String()
	first := r.record("1", like(author, id.NewUserID(), post)).Written[0]
	if _, err := r.svc.MarkRead(r.ctx, author, first.ID); err != nil {
		t.Fatal(err)
	}
	second := r.record("2", like(author, id.NewUserID(), post)).Written[0]
	if second.ID == first.ID || second.Count != 1 {
		t.Fatalf("a like after reading joined the read notification: %+v", second)
	}
	r.advance(59 * time.Minute)
	if got := r.record("3", like(author, id.NewUserID(), post)).Written[0]; got.ID != second.ID || got.Count != 2 {
		t.Fatalf("a like within the window opened %+v", got)
	}
	r.advance(2 * time.Minute)
	if got := r.record("4", like(author, id.NewUserID(), post)).Written[0]; got.ID == second.ID || got.Count != 1 {
		t.Fatalf("a like after the window joined the old group: %+v", got)
	}
	if n := len(r.list(author, false)); n != 3 {
		t.Fatalf("%d notifications, want 3", n)
	}
}

func TestRedeliveredTriggerChangesNothing(t *testing.T) {
	r := newRig(t)
	author, fan := id.NewUserID(), id.NewUserID()
	in := notification.Incoming{Recipient: author, Kind: notification.Comment, SubjectID: id.NewPostID().String(),
		Actor: fan, Preview: "first!\nsecond line"}
	res := r.record("c1", in)
	if res.Duplicate || len(res.Written) != 1 || res.Written[0].Text != "New comment on your post: first!…" {
		t.Fatalf("first delivery: %+v", res)
	}
	again := r.record("c1", in)
	if !again.Duplicate || len(again.Written) != 0 {
		t.Fatalf("redelivery: %+v", again)
	}
	if ns := r.list(author, false); len(ns) != 1 || ns[0].Count != 1 || len(r.announced(author)) != 1 {
		t.Fatalf("redelivery changed the inbox: %+v", ns)
	}
	// A trigger that notified no one is remembered too.
	if res := r.record("nobody"); res.Duplicate {
		t.Fatal("fresh empty trigger reported duplicate")
	}
	if res := r.record("nobody", in); !res.Duplicate || len(r.list(author, false)) != 1 {
		t.Fatalf("redelivered empty trigger wrote %+v", res)
	}
}

func TestMessagesAndCommentsCountEveryAction(t *testing.T) {
	r := newRig(t)
	bob, ada, conv := id.NewUserID(), id.NewUserID(), id.NewUserID().String()
	msg := func(text string) notification.Incoming {
		return notification.Incoming{Recipient: bob, Kind: notification.Message, SubjectID: conv, Actor: ada, Preview: text}
	}
	if n := r.record("m1", msg("hi")).Written[0]; n.Text != "New message: hi" {
		t.Fatalf("text %q", n.Text)
	}
	n := r.record("m2", msg("there")).Written[0]
	if n.Count != 2 || len(n.ActorIDs) != 1 || n.Text != "You have 2 new messages" {
		t.Fatalf("second message: %+v", n)
	}
}

func TestRecordRefusesSelfAndUnknown(t *testing.T) {
	r := newRig(t)
	u := id.NewUserID()
	for _, in := range []notification.Incoming{
		{Recipient: u, Kind: notification.Like, SubjectID: "p", Actor: u},
		{Recipient: u, Kind: "POKE", SubjectID: "p", Actor: id.NewUserID()},
		{Recipient: u, Kind: notification.Like, Actor: id.NewUserID()},
	} {
		if _, err := r.svc.Record(r.ctx, notification.Trigger{Source: "/t", ID: testrig.ID()}, []notification.Incoming{in}); err == nil {
			t.Fatalf("%+v was recorded", in)
		}
	}
}

// Likes on one post arriving at once on different partitions still make
// one notification.
func TestConcurrentLikesMakeOneNotification(t *testing.T) {
	r := newRig(t)
	author, post := id.NewUserID(), id.NewPostID().String()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.svc.Record(r.ctx, notification.Trigger{Source: "/t", ID: string(rune('a' + i))},
				[]notification.Incoming{like(author, id.NewUserID(), post)})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if ns := r.list(author, false); len(ns) != 1 || ns[0].Count != 8 || len(ns[0].ActorIDs) != 8 {
		t.Fatalf("concurrent likes: %+v", ns)
	}
}

// --- HTTP ---

func (r *rig) token(u id.UserID) string {
	r.t.Helper()
	tok, _, err := r.signer.Issue(auth.Principal{UserID: u, Role: auth.RoleUser})
	if err != nil {
		r.t.Fatal(err)
	}
	return tok
}

func (r *rig) call(method, path string, u id.UserID, out any) int {
	r.t.Helper()
	req, err := http.NewRequest(method, r.srv.URL+path, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	if u != "" {
		req.Header.Set("Authorization", "Bearer "+r.token(u))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		r.t.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			r.t.Fatal(err)
		}
	}
	return resp.StatusCode
}

type page struct {
	Items      []notification.Notification `json:"items"`
	NextCursor *string                     `json:"next_cursor"`
}

func TestInboxOverHTTP(t *testing.T) {
	r := newRig(t)
	ada, bob := id.NewUserID(), id.NewUserID()
	var ids []string
	for i := range 5 {
		r.advance(time.Second)
		n := r.record(string(rune('a'+i)), like(ada, bob, id.NewPostID().String())).Written[0]
		ids = append(ids, n.ID)
	}
	r.record("bob's", like(bob, ada, id.NewPostID().String()))

	// Newest first, in pages.
	var got []string
	path := "/v1/notifications?limit=2"
	for {
		var p page
		if code := r.call("GET", path, ada, &p); code != http.StatusOK {
			t.Fatalf("list: %d", code)
		}
		for _, n := range p.Items {
			if n.RecipientID != ada.String() {
				t.Fatalf("ada sees %+v", n)
			}
			got = append(got, n.ID)
		}
		if p.NextCursor == nil {
			break
		}
		path = "/v1/notifications?limit=2&cursor=" + *p.NextCursor
	}
	if want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("pages %v, want %v", got, want)
	}

	// Mark one read; unread=true leaves it out.
	var n notification.Notification
	if code := r.call("POST", "/v1/notifications/"+ids[2]+"/read", ada, &n); code != http.StatusOK || !n.Read || n.ReadAt == nil {
		t.Fatalf("mark read: %d %+v", code, n)
	}
	var unread page
	r.call("GET", "/v1/notifications?unread=true", ada, &unread)
	if len(unread.Items) != 4 {
		t.Fatalf("%d unread, want 4", len(unread.Items))
	}
	for _, u := range unread.Items {
		if u.ID == ids[2] {
			t.Fatal("read notification listed as unread")
		}
	}

	// Someone else's notification, or none, or a malformed id: 404.
	for _, path := range []string{"/v1/notifications/" + ids[0] + "/read", "/v1/notifications/" + id.NewPostID().String() + "/read", "/v1/notifications/nope/read"} {
		if code := r.call("POST", path, bob, nil); code != http.StatusNotFound {
			t.Fatalf("bob POST %s: %d, want 404", path, code)
		}
	}
	if code := r.call("GET", "/v1/notifications", bob, &unread); code != http.StatusOK || len(unread.Items) != 1 || unread.Items[0].Read {
		t.Fatalf("bob's inbox: %d %+v", code, unread.Items)
	}

	// Mark all.
	var marked map[string]int64
	if code := r.call("POST", "/v1/notifications/read", ada, &marked); code != http.StatusOK || marked["marked"] != 4 {
		t.Fatalf("mark all: %d %v", code, marked)
	}
	r.call("GET", "/v1/notifications?unread=true", ada, &unread)
	if len(unread.Items) != 0 {
		t.Fatalf("unread after mark all: %+v", unread.Items)
	}
	if c, err := r.svc.Unread(r.ctx, bob); err != nil || c != 1 {
		t.Fatalf("bob's unread count %d %v: marking all touched another inbox", c, err)
	}

	// Without a token, with a bad query, with a wrong method.
	for _, tc := range []struct {
		method, path string
		user         id.UserID
		want         int
	}{
		{"GET", "/v1/notifications", "", http.StatusUnauthorized},
		{"POST", "/v1/notifications/read", "", http.StatusUnauthorized},
		{"POST", "/v1/notifications/" + ids[0] + "/read", "", http.StatusUnauthorized},
		{"GET", "/v1/notifications?unread=maybe", ada, http.StatusBadRequest},
		{"GET", "/v1/notifications?cursor=zz", ada, http.StatusBadRequest},
		{"GET", "/v1/notifications?limit=0", ada, http.StatusBadRequest},
		{"DELETE", "/v1/notifications", ada, http.StatusMethodNotAllowed},
		{"GET", "/v1/notifications/read", ada, http.StatusMethodNotAllowed},
	} {
		if code := r.call(tc.method, tc.path, tc.user, nil); code != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, code, tc.want)
		}
	}
}

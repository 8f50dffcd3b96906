package analytics_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/analytics"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type rig struct {
	t     testing.TB
	ctx   context.Context
	pool  *pgxpool.Pool
	rec   *analytics.Recorder
	svc   *analytics.Service
	codec *envelope.Codec
	now   time.Time
}

func newRig(t testing.TB) *rig {
	t.Helper()
	ctx := context.Background()
	pool := testrig.Postgres(t)
	if err := analytics.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)
	svc, err := analytics.New(analytics.Config{Pool: pool, Logger: quiet(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, ctx: ctx, pool: pool, rec: analytics.NewRecorder(pool, nil), svc: svc,
		codec: envelope.NewCodec(catalog.Default()), now: now}
}

func (r *rig) event(msg proto.Message, at time.Time) cloudevents.Event {
	r.t.Helper()
	e, err := r.codec.New(msg, envelope.WithTime(at))
	if err != nil {
		r.t.Fatal(err)
	}
	return e
}

// record counts e and reports whether it was counted.
func (r *rig) record(e cloudevents.Event) bool {
	r.t.Helper()
	d, err := r.codec.Decode(e)
	if err != nil {
		r.t.Fatal(err)
	}
	counted, err := r.rec.Record(r.ctx, d)
	if err != nil {
		r.t.Fatal(err)
	}
	return counted
}

func engagement(post, user, author string, kind eventsv1.EngagementKind, at time.Time) *eventsv1.Engagement {
	return &eventsv1.Engagement{EngagementId: uuid.NewString(), PostId: post, UserId: user, AuthorId: author, Kind: kind,
		OccurredAt: timestamppb.New(at)}
}

const (
	view    = eventsv1.EngagementKind_ENGAGEMENT_KIND_VIEW
	like    = eventsv1.EngagementKind_ENGAGEMENT_KIND_LIKE
	unlike  = eventsv1.EngagementKind_ENGAGEMENT_KIND_UNLIKE
	comment = eventsv1.EngagementKind_ENGAGEMENT_KIND_COMMENT
	share   = eventsv1.EngagementKind_ENGAGEMENT_KIND_SHARE
)

// The counters match the events sent, also when every event is delivered
// twice, some concurrently, and engagements are re-sent under new ids.
func TestCountersMatchEventsDespiteDuplicates(t *testing.T) {
	r := newRig(t)
	author, a, b := id.NewUserID().String(), id.NewUserID().String(), id.NewUserID().String()
	post := id.NewPostID().String()
	at := r.now.Add(-10 * time.Minute)
	var events []cloudevents.Event
	add := func(m proto.Message, at time.Time) { events = append(events, r.event(m, at)) }
	add(&eventsv1.UserRegistered{UserId: author, Username: "author", RegisteredAt: timestamppb.New(at.Add(-24 * time.Hour))}, at.Add(-24*time.Hour))
	add(&eventsv1.PostCreated{PostId: post, UserId: author, Content: "counted", CreatedAt: timestamppb.New(at)}, at)
	for _, m := range []*eventsv1.Engagement{
		engagement(post, a, author, view, at), engagement(post, a, author, view, at), engagement(post, b, author, view, at),
		engagement(post, a, author, like, at), engagement(post, b, author, like, at), engagement(post, b, author, unlike, at),
		engagement(post, a, author, comment, at), engagement(post, b, author, share, at),
	} {
		add(m, at)
	}
	add(&eventsv1.UserFollowed{FollowerId: a, FolloweeId: author, FollowedAt: timestamppb.New(at)}, at)

	counted := 0
	for _, e := range events {
		if r.record(e) {
			counted++
		}
		if r.record(e) { // redelivered
			t.Fatalf("redelivery of %s counted", e.Type())
		}
	}
	// The same engagement re-sent by its producer under a fresh CloudEvents
	// id counts once.
	again := engagement(post, a, author, like, at)
	if !r.record(r.event(again, at)) || r.record(r.event(again, at)) {
		t.Fatal("a re-sent engagement should count once")
	}
	// Concurrent redeliveries of one event: exactly one counts.
	e := r.event(engagement(post, b, author, share, at), at)
	var wg sync.WaitGroup
	var mu sync.Mutex
	n := 0
	for range 8 {
		wg.Go(func() {
			d, _ := r.codec.Decode(e)
			ok, err := r.rec.Record(r.ctx, d)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				n++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if n != 1 || counted != len(events) {
		t.Fatalf("concurrent redeliveries counted %d times; first pass counted %d of %d", n, counted, len(events))
	}

	stats, err := r.svc.Post(r.ctx, auth.Principal{UserID: id.UserID(author), Role: auth.RoleUser}, id.PostID(post))
	if err != nil {
		t.Fatal(err)
	}
	if stats.Views != 3 || stats.Likes != 2 || stats.Comments != 1 || stats.Shares != 2 || stats.AuthorID != author || stats.CreatedAt == nil {
		t.Fatalf("post stats %+v, want 3 views, 2 likes (3 - 1 unlike), 1 comment, 2 shares", stats)
	}

	admin := auth.Principal{UserID: id.NewUserID(), Role: auth.RoleAdmin}
	sum, err := r.svc.Summary(r.ctx, admin, 2, 48)
	if err != nil {
		t.Fatal(err)
	}
	// Yesterday: the author registered. Today: author posted, a and b engaged.
	wantDAU := []analytics.DayCount{{Day: at.Add(-24 * time.Hour).Format(time.DateOnly), Count: 1}, {Day: at.Format(time.DateOnly), Count: 3}}
	if len(sum.DailyActiveUsers) != 2 || sum.DailyActiveUsers[0] != wantDAU[0] || sum.DailyActiveUsers[1] != wantDAU[1] {
		t.Errorf("DAU %+v, want %+v", sum.DailyActiveUsers, wantDAU)
	}
	perTopic := map[string]int64{}
	for _, th := range sum.EventsPerTopicPerHour {
		if th.Hour.Equal(at.Truncate(time.Hour)) {
			perTopic[th.Topic] = th.Events
		}
	}
	if perTopic[catalog.AnalyticsEvents] != 10 || perTopic[catalog.ContentEvents] != 1 || perTopic[catalog.UserEvents] != 1 {
		t.Errorf("events per topic this hour %v, want analytics 10, content 1, user 1", perTopic)
	}
	activity, err := r.svc.UserActivity(r.ctx, auth.Principal{UserID: id.UserID(a)}, id.UserID(a), 7)
	if err != nil || len(activity) != 1 || activity[0].Count != 6 {
		t.Errorf("a's activity %+v (%v), want 6 events today (2 views, like, comment, follow, re-sent like)", activity, err)
	}
}

func TestReadRules(t *testing.T) {
	r := newRig(t)
	author, other := id.NewUserID(), id.NewUserID()
	post := id.NewPostID().String()
	r.record(r.event(&eventsv1.PostCreated{PostId: post, UserId: author.String(), CreatedAt: timestamppb.New(r.now)}, r.now))
	for _, p := range []auth.Principal{{UserID: author, Role: auth.RoleUser}, {UserID: other, Role: auth.RoleAdmin}} {
		if _, err := r.svc.Post(r.ctx, p, id.PostID(post)); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
	if _, err := r.svc.Post(r.ctx, auth.Principal{UserID: other, Role: auth.RoleUser}, id.PostID(post)); !errors.Is(err, analytics.ErrNotFound) {
		t.Errorf("another user: %v, want ErrNotFound", err)
	}
	if _, err := r.svc.Post(r.ctx, auth.Principal{UserID: author}, id.NewPostID()); !errors.Is(err, analytics.ErrNotFound) {
		t.Errorf("unknown post: %v", err)
	}
	if _, err := r.svc.Summary(r.ctx, auth.Principal{UserID: author, Role: auth.RoleUser}, 1, 1); !errors.Is(err, analytics.ErrForbidden) {
		t.Errorf("summary for a user: %v", err)
	}
	if _, err := r.svc.UserActivity(r.ctx, auth.Principal{UserID: other}, author, 1); !errors.Is(err, analytics.ErrNotFound) {
		t.Errorf("someone else's activity: %v", err)
	}
}

func TestMalformedIdsArePermanent(t *testing.T) {
	r := newRig(t)
	// decodedAs is a decoded Engagement carrying msg: the contract refuses
	// such an event before any recorder sees it, which is checked first,
	// but the recorder refuses it for good on its own too.
	decodedAs := func(msg *eventsv1.Engagement) envelope.Decoded {
		t.Helper()
		if _, err := r.codec.New(msg); !errors.Is(err, envelope.ErrContract) {
			t.Fatalf("codec built %v: %v, want ErrContract", msg, err)
		}
		d, err := r.codec.Decode(r.event(engagement(id.NewPostID().String(), id.NewUserID().String(), id.NewUserID().String(), like, r.now), r.now))
		if err != nil {
			t.Fatal(err)
		}
		d.Message = msg
		return d
	}
	d := decodedAs(&eventsv1.Engagement{EngagementId: "x", PostId: "nope", UserId: id.NewUserID().String(),
		AuthorId: id.NewUserID().String(), Kind: like, OccurredAt: timestamppb.New(r.now)})
	if _, err := r.rec.Record(r.ctx, d); !delivery.IsPermanent(err) {
		t.Fatalf("malformed post id: %v, want permanent", err)
	}
	d = decodedAs(&eventsv1.Engagement{EngagementId: uuid.NewString(), PostId: id.NewPostID().String(), UserId: id.NewUserID().String(),
		AuthorId: id.NewUserID().String(), OccurredAt: timestamppb.New(r.now)})
	if _, err := r.rec.Record(r.ctx, d); !delivery.IsPermanent(err) {
		t.Fatalf("unspecified kind: %v, want permanent", err)
	}
}

func TestHTTPAndMetrics(t *testing.T) {
	r := newRig(t)
	author, other, admin := id.NewUserID(), id.NewUserID(), id.NewUserID()
	post := id.NewPostID().String()
	at := r.now.Add(-time.Minute)
	r.record(r.event(&eventsv1.PostCreated{PostId: post, UserId: author.String(), CreatedAt: timestamppb.New(at)}, at))
	r.record(r.event(engagement(post, other.String(), author.String(), like, at), at))
	r.record(r.event(engagement(post, other.String(), author.String(), like, at), at))
	r.record(r.event(engagement(post, other.String(), author.String(), unlike, at), at))

	key, _ := auth.GenerateKey()
	ks, _ := auth.NewKeySet(key)
	signer, _ := auth.NewSigner(ks, auth.SignerConfig{})
	verifier, _ := auth.NewVerifier(ks, auth.VerifierConfig{})
	token := func(u id.UserID, role auth.Role) string {
		tok, _, err := signer.Issue(auth.Principal{UserID: u, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	mux := http.NewServeMux()
	r.svc.Mount(mux, httpapi.Authenticate(verifier, quiet()))
	mux.Handle("/", httpapi.Fallback(mux, quiet()))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path, tok string) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	authorTok, otherTok, adminTok := token(author, auth.RoleUser), token(other, auth.RoleUser), token(admin, auth.RoleAdmin)
	for _, c := range []struct {
		path, tok string
		code      int
	}{
		{"/v1/analytics/posts/" + post, authorTok, 200},
		{"/v1/analytics/posts/" + post, adminTok, 200},
		{"/v1/analytics/posts/" + post, otherTok, 404},
		{"/v1/analytics/posts/" + post, "", 401},
		{"/v1/analytics/posts/not-an-id", authorTok, 404},
		{"/v1/analytics/summary", adminTok, 200},
		{"/v1/analytics/summary?days=1&hours=1", adminTok, 200},
		{"/v1/analytics/summary?days=0", adminTok, 400},
		{"/v1/analytics/summary", authorTok, 403},
		{"/v1/analytics/users/" + other.String(), otherTok, 200},
		{"/v1/analytics/users/" + other.String(), adminTok, 200},
		{"/v1/analytics/users/" + other.String(), authorTok, 404},
		{"/v1/analytics/metrics", authorTok, 403},
		{"/v1/analytics/metrics", "", 401},
	} {
		if code, body := get(c.path, c.tok); code != c.code {
			t.Errorf("GET %s: %d %s, want %d", c.path, code, body, c.code)
		}
	}
	_, body := get("/v1/analytics/posts/"+post, authorTok)
	var stats analytics.PostStats
	if err := json.Unmarshal([]byte(body), &stats); err != nil || stats.Likes != 1 {
		t.Errorf("stats %s (%v), want 1 like", body, err)
	}
	code, body := get("/v1/analytics/metrics", adminTok)
	for _, want := range []string{
		`nova_analytics_events_total{event="Engagement",kind="LIKE",topic="analytics-events"} 2`,
		`nova_analytics_events_total{event="Engagement",kind="UNLIKE",topic="analytics-events"} 1`,
		`nova_analytics_events_total{event="PostCreated",kind="",topic="content-events"} 1`,
		"nova_analytics_daily_active_users 2",
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics (%d) lack %q:\n%s", code, want, body)
		}
	}
}

package e2e_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nova-social/nova/cmd/nova/internal/system"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
)

// startInsight is start with extra environment for the functions.
func startInsight(t testing.TB, environ map[string]string) *rig {
	t.Helper()
	return startWith(t, system.Config{Environ: environ})
}

// search returns the ids u finds with GET /v1/search.
func (r *rig) search(u user, typ, q string) []string {
	r.t.Helper()
	out := r.must(http.StatusOK, "GET", "/v1/search?"+url.Values{"q": {q}, "type": {typ}, "limit": {"50"}}.Encode(), u.Token, nil)
	var ids []string
	items, _ := out["items"].([]any)
	for _, it := range items {
		ids = append(ids, it.(map[string]any)["id"].(string))
	}
	slices.Sort(ids)
	return ids
}

// finds waits until u's search for q returns exactly want.
func (r *rig) finds(u user, typ, q string, want ...string) {
	r.t.Helper()
	slices.Sort(want)
	r.eventually(fmt.Sprintf("%s searching %s %q finds %v", u.Name, typ, q, want), func() (bool, string) {
		got := r.search(u, typ, q)
		return slices.Equal(got, want), fmt.Sprint(got)
	})
}

// sendEvents publishes events straight to Kafka, as a producer (or a
// producer's retry) would.
func (r *rig) sendEvents(recs ...kafka.Record) {
	r.t.Helper()
	p, err := kafka.NewProducer(r.producerConfig())
	if err != nil {
		r.t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Send(ctx, recs...); err != nil {
		r.t.Fatal(err)
	}
}

// Posts and users become searchable through the real pipeline (nova-api →
// outbox → content-events/user-events → dispatcher → search-indexer →
// PostgreSQL → GET /v1/search); tags, partial usernames, edits, deletes,
// every visibility rule and moderation's hiding are reflected.
func TestSearchThroughThePipeline(t *testing.T) {
	r := start(t)
	author, fan, stranger := r.register("kayaker"), r.register("fan"), r.register("stranger")
	r.follow(fan, author)
	word := "w" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")

	pub := r.must(http.StatusCreated, "POST", "/v1/posts", author.Token, map[string]any{
		"content": "paddling the fjord " + word, "visibility": "PUBLIC", "tags": []string{"Kayak"}})["id"].(string)
	fo := r.must(http.StatusCreated, "POST", "/v1/posts", author.Token, map[string]any{
		"content": "for my followers " + word, "visibility": "FOLLOWERS_ONLY", "tags": []string{"kayak"}})["id"].(string)
	priv := r.must(http.StatusCreated, "POST", "/v1/posts", author.Token, map[string]any{
		"content": "just for me " + word, "visibility": "PRIVATE", "tags": []string{"kayak"}})["id"].(string)

	// A searchable post, by word and by tag, for each kind of viewer.
	r.finds(stranger, "posts", word, pub)
	r.finds(fan, "posts", word, pub, fo)
	r.finds(author, "posts", word, pub, fo, priv)
	r.finds(stranger, "posts", "#kayak "+word, pub)
	r.finds(fan, "posts", "#KAYAK "+word, pub, fo)

	// A partial username finds the user.
	r.finds(stranger, "users", author.Name[:len(author.Name)-3], author.ID)
	r.finds(stranger, "users", "kayake", author.ID)

	// An edit is reflected: the old text is gone, the new one found.
	edited := "w" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	r.must(http.StatusOK, "PATCH", "/v1/posts/"+pub, author.Token, map[string]any{"content": "now about " + edited})
	r.finds(stranger, "posts", edited, pub)
	r.finds(stranger, "posts", word)

	// Visibility changes and unfollows are reflected.
	r.must(http.StatusOK, "PATCH", "/v1/posts/"+fo, author.Token, map[string]any{"visibility": "PUBLIC"})
	r.finds(stranger, "posts", word, fo)
	r.must(http.StatusOK, "PATCH", "/v1/posts/"+fo, author.Token, map[string]any{"visibility": "FOLLOWERS_ONLY"})
	r.finds(stranger, "posts", word)
	r.unfollow(fan, author)
	r.finds(fan, "posts", word)
	r.finds(author, "posts", word, fo, priv)

	// Moderation hides a post (PostUpdated with hidden, as moderation-apply
	// emits it): nobody finds it, its author included.
	codec := envelope.NewCodec(catalog.Default())
	e, err := codec.New(&eventsv1.PostUpdated{PostId: pub, UserId: author.ID, Tags: []string{"Kayak"},
		Hidden: proto.Bool(true), HiddenReason: "blocked_term", UpdatedAt: timestamppb.Now()})
	if err != nil {
		t.Fatal(err)
	}
	r.sendEvents(kafka.Record{Topic: catalog.ContentEvents, Key: author.ID, Event: e})
	r.finds(author, "posts", edited)
	r.finds(stranger, "posts", edited)

	// A delete is reflected.
	r.must(http.StatusNoContent, "DELETE", "/v1/posts/"+priv, author.Token, nil)
	r.finds(author, "posts", word, fo)
	r.settle()
	if got := r.search(stranger, "posts", "#kayak"); len(got) != 0 {
		t.Fatalf("stranger finds %v by tag after everything", got)
	}
}

// Analytics counts what was done through the API exactly once, also when
// an event is redelivered and when an engagement is sent again under a new
// CloudEvents id; authors and admins read the counters, others do not.
func TestAnalyticsMatchTheEventsSent(t *testing.T) {
	r := startInsight(t, nil)
	admin := r.register("boss")
	r.grantAdmin(admin)
	author, fan, other := r.register("author"), r.register("fan"), r.register("other")
	p := r.post(author, "count me", "PUBLIC")

	for _, step := range []struct{ method, path string }{
		{"POST", "/views"}, {"POST", "/views"}, {"POST", "/likes"}, {"DELETE", "/likes"}, {"POST", "/likes"}, {"POST", "/shares"},
	} {
		code, out := r.call(step.method, "/v1/posts/"+p+step.path, fan.Token, nil)
		if code >= 300 {
			t.Fatalf("%s %s: %d %v", step.method, step.path, code, out)
		}
	}
	r.must(http.StatusCreated, "POST", "/v1/posts/"+p+"/comments", other.Token, map[string]any{"content": "nice"})

	// One more view, delivered three times with the same CloudEvents id,
	// and sent once more under a new id (a producer's retry).
	codec := envelope.NewCodec(catalog.Default())
	view := &eventsv1.Engagement{EngagementId: uuid.NewString(), PostId: p, UserId: other.ID, AuthorId: author.ID,
		Kind: eventsv1.EngagementKind_ENGAGEMENT_KIND_VIEW, OccurredAt: timestamppb.Now()}
	e, err := codec.New(view)
	if err != nil {
		t.Fatal(err)
	}
	retry, err := codec.New(view)
	if err != nil {
		t.Fatal(err)
	}
	rec := kafka.Record{Topic: catalog.AnalyticsEvents, Key: p, Event: e}
	r.sendEvents(rec, rec, rec, kafka.Record{Topic: catalog.AnalyticsEvents, Key: p, Event: retry})

	// The fan's second view counts once with the first (one view per user
	// and post a day); the hand-sent view is other's.
	want := map[string]float64{"views": 2, "likes": 1, "comments": 1, "shares": 1}
	r.eventually("post counters match the events sent", func() (bool, string) {
		code, out := r.call("GET", "/v1/analytics/posts/"+p, author.Token, nil)
		if code != http.StatusOK {
			return false, fmt.Sprint(code, out)
		}
		for k, v := range want {
			if out[k] != v {
				return false, fmt.Sprint(out)
			}
		}
		return true, ""
	})
	r.settle()
	stats := r.must(http.StatusOK, "GET", "/v1/analytics/posts/"+p, admin.Token, nil)
	for k, v := range want {
		if stats[k] != v {
			t.Fatalf("after settling, %s = %v, want %v (%v)", k, stats[k], v, stats)
		}
	}
	r.must(http.StatusNotFound, "GET", "/v1/analytics/posts/"+p, fan.Token, nil)
	r.must(http.StatusForbidden, "GET", "/v1/analytics/summary", author.Token, nil)

	sum := r.must(http.StatusOK, "GET", "/v1/analytics/summary?days=1&hours=2", admin.Token, nil)
	dau, _ := sum["daily_active_users"].([]any)
	// Today: admin, author, fan and other registered; three of them acted since.
	if len(dau) != 1 || dau[0].(map[string]any)["count"] != float64(4) {
		t.Errorf("daily active users %v, want 4 today", dau)
	}
	analyticsEvents := 0.0
	for _, th := range sum["events_per_topic_per_hour"].([]any) {
		if m := th.(map[string]any); m["topic"] == catalog.AnalyticsEvents {
			analyticsEvents += m["events"].(float64)
		}
	}
	// A view (the second emits nothing), like, unlike, like, share, comment
	// through the API; one view by hand.
	if analyticsEvents != 7 {
		t.Errorf("analytics-events counted %v times, want 7: %v", analyticsEvents, sum)
	}

	req, _ := http.NewRequest("GET", r.api+"/v1/analytics/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+admin.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{
		`nova_analytics_events_total{event="Engagement",kind="VIEW",topic="analytics-events"} 2`,
		`nova_analytics_events_total{event="Engagement",kind="LIKE",topic="analytics-events"} 2`,
		"nova_analytics_daily_active_users 4",
	} {
		if !strings.Contains(string(body), line+"\n") {
			t.Errorf("metrics (%d) lack %q:\n%s", resp.StatusCode, line, body)
		}
	}
}

package moderation_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/moderation"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

type rig struct {
	t      *testing.T
	ctx    context.Context
	pool   *pgxpool.Pool
	svc    *moderation.Service
	signer *auth.Signer
	srv    *httptest.Server
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	pool := testrig.Postgres(t)
	for _, m := range []func(context.Context, *pgxpool.Pool) error{outbox.Migrate, moderation.Migrate} {
		if err := m(ctx, pool); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := moderation.New(moderation.Config{Pool: pool, Outbox: outbox.New(envelope.NewCodec(catalog.Default())), Logger: log,
		Page: httpapi.PageConfig{DefaultLimit: 2, MaxLimit: 10}})
	if err != nil {
		t.Fatal(err)
	}
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
	mux := http.NewServeMux()
	svc.Mount(mux, httpapi.Authenticate(verifier, log))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &rig{t: t, ctx: ctx, pool: pool, svc: svc, signer: signer, srv: srv}
}

func (r *rig) token(role auth.Role) (string, id.UserID) {
	u := id.NewUserID()
	tok, _, err := r.signer.Issue(auth.Principal{UserID: u, Role: role})
	if err != nil {
		r.t.Fatal(err)
	}
	return tok, u
}

func (r *rig) do(method, path, tok, body string) (int, map[string]any) {
	r.t.Helper()
	req, _ := http.NewRequest(method, r.srv.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// decisions returns the ModerationDecision events in the outbox, oldest first.
func (r *rig) decisions() []*eventsv1.ModerationDecision {
	r.t.Helper()
	rows, err := r.pool.Query(r.ctx, `SELECT event_id, key, data FROM `+outbox.Table+` WHERE type = 'com.nova.trustsafety.moderation.decided' ORDER BY id`)
	if err != nil {
		r.t.Fatal(err)
	}
	defer rows.Close()
	var out []*eventsv1.ModerationDecision
	for rows.Next() {
		var evID, key string
		var data []byte
		if err := rows.Scan(&evID, &key, &data); err != nil {
			r.t.Fatal(err)
		}
		d := &eventsv1.ModerationDecision{}
		if err := proto.Unmarshal(data, d); err != nil {
			r.t.Fatal(err)
		}
		if d.GetDecisionId() != evID || key != d.GetPostId() {
			r.t.Fatalf("event %s key %s carries decision %v", evID, key, d)
		}
		out = append(out, d)
	}
	return out
}

func verdict(action eventsv1.ModerationAction, at time.Time, reasons ...moderation.Reason) moderation.Verdict {
	return moderation.Verdict{PostID: uuid.NewString(), AuthorID: uuid.NewString(), Content: "some text", Tags: []string{"t"},
		ContentAt: at.UTC().Truncate(time.Microsecond), Action: action, Reasons: reasons}
}

func TestRecordDecidesEachVersionOnceAndQueuesFlags(t *testing.T) {
	r := newRig(t)
	st := r.svc.Store()
	at := time.Now()
	v := verdict(eventsv1.ModerationAction_MODERATION_ACTION_FLAG, at, moderation.Reason{Code: "link_spam", Detail: "5 links"})
	for i, want := range []bool{true, false} {
		got, err := st.Record(r.ctx, v)
		if err != nil || got != want {
			t.Fatalf("record #%d = %v, %v; want %v", i, got, err, want)
		}
	}
	ds := r.decisions()
	if len(ds) != 1 || ds[0].GetAction() != eventsv1.ModerationAction_MODERATION_ACTION_FLAG || ds[0].GetDecidedBy() != "auto" ||
		!ds[0].GetContentAt().AsTime().Equal(v.ContentAt) || moderation.ReasonText(ds[0].GetReasons()) != "link_spam: 5 links" {
		t.Fatalf("decisions %v, want one FLAG about the version", ds)
	}
	// An older version arriving late is not judged again.
	old := v
	old.ContentAt = v.ContentAt.Add(-time.Second)
	if got, _ := st.Record(r.ctx, old); got {
		t.Fatal("an older version was recorded")
	}
	items, err := st.Queue(r.ctx, nil, 10)
	if err != nil || len(items) != 1 || items[0].PostID != v.PostID || items[0].Action != "flag" || items[0].Reasons[0].Code != "link_spam" {
		t.Fatalf("queue %+v (%v)", items, err)
	}
	// A newer version the rules allow takes the post out of the queue.
	newer := v
	newer.ContentAt, newer.Action, newer.Reasons = v.ContentAt.Add(time.Second), eventsv1.ModerationAction_MODERATION_ACTION_ALLOW, nil
	if got, err := st.Record(r.ctx, newer); !got || err != nil {
		t.Fatalf("newer version: %v %v", got, err)
	}
	if items, _ := st.Queue(r.ctx, nil, 10); len(items) != 0 {
		t.Fatalf("queue after an allowed edit: %+v", items)
	}
	sub, ok, err := st.Subject(r.ctx, v.PostID)
	if err != nil || !ok || sub.Content != "some text" || !sub.ContentAt.Equal(newer.ContentAt) || sub.Action != eventsv1.ModerationAction_MODERATION_ACTION_ALLOW {
		t.Fatalf("subject %+v %v %v", sub, ok, err)
	}
	if err := st.Forget(r.ctx, v.PostID); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := st.Subject(r.ctx, v.PostID); ok {
		t.Fatal("a forgotten post is still a subject")
	}
}

func TestReviewEndpointsAreForAdminsOnly(t *testing.T) {
	r := newRig(t)
	userTok, _ := r.token(auth.RoleUser)
	for _, c := range []struct{ method, path, tok string }{
		{"GET", "/v1/moderation/queue", ""},
		{"GET", "/v1/moderation/queue", userTok},
		{"POST", "/v1/moderation/queue/" + uuid.NewString() + "/decision", userTok},
	} {
		code, _ := r.do(c.method, c.path, c.tok, `{"action":"allow"}`)
		if want := map[bool]int{true: 401, false: 403}[c.tok == ""]; code != want {
			t.Errorf("%s %s (token %v): %d, want %d", c.method, c.path, c.tok != "", code, want)
		}
	}
}

func TestReviewerDecisionEmitsAndLeavesTheQueue(t *testing.T) {
	r := newRig(t)
	st := r.svc.Store()
	base := time.Now()
	var queued []moderation.Verdict
	for i := range 3 {
		v := verdict(eventsv1.ModerationAction_MODERATION_ACTION_HIDE, base.Add(time.Duration(i)*time.Second),
			moderation.Reason{Code: "blocked_term", Detail: "buy followers"})
		if _, err := st.Record(r.ctx, v); err != nil {
			t.Fatal(err)
		}
		queued = append(queued, v)
	}
	admin, adminID := r.token(auth.RoleAdmin)

	// Pages of two (the configured default), oldest first.
	code, page := r.do("GET", "/v1/moderation/queue", admin, "")
	items, _ := page["items"].([]any)
	if code != 200 || len(items) != 2 || page["next_cursor"] == nil {
		t.Fatalf("first page %d %v", code, page)
	}
	code, page2 := r.do("GET", "/v1/moderation/queue?cursor="+page["next_cursor"].(string), admin, "")
	items2, _ := page2["items"].([]any)
	if code != 200 || len(items2) != 1 || page2["next_cursor"] != nil || items2[0].(map[string]any)["post_id"] != queued[2].PostID {
		t.Fatalf("second page %d %v", code, page2)
	}
	if code, _ := r.do("GET", "/v1/moderation/queue?cursor=bogus", admin, ""); code != 400 {
		t.Fatalf("bad cursor: %d", code)
	}

	target := queued[0]
	path := "/v1/moderation/queue/" + target.PostID + "/decision"
	for _, body := range []string{`{"action":"ban","reason":"x"}`, `{"action":"remove"}`, `{"action":"remove","reason":"x","extra":1}`} {
		if code, out := r.do("POST", path, admin, body); code != 400 {
			t.Errorf("%s: %d %v, want 400", body, code, out)
		}
	}
	code, out := r.do("POST", path, admin, `{"action":"remove","reason":"scam"}`)
	if code != 200 || out["decided_by"] != adminID.String() || out["action"] != "remove" {
		t.Fatalf("decision %d %v", code, out)
	}
	ds := r.decisions()
	last := ds[len(ds)-1]
	if last.GetPostId() != target.PostID || last.GetAuthorId() != target.AuthorID || last.GetDecidedBy() != adminID.String() ||
		last.GetAction() != eventsv1.ModerationAction_MODERATION_ACTION_REMOVE || !last.GetContentAt().AsTime().Equal(target.ContentAt) ||
		moderation.ReasonText(last.GetReasons()) != "reviewer: scam" {
		t.Fatalf("decision event %v", last)
	}
	// Decided once: the post has left the queue.
	if code, _ := r.do("POST", path, admin, `{"action":"allow"}`); code != 404 {
		t.Fatalf("second decision: %d, want 404", code)
	}
	if code, _ := r.do("POST", "/v1/moderation/queue/not-a-uuid/decision", admin, `{"action":"allow"}`); code != 404 {
		t.Fatalf("malformed id: %d, want 404", code)
	}
	if items, _ := st.Queue(r.ctx, nil, 10); len(items) != 2 {
		t.Fatalf("queue holds %d, want 2", len(items))
	}
}

func TestConfigValidation(t *testing.T) {
	if _, err := moderation.New(moderation.Config{}); err == nil {
		t.Fatal("a config without pool and outbox was accepted")
	}
}

package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/api"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// fuzzAPI is a real nova-api (its own PostgreSQL database, the test Redis,
// no relay) with one user who is an admin and owns a post and a
// conversation, so every JSON endpoint reaches its decoder and beyond.
type fuzzAPI struct {
	handler   http.Handler
	token     string
	endpoints []fuzzEndpoint
}

type fuzzEndpoint struct{ method, path string }

func (e fuzzEndpoint) String() string { return e.method + " " + e.path }

func newFuzzAPI(tb testing.TB) *fuzzAPI {
	tb.Helper()
	key, err := auth.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	pem, err := key.MarshalPrivatePEM()
	if err != nil {
		tb.Fatal(err)
	}
	admin := "fz_" + testrig.ID()[:8]
	db := testrig.PostgresURL(tb)
	cfg, err := api.ConfigFrom(roomy(map[string]string{
		"DATABASE_URL": db, "REDIS_URL": testrig.RedisURL(tb), "OUTBOX_RELAY": "false",
		auth.EnvPrivateKey: string(pem), "MEDIA_DIR": tb.TempDir(), "MEDIA_TMP_DIR": tb.TempDir(),
	}))
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := api.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	// Run sends the sign-up mail (the relay is off).
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); srv.Run(ctx) }()
	tb.Cleanup(func() { stop(); <-done; srv.Close() })
	a := &fuzzAPI{handler: srv.Handler()}

	must := func(want int, method, path, token, body string) map[string]any {
		tb.Helper()
		code, raw := a.serve(method, path, token, []byte(body))
		var out map[string]any
		if code != want || json.Unmarshal(raw, &out) != nil {
			tb.Fatalf("%s %s: %d %s, want %d", method, path, code, raw, want)
		}
		return out
	}
	const pw = "correct horse battery"
	signUp := func(name string) map[string]any {
		tb.Helper()
		must(http.StatusAccepted, "POST", "/v1/users", "", `{"username":"`+name+`","email":"`+name+`@example.com","password":"`+pw+`"}`)
		return must(http.StatusCreated, "POST", "/v1/users/verification", "", `{"code":"`+signUpCode(tb, name+"@example.com", 1)+`"}`)
	}
	owner := signUp(admin)
	pool, err := pgxpool.New(context.Background(), db)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	grantAdmin(tb, pool, id.UserID(owner["id"].(string)))
	peerName := "fzp_" + testrig.ID()[:8]
	peer := signUp(peerName)
	a.token = must(http.StatusOK, "POST", "/v1/sessions", "", `{"username":"`+admin+`","password":"`+pw+`"}`)["token"].(string)
	post := must(http.StatusCreated, "POST", "/v1/posts", a.token, `{"content":"fuzz target","visibility":"PUBLIC"}`)
	conv := must(http.StatusCreated, "POST", "/v1/conversations", a.token, `{"participant_ids":["`+peer["id"].(string)+`"]}`)

	// Path parameters are filled with the things the user owns, named by
	// the collection before them.
	ids := map[string]string{"users": owner["id"].(string), "posts": post["id"].(string),
		"queue": post["id"].(string), "conversations": conv["id"].(string)}
	param := regexp.MustCompile(`([a-z-]+)/\{[^}]+\}`)
	fill := func(pattern string) string {
		return param.ReplaceAllStringFunc(pattern, func(m string) string {
			coll, _, _ := strings.Cut(m, "/")
			v, ok := ids[coll]
			if !ok {
				v = uuid.NewString()
			}
			return coll + "/" + v
		})
	}

	// The JSON-body endpoints are found from the routes nova-api serves:
	// every POST, PUT or PATCH that answers a truncated JSON body with
	// invalid_json reads one. A new endpoint is fuzzed without editing this.
	for _, route := range srv.Routes() {
		method, pattern, ok := strings.Cut(route, " ")
		if !ok || (method != http.MethodPost && method != http.MethodPut && method != http.MethodPatch) {
			continue
		}
		path := fill(pattern)
		code, raw := a.serve(method, path, a.token, []byte(`{`))
		if code == http.StatusBadRequest && errorCodeOf(raw) == httpapi.CodeInvalidJSON {
			a.endpoints = append(a.endpoints, fuzzEndpoint{method, path})
		}
	}
	slices.SortFunc(a.endpoints, func(x, y fuzzEndpoint) int { return strings.Compare(x.String(), y.String()) })
	return a
}

func (a *fuzzAPI) serve(method, path, token string, body []byte) (int, []byte) {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func errorCodeOf(raw []byte) string {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &e) != nil || e.Error.Message == "" {
		return ""
	}
	return e.Error.Code
}

// The endpoints found from the routes are the ones whose handlers decode a
// JSON body: none is missed by the probe, none is taken for one by mistake.
func TestFuzzFindsEveryJSONEndpoint(t *testing.T) {
	a := newFuzzAPI(t)
	var got []string
	for _, e := range a.endpoints {
		got = append(got, e.method+" "+regexp.MustCompile(`[0-9a-f-]{36}`).ReplaceAllString(e.path, "{}"))
	}
	want := []string{
		"PATCH /v1/posts/{}", "PATCH /v1/users/me", "POST /v1/conversations", "POST /v1/conversations/{}/messages",
		"POST /v1/moderation/queue/{}/decision", "POST /v1/password-resets", "POST /v1/password-resets/confirmation",
		"POST /v1/posts", "POST /v1/posts/{}/comments", "POST /v1/sessions", "POST /v1/users", "POST /v1/users/verification", "PUT /v1/users/me/password",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("JSON-body endpoints found:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// FuzzJSONBodies sends arbitrary bytes as the JSON body of each of
// nova-api's JSON endpoints (which picks it), through the real handler
// chain on PostgreSQL and Redis, as a logged-in admin who owns the things
// the path names. Whatever the body: no panic and no 5xx; a 4xx carries a
// JSON error with a code and a message; a 2xx answer is JSON.
func FuzzJSONBodies(f *testing.F) {
	bodies := []string{
		`{"username":"ada_x1","email":"ada_x1@example.com","password":"correct horse battery"}`,
		`{"username":"ada_x1","password":"correct horse battery"}`,
		`{"display_name":"Ada","avatar_url":"https://example.com/a.png"}`,
		`{"content":"hello nova","visibility":"PUBLIC","tags":["go"],"type":"TEXT"}`,
		`{"content":"edited","tags":[],"visibility":"FOLLOWERS_ONLY"}`,
		`{"content":"a comment"}`,
		`{"participant_ids":[],"title":"t"}`,
		`{"client_message_id":"c1","type":"TEXT","content":"hi","media_ids":[]}`,
		`{"action":"allow","reason":"fine"}`,
		`{"content":"\u0000"}`,
		`{"content":"` + strings.Repeat("x", 70000) + `"}`,
		`{"tags":[` + strings.Repeat(`"t",`, 200) + `"t"]}`,
		`{"media_ids":["not-a-uuid"]}`,
		`[]`, `null`, `{} {}`, `{"content":1e999}`, `{"username":"\ud800"}`,
	}
	a := newFuzzAPI(f)
	if len(a.endpoints) == 0 {
		f.Fatal("nova-api serves no JSON endpoint: the probe is broken")
	}
	// Every body to every endpoint: each one's valid body is another's
	// unknown field.
	for i := range a.endpoints {
		for _, b := range bodies {
			f.Add(uint8(i), []byte(b))
		}
	}
	f.Fuzz(func(t *testing.T, sel uint8, body []byte) {
		ep := a.endpoints[int(sel)%len(a.endpoints)]
		code, raw := a.serve(ep.method, ep.path, a.token, body)
		switch {
		case code >= 500:
			t.Fatalf("%s answered %d %s to %q", ep, code, raw, body)
		case code >= 400:
			if errorCodeOf(raw) == "" {
				t.Fatalf("%s answered %d without a JSON error (code and message): %q", ep, code, raw)
			}
		case code >= 200 && code < 300:
			if len(raw) > 0 && !json.Valid(raw) {
				t.Fatalf("%s answered %d with non-JSON %q", ep, code, raw)
			}
		default:
			t.Fatalf("%s answered %d %s", ep, code, raw)
		}
	})
}

// fuzzBody has the shapes nova-api's request bodies use: strings, optional
// strings, lists, ids with their own text decoding, a number.
type fuzzBody struct {
	Content    string        `json:"content"`
	Visibility *string       `json:"visibility"`
	Tags       *[]string     `json:"tags"`
	MediaIDs   *[]id.MediaID `json:"media_ids"`
	UserIDs    []id.UserID   `json:"participant_ids"`
	Count      int32         `json:"count"`
}

// FuzzDecodeJSON is the decoding layer every JSON endpoint shares, without
// the database behind it, so it runs thousands of times faster than
// FuzzJSONBodies: any body either decodes or is an *httpapi.Error with a
// 4xx status, a code and a message, which WriteError renders as JSON.
func FuzzDecodeJSON(f *testing.F) {
	for _, b := range []string{`{"content":"x","visibility":"PUBLIC","tags":["a"],"media_ids":["0190f1c2-7a3b-7c4d-8e5f-0123456789ad"]}`,
		`{"participant_ids":["nope"]}`, `{"count":1e10}`, `{"count":"1"}`, `{"x":1}`, `{}{}`, `{`, ``, `[1]`} {
		f.Add("application/json", []byte(b))
	}
	f.Add("application/json; charset=latin1", []byte(`{}`))
	f.Add("text/plain", []byte(`{}`))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		var dst fuzzBody
		err := httpapi.DecodeJSON(rec, req, &dst, 4<<10)
		if err == nil {
			return
		}
		var he *httpapi.Error
		if !errors.As(err, &he) || he.Status < 400 || he.Status >= 500 || he.Code == "" || he.Message == "" {
			t.Fatalf("body %q (%s): error %v is not a 4xx *httpapi.Error", body, contentType, err)
		}
		httpapi.WriteError(rec, req, slog.New(slog.DiscardHandler), err)
		if rec.Code != he.Status || errorCodeOf(rec.Body.Bytes()) != he.Code {
			t.Fatalf("error %v written as %d %q", err, rec.Code, rec.Body.Bytes())
		}
	})
}

package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nova-social/nova/shared/api"
	"github.com/nova-social/nova/shared/api/openapi/openapitest"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/feed"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/testrig"
)

// The OpenAPI document (shared/api/openapi/openapi.yaml) held to the
// assembled nova-api: the same routes, and every operation's example sent
// to a running nova-api with its answer checked against the document.

func apiSpec(t testing.TB) *openapitest.Spec {
	t.Helper()
	s, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The document lists exactly the routes nova-api serves: a route added
// without documenting it, or one documented that nothing serves, fails
// here. The health probes are the function runtime's (their own test is
// in the root package).
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := api.ConfigFrom(roomy(map[string]string{"DATABASE_URL": testrig.PostgresURL(t), "REDIS_URL": testrig.RedisURL(t),
		"OUTBOX_RELAY": "false", auth.EnvPrivateKey: privatePEM(t, key), "MEDIA_DIR": t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	var served, documented []string
	for _, p := range srv.Routes() {
		served = append(served, openapitest.Pattern(p))
	}
	for _, op := range apiSpec(t).Operations() {
		if !strings.HasPrefix(op.Path, openapitest.RuntimePrefix) {
			documented = append(documented, op.Pattern())
		}
	}
	for _, p := range served {
		if !slices.Contains(documented, p) {
			t.Errorf("nova-api serves %q, which shared/api/openapi/openapi.yaml does not document", p)
		}
	}
	for _, p := range documented {
		if !slices.Contains(served, p) {
			t.Errorf("shared/api/openapi/openapi.yaml documents %q, which nova-api does not serve", p)
		}
	}
}

// The documented examples' values stand for these of the test's own.
const (
	exAda          = "0193f0c2-5e1a-7c3b-9d4e-1f2a3b4c5d6e"
	exGrace        = "0193f0c2-7a10-7d2e-8f41-2b3c4d5e6f70"
	exPost         = "0193f0c3-1b2c-7d3e-8f4a-5b6c7d8e9f01"
	exConversation = "0193f0c4-4e5f-7a6b-9c7d-8e9f0a1b2c34"
	exNotification = "0193f0c5-6a7b-7c8d-9e9f-0a1b2c3d4e56"
	exSession      = "0193f0c5-7b8c-7d9e-8fa0-1b2c3d4e5f67"
	exCode         = "Xq3v9dJw0kq2vYb8tR1mZc5nH7pL4sA6eF2gU0iWxYo"
)

// exchange is one operation's example made real: who sends it, what
// replaces the example's values, and a body or parameters of its own
// where an example cannot be sent as it is.
type exchange struct {
	token  string
	subs   map[string]string
	params map[string]string
	body   *request
}

// TestOpenAPIExamples sends every operation's example to nova-api (the
// ids and tokens made real from the security suite's fixtures) and checks
// the answer, its status the example's, against the document: status,
// headers, body schema. A list is read a page of one at a time, and the
// second page through the first's cursor is checked too. Every operation
// that takes a token is also sent without one: a documented 401.
func TestOpenAPIExamples(t *testing.T) {
	r := newSecRig(t, nil)
	s := apiSpec(t)
	o, grace, adm := r.people[owner], r.people[other], r.people[admin]
	ctx := context.Background()

	// What the event-fed stores would hold (two posts of the friend's in
	// the owner's feed, two posts in the search index), and a second
	// message and two group invitations from the other user, so that
	// every list has a second page and invitations are there to answer.
	store, err := feed.NewStore(testrig.Redis(t), feed.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Follow(ctx, o.id.String(), r.friend.id.String()); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		p := r.must(s201, "POST", "/v1/posts", r.friend.token, map[string]any{"content": fmt.Sprintf("hello from a friend %d", i), "media_ids": []string{}})
		at, _ := time.Parse(time.RFC3339Nano, p["created_at"].(string))
		if _, err := store.PostCreated(ctx, post.Summary{ID: p["id"].(string), AuthorID: r.friend.id.String(), Content: p["content"].(string),
			Type: post.Text, Visibility: post.Public, Tags: []string{}, Media: []post.Media{}, CreatedAt: at, UpdatedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	hello := r.must(s201, "POST", "/v1/posts", o.token, map[string]any{"content": "hello again", "media_ids": []string{}})["id"].(string)
	for _, id := range []string{r.publicPost, hello} {
		if _, err := r.pool.Exec(ctx, `INSERT INTO search_posts (post_id, author_id, content, visibility, created_at, updated_at)
			SELECT id, author_id, content, visibility, created_at, updated_at FROM posts WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
	}
	r.must(s201, "POST", "/v1/conversations/"+r.conversation+"/messages", o.token,
		map[string]any{"client_message_id": "seed-2", "type": "TEXT", "content": "and another"})
	invitation := func() string {
		return r.must(s201, "POST", "/v1/conversations", grace.token,
			map[string]any{"participant_ids": []string{o.id.String()}, "title": "club " + testrig.ID()[:4]})["id"].(string)
	}
	toAccept, toDecline := invitation(), invitation()
	mediaQuery, _ := url.ParseQuery(r.mediaURL[strings.Index(r.mediaURL, "?")+1:])

	subs := map[string]string{exAda: o.id.String(), exGrace: grace.id.String(), exPost: r.publicPost,
		exConversation: r.conversation, exNotification: r.notice, exSession: r.spareSession}
	fresh := func() person { return r.register("ex_" + testrig.ID()[:10]) }
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range subs {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	prepare := map[string]func() exchange{
		"signUp": func() exchange {
			n := "ex_" + testrig.ID()[:10]
			return exchange{subs: with(map[string]string{"ada_lovelace": n, "ada@example.com": n + "@example.com"})}
		},
		"verifySignUp": func() exchange {
			n := "ex_" + testrig.ID()[:10]
			r.must(s202, "POST", "/v1/users", "", map[string]any{"username": n, "email": n + "@example.com", "password": password})
			return exchange{subs: with(map[string]string{exCode: signUpCode(t, n+"@example.com", 1)})}
		},
		"requestPasswordReset": func() exchange { return exchange{subs: with(map[string]string{"ada@example.com": o.email})} },
		"confirmPasswordReset": func() exchange {
			p := fresh()
			r.must(s202, "POST", "/v1/password-resets", "", map[string]any{"email": p.email})
			return exchange{subs: with(map[string]string{exCode: signUpCode(t, p.email, 2)})}
		},
		"login":          func() exchange { return exchange{subs: with(map[string]string{"ada_lovelace": o.name})} },
		"changePassword": func() exchange { return exchange{token: fresh().token, subs: subs} },
		"deleteAccount":  func() exchange { return exchange{token: fresh().token, subs: subs} },
		"logout":         func() exchange { return exchange{token: r.login(o.name), subs: subs} },
		"listBlocks": func() exchange {
			for range 2 {
				r.must(s204, "POST", "/v1/users/"+fresh().id.String()+"/block", o.token, nil)
			}
			return exchange{subs: subs}
		},
		"listComments": func() exchange {
			for i := range 2 {
				r.must(s201, "POST", "/v1/posts/"+r.publicPost+"/comments", grace.token, map[string]any{"content": fmt.Sprint("nice ", i)})
			}
			return exchange{subs: subs}
		},
		"deletePost": func() exchange {
			p := r.must(s201, "POST", "/v1/posts", o.token, map[string]any{"content": "to be deleted", "media_ids": []string{}})
			return exchange{subs: with(map[string]string{exPost: p["id"].(string)})}
		},
		"uploadMedia": func() exchange {
			q := uploadRequest(r.publicPost)
			return exchange{subs: subs, body: &q}
		},
		"getMediaFile": func() exchange {
			return exchange{subs: subs, params: map[string]string{"key": r.mediaKey,
				"expires": mediaQuery.Get("expires"), "signature": mediaQuery.Get("signature")}}
		},
		"acceptConversation":  func() exchange { return exchange{subs: with(map[string]string{exConversation: toAccept})} },
		"declineConversation": func() exchange { return exchange{subs: with(map[string]string{exConversation: toDecline})} },
		"getAnalyticsSummary": func() exchange { return exchange{token: adm.token, subs: subs} },
		"getAnalyticsMetrics": func() exchange { return exchange{token: adm.token, subs: subs} },
		"getModerationQueue":  func() exchange { return exchange{token: adm.token, subs: subs} },
		"decideModeration": func() exchange {
			return exchange{token: adm.token, subs: with(map[string]string{exPost: r.queuedPost})}
		},
	}

	walked := 0
	for _, op := range s.Operations() {
		if strings.HasPrefix(op.Path, openapitest.RuntimePrefix) {
			continue
		}
		x := exchange{subs: subs}
		if f, ok := prepare[op.ID]; ok {
			x = f()
		}
		if x.token == "" && !op.Anonymous {
			x.token = o.token
		}
		q, paged := exampleRequest(t, op, x)
		code, hdr, body := r.send(q, x.token)
		if code != op.ExampleStatus {
			t.Errorf("%s (%s %s): %d %.300s, the document's example answers %d", op.ID, q.method, q.path, code, body, op.ExampleStatus)
			continue
		}
		if err := op.Check(code, hdr, body); err != nil {
			t.Errorf("%s: %v", op.ID, err)
		}
		walked++
		// The next page through the cursor the first one gave.
		if paged {
			var page struct {
				Items      []any   `json:"items"`
				NextCursor *string `json:"next_cursor"`
			}
			if err := json.Unmarshal(body, &page); err != nil {
				t.Fatalf("%s: %v", op.ID, err)
			}
			if len(page.Items) != 1 {
				t.Errorf("%s: a page of one holds %d items", op.ID, len(page.Items))
			}
			if page.NextCursor != nil {
				next := q
				next.path += "&cursor=" + url.QueryEscape(*page.NextCursor)
				code, hdr, body := r.send(next, x.token)
				if err := op.Check(code, hdr, body); err != nil || code != op.ExampleStatus {
					t.Errorf("%s, the second page: %d: %v", op.ID, code, err)
				}
			}
		}
		if !op.Anonymous {
			code, hdr, body := r.send(q, "")
			if code != http.StatusUnauthorized {
				t.Errorf("%s without a token: %d, want 401", op.ID, code)
			}
			if err := op.Check(code, hdr, body); err != nil {
				t.Errorf("%s without a token: %v", op.ID, err)
			}
		}
	}
	if walked < 40 {
		t.Errorf("only %d operations answered as their examples say", walked)
	}
}

// exampleRequest builds the request of op's example: the path and query
// parameters' examples and the body's, the example values replaced by
// x.subs. A list (one with a cursor) is asked for a page of one; paged
// says so.
func exampleRequest(t *testing.T, op *openapitest.Operation, x exchange) (q request, paged bool) {
	t.Helper()
	sub := func(v string) string {
		if s, ok := x.subs[v]; ok {
			return s
		}
		return v
	}
	path := op.Path
	query := url.Values{}
	for _, p := range op.Params {
		v, ok := x.params[p.Name]
		if !ok {
			v = sub(fmt.Sprint(p.Example))
		}
		switch {
		case p.In == "path":
			path = strings.ReplaceAll(path, "{"+p.Name+"}", v)
		case p.In == "query" && p.Name == "cursor":
			paged = true
		case p.In == "query" && p.Name == "limit":
		case p.In == "query":
			query.Set(p.Name, v)
		}
	}
	if paged {
		query.Set("limit", "1")
	}
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	q = request{method: op.Method, path: path}
	switch {
	case x.body != nil:
		q.body, q.contentType = x.body.body, x.body.contentType
	case op.RequestType == "application/json":
		q.body = jsonBody(substitute(op.RequestExample, sub))
	case op.RequestType != "":
		t.Fatalf("%s: a %s body needs its own in the test's prepare table", op.ID, op.RequestType)
	}
	return q, paged
}

// substitute replaces the string values of a JSON example.
func substitute(v any, sub func(string) string) any {
	switch v := v.(type) {
	case string:
		return sub(v)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = substitute(x, sub)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			out[k] = substitute(x, sub)
		}
		return out
	}
	return v
}

// A refused request is answered as the document's 429 says, with
// Retry-After and the RateLimit headers, on an anonymous route (the
// address's login budget) and an authenticated one (the account's read
// budget).
func TestOpenAPIRateLimitedAnswers(t *testing.T) {
	a := newLimitedAPI(t, map[string]string{"RATE_LIMIT_LOGIN": "2/1h burst 2", "RATE_LIMIT_READ": "1/1h burst 1"})
	s := apiSpec(t)
	from := address()
	name := "limited_" + shortID()
	if r := a.signUp(from, name, password); r.code != http.StatusCreated {
		t.Fatalf("register: %d %v", r.code, r.body)
	}
	send := func(method, path, token string, body any) (int, http.Header, []byte) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(jsonBody(body))
		}
		req, err := http.NewRequest(method, a.base+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("X-Forwarded-For", from)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, raw
	}
	check := func(op *openapitest.Operation, want, code int, hdr http.Header, body []byte) {
		t.Helper()
		if code != want {
			t.Fatalf("%s: %d %s, want %d", op.ID, code, body, want)
		}
		if err := op.Check(code, hdr, body); err != nil {
			t.Error(err)
		}
	}
	login := s.Lookup("POST", "/v1/sessions")
	code, hdr, body := send("POST", "/v1/sessions", "", map[string]any{"username": name, "password": password})
	check(login, http.StatusOK, code, hdr, body)
	var tok struct {
		Token string `json:"token"`
	}
	_ = json.Unmarshal(body, &tok)
	code, hdr, body = send("POST", "/v1/sessions", "", map[string]any{"username": name, "password": "a wrong horse battery"})
	check(login, http.StatusUnauthorized, code, hdr, body)
	code, hdr, body = send("POST", "/v1/sessions", "", map[string]any{"username": name, "password": password})
	check(login, http.StatusTooManyRequests, code, hdr, body)

	me := s.Lookup("GET", "/v1/users/me")
	code, hdr, body = send("GET", "/v1/users/me", tok.Token, nil)
	check(me, http.StatusOK, code, hdr, body)
	code, hdr, body = send("GET", "/v1/users/me", tok.Token, nil)
	check(me, http.StatusTooManyRequests, code, hdr, body)
}

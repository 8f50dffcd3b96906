package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nova-social/nova/shared/api"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/testrig"
)

// rig is an assembled nova-api on a fresh database, the test Redis and an
// Kafka broker of its own, with its relay running.
type rig struct {
	t     *testing.T
	srv   *httptest.Server
	kafka *testrig.KafkaBroker
}

func newRig(t *testing.T) *rig {
	t.Helper()
	k := testrig.Kafka(t)
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pem, err := key.MarshalPrivatePEM()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := api.ConfigFrom(roomy(map[string]string{
		"DATABASE_URL":         testrig.PostgresURL(t),
		"REDIS_URL":            testrig.RedisURL(t),
		"KAFKA_BROKERS":        strings.Join(k.ListenAddrs(), ","),
		"NOVA_JWT_PRIVATE_KEY": string(pem),
		"MEDIA_DIR":            t.TempDir(),
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := api.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; s.Close() })
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &rig{t: t, srv: srv, kafka: k}
}

func (r *rig) do(method, path, token string, body any) (int, map[string]any) {
	r.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, r.srv.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 && json.Unmarshal(raw, &out) != nil {
		r.t.Fatalf("%s %s answered non-JSON %q", method, path, raw)
	}
	return resp.StatusCode, out
}

func errorCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestUnknownRoutesAndMethodsAnswerJSON(t *testing.T) {
	r := newRig(t)
	if code, body := r.do("GET", "/v1/nothing-here", "", nil); code != http.StatusNotFound || errorCode(body) == "" {
		t.Fatalf("unknown path: %d %v", code, body)
	}
	code, body := r.do("PUT", "/v1/users", "", map[string]any{})
	if code != http.StatusMethodNotAllowed || errorCode(body) == "" {
		t.Fatalf("wrong method: %d %v", code, body)
	}
	if code, _ := r.do("GET", "/v1/.well-known/jwks.json", "", nil); code != http.StatusOK {
		t.Fatalf("jwks: %d", code)
	}
	if code, body := r.do("GET", "/v1/feed", "", nil); code != http.StatusUnauthorized || errorCode(body) == "" {
		t.Fatalf("feed without a token: %d %v", code, body)
	}
}

// A post made through the API reaches content-events through the outbox
// relay, keyed by its author.
func TestPostReachesKafkaThroughTheRelay(t *testing.T) {
	r := newRig(t)
	email := testrig.ID() + "@example.com"
	if code, body := r.do("POST", "/v1/users", "", map[string]any{"username": "ada_" + testrig.ID()[:6], "email": email, "password": "correct horse battery"}); code != http.StatusAccepted {
		t.Fatalf("sign up: %d %v", code, body)
	}
	code, user := r.do("POST", "/v1/users/verification", "", verification(t, email))
	if code != http.StatusCreated {
		t.Fatalf("register: %d %v", code, user)
	}
	code, sess := r.do("POST", "/v1/sessions", "", map[string]any{"username": user["username"], "password": "correct horse battery"})
	if code != http.StatusOK {
		t.Fatalf("login: %d %v", code, sess)
	}
	token := sess["token"].(string)
	code, post := r.do("POST", "/v1/posts", token, map[string]any{"content": "hello nova", "visibility": "PUBLIC", "tags": []string{"go"}})
	if code != http.StatusCreated {
		t.Fatalf("post: %d %v", code, post)
	}

	c := r.kafka.Consume(t, catalog.ContentEvents)
	for n := 1; ; n++ {
		rec := c.Until(t, n, 20*time.Second)[n-1]
		for _, h := range rec.Headers {
			if string(h.Key) == "ce_subject" && string(h.Value) == post["id"] {
				if string(rec.Key) != user["id"] {
					t.Fatalf("PostCreated keyed %q, want the author %v", rec.Key, user["id"])
				}
				return
			}
		}
	}
}

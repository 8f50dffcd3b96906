package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/api"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/auth/authtest"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// startAPI runs a nova-api replica with env on top of the test stores'
// addresses (databaseURL shared between replicas), without a relay: token
// checks need no Kafka.
func startAPI(t testing.TB, databaseURL string, env map[string]string) string {
	t.Helper()
	full := roomy(map[string]string{"DATABASE_URL": databaseURL, "REDIS_URL": testrig.RedisURL(t), "OUTBOX_RELAY": "false"})
	for k, v := range env {
		full[k] = v
	}
	cfg, err := api.ConfigFrom(full)
	if err != nil {
		t.Fatal(err)
	}
	s, err := api.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	// Run sends the sign-up mail and keeps the sessions' marks (the
	// outbox relay is off).
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done; s.Close() })
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

func privatePEM(t testing.TB, k auth.Key) string {
	t.Helper()
	b, err := k.MarshalPrivatePEM()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func publicJWKS(t *testing.T, keys ...auth.Key) string {
	t.Helper()
	doc := auth.JWKS{}
	for _, k := range keys {
		doc.Keys = append(doc.Keys, k.JWK())
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// register signs up over HTTP, takes back the mailed code and returns the
// account's id.
func register(t *testing.T, base, name string) id.UserID {
	t.Helper()
	body := `{"username":"` + name + `","email":"` + name + `@example.com","password":"correct horse battery"}`
	resp, err := http.Post(base+"/v1/users", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("sign up %s: %d", name, resp.StatusCode)
	}
	resp, err = http.Post(base+"/v1/users/verification", "application/json",
		strings.NewReader(`{"code":"`+signUpCode(t, name+"@example.com", 1)+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var u struct {
		ID id.UserID `json:"id"`
	}
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&u) != nil {
		t.Fatalf("register %s: %d", name, resp.StatusCode)
	}
	return u.ID
}

// authorized asks a protected endpoint with token and returns the status
// and the WWW-Authenticate challenge.
func authorized(t *testing.T, base, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/v1/notifications", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
}

// Every hostile token is refused by nova-api with 401 invalid_token, while
// the same key's honest token is served.
func TestAPIRefusesHostileTokens(t *testing.T) {
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	db := testrig.PostgresURL(t)
	base := startAPI(t, db, map[string]string{auth.EnvPrivateKey: privatePEM(t, key)})
	sub := register(t, base, "tok_"+testrig.ID()[:8])
	f, err := authtest.NewForger(key, sub, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The control token's session, as a login would have stored it; the
	// hostile ones share its jti, so none is refused for a missing session.
	pool, err := pgxpool.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(context.Background(), `INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ($1, $2, now(), $3)`,
		f.Session(), string(sub), f.Expiry()); err != nil {
		t.Fatal(err)
	}
	if code, _ := authorized(t, base, f.Valid()); code != http.StatusOK {
		t.Fatalf("the control token answered %d", code)
	}
	cases, err := f.Cases()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			code, challenge := authorized(t, base, c.Token)
			if code != http.StatusUnauthorized || !strings.Contains(challenge, `error="invalid_token"`) {
				t.Fatalf("answered %d with challenge %q, want 401 invalid_token (%v)", code, challenge, c.Kind)
			}
		})
	}
}

type session struct{ token, kid string }

func login(t *testing.T, base, username string) session {
	t.Helper()
	body := `{"username":"` + username + `","password":"correct horse battery"}`
	resp, err := http.Post(base+"/v1/sessions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil {
		t.Fatalf("login at %s: %d", base, resp.StatusCode)
	}
	h, _, _ := strings.Cut(out.Token, ".")
	raw, err := authtestDecode(h)
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &hdr); err != nil {
		t.Fatal(err)
	}
	return session{token: out.Token, kid: hdr.Kid}
}

func jwksKids(t *testing.T, base string) []string {
	t.Helper()
	resp, err := http.Get(base + "/v1/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc auth.JWKS
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range doc.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// Key rotation as auth's package doc describes it, replica by replica over
// one database: the new key is published ahead, then signs while the old
// one still verifies — old and new replicas run side by side and each
// accepts the other's tokens, so a rolling deploy refuses no one — and
// once the old key is retired its tokens are refused.
func TestAPIKeyRotationWithoutDowntime(t *testing.T) {
	oldKey, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	newKey, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	db := testrig.PostgresURL(t)

	// Step 1: the old key signs; the new one is published ahead of use.
	before := startAPI(t, db, map[string]string{auth.EnvPrivateKey: privatePEM(t, oldKey), auth.EnvJWKS: publicJWKS(t, newKey)})
	name := "rot_" + testrig.ID()[:8]
	register(t, before, name)
	old := login(t, before, name)
	if old.kid != oldKey.ID {
		t.Fatalf("step 1 signed with %s, want the old key %s", old.kid, oldKey.ID)
	}

	// Step 2: the new key signs and the old one only verifies. Both
	// generations of replica serve at once.
	after := startAPI(t, db, map[string]string{auth.EnvPrivateKey: privatePEM(t, newKey), auth.EnvJWKS: publicJWKS(t, oldKey)})
	fresh := login(t, after, name)
	if fresh.kid != newKey.ID {
		t.Fatalf("step 2 signed with %s, want the new key %s", fresh.kid, newKey.ID)
	}
	if kids := jwksKids(t, after); len(kids) != 2 || kids[0] != newKey.ID || kids[1] != oldKey.ID {
		t.Fatalf("JWKS during rotation lists %v, want the new then the old key", kids)
	}
	for _, replica := range []string{before, after} {
		for _, s := range []session{old, fresh} {
			if code, ch := authorized(t, replica, s.token); code != http.StatusOK {
				t.Fatalf("during rotation a token of %s answered %d (%s)", s.kid, code, ch)
			}
		}
	}

	// Step 3: the old key is retired once its tokens could have expired.
	retired := startAPI(t, db, map[string]string{auth.EnvPrivateKey: privatePEM(t, newKey)})
	if code, _ := authorized(t, retired, fresh.token); code != http.StatusOK {
		t.Fatalf("after retirement the new key's token answered %d", code)
	}
	code, challenge := authorized(t, retired, old.token)
	if code != http.StatusUnauthorized || !strings.Contains(challenge, "unknown key") {
		t.Fatalf("after retirement the old key's token answered %d %q, want 401 for an unknown key", code, challenge)
	}
	if kids := jwksKids(t, retired); len(kids) != 1 || kids[0] != newKey.ID {
		t.Fatalf("JWKS after retirement lists %v", kids)
	}
}

func authtestDecode(seg string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(seg) }

package api_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/testrig"
)

// limitedAPI is a nova-api with tight limits, and its database.
type limitedAPI struct {
	t    testing.TB
	base string
	pool *pgxpool.Pool
}

func newLimitedAPI(t testing.TB, env map[string]string) *limitedAPI {
	t.Helper()
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	env[auth.EnvPrivateKey] = privatePEM(t, key)
	db := testrig.PostgresURL(t)
	base := startAPI(t, db, env)
	pool, err := pgxpool.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &limitedAPI{t: t, base: base, pool: pool}
}

func shortID() string { return testrig.ID()[:6] }

// signUp signs name up from the address from and takes back the mailed
// code from there too; it answers the sign-up's refusal, or the
// verification's answer.
func (a *limitedAPI) signUp(from, name, password string) answer {
	a.t.Helper()
	email := name + "@example.com"
	r := a.do(from, "POST", "/v1/users", "", map[string]any{"username": name, "email": email, "password": password})
	if r.code != http.StatusAccepted {
		return r
	}
	return a.do(from, "POST", "/v1/users/verification", "", verification(a.t, email))
}

// address is a client address of this test's own (the limits outlive a
// test run in Redis); nova-api, behind its trusted loopback, takes it from
// X-Forwarded-For as it would from an ingress.
func address() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	copy(b, []byte{0x20, 0x01, 0x0d, 0xb8})
	return netip.AddrFrom16([16]byte(b)).String()
}

type answer struct {
	code   int
	header http.Header
	body   map[string]any
}

func (a *limitedAPI) do(from, method, path, token string, body any) answer {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", from)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return answer{resp.StatusCode, resp.Header, out}
}

// refused checks a 429 as a client must read it.
func refused(t testing.TB, what string, a answer, policy string) {
	t.Helper()
	if a.code != http.StatusTooManyRequests {
		t.Fatalf("%s: %d %v, want 429", what, a.code, a.body)
	}
	if s, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("%s: Retry-After %q", what, a.header.Get("Retry-After"))
	}
	if !strings.HasPrefix(a.header.Get("RateLimit-Policy"), strconv.Quote(policy)+";q=") ||
		!strings.HasPrefix(a.header.Get("RateLimit"), strconv.Quote(policy)+";r=0;t=") {
		t.Errorf("%s: RateLimit-Policy %q, RateLimit %q; want the %s policy spent", what,
			a.header.Get("RateLimit-Policy"), a.header.Get("RateLimit"), policy)
	}
	if e, _ := a.body["error"].(map[string]any); e["code"] != "rate_limited" {
		t.Errorf("%s: body %v", what, a.body)
	}
}

// "200 wrong passwords in 27 s with no lockout or Retry-After": a few
// guesses from one address, then 429 even for the right password; guesses
// spread over addresses spend the account's budget, after which only an
// address the owner logged in from may try, so the owner is never locked
// out.
func TestPasswordGuessingIsThrottled(t *testing.T) {
	a := newLimitedAPI(t, map[string]string{
		"RATE_LIMIT_LOGIN_FAILURES": "3/1h burst 3", "RATE_LIMIT_ACCOUNT_FAILURES": "6/1h burst 6",
	})
	name := "victim_" + testrig.ID()[:8]
	const pw = "correct horse battery"
	home, attacker := address(), address()
	if r := a.signUp(home, name, pw); r.code != http.StatusCreated {
		t.Fatalf("register: %d %v", r.code, r.body)
	}
	login := func(from, password string) answer {
		return a.do(from, "POST", "/v1/sessions", "", map[string]any{"username": name, "password": password})
	}
	if r := login(home, pw); r.code != http.StatusOK {
		t.Fatalf("the owner's login: %d %v", r.code, r.body)
	}
	for i := range 3 {
		if r := login(attacker, fmt.Sprintf("guess %d horse", i)); r.code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d %v, want 401", i+1, r.code, r.body)
		}
	}
	refused(t, "a fourth guess from the same address", login(attacker, "guess 4 horse"), "login-failures")
	refused(t, "the right password from the guessing address", login(attacker, pw), "login-failures")

	// Three more addresses, one guess each... and one each more: the
	// account's six failures are spent.
	for i := range 3 {
		if r := login(address(), "spread guess horse"); r.code != http.StatusUnauthorized {
			t.Fatalf("spread guess %d: %d %v", i+1, r.code, r.body)
		}
	}
	refused(t, "a fresh address once the account's budget is spent", login(address(), pw), "account-failures")
	if r := login(home, pw); r.code != http.StatusOK {
		t.Errorf("the owner from their usual address: %d %v, want 200", r.code, r.body)
	}
	// Another account is not touched by the guesses at this one.
	other := "bystander_" + testrig.ID()[:8]
	a.signUp(home, other, pw)
	if r := a.do(attacker, "POST", "/v1/sessions", "", map[string]any{"username": other, "password": pw}); r.code != http.StatusOK {
		t.Errorf("another account from the attacker's address: %d %v", r.code, r.body)
	}
}

// "one account created 2,000 posts in 5.6 s": writes past the account's
// budget are refused with 429, write nothing, and leave reads alone.
func TestWriteFloodIsRefused(t *testing.T) {
	a := newLimitedAPI(t, map[string]string{"RATE_LIMIT_WRITE": "5/1m burst 5"})
	from := address()
	name := "flood_" + testrig.ID()[:8]
	a.signUp(from, name, "correct horse battery")
	tok, _ := a.do(from, "POST", "/v1/sessions", "", map[string]any{"username": name, "password": "correct horse battery"}).body["token"].(string)
	for i := range 5 {
		r := a.do(from, "POST", "/v1/posts", tok, map[string]any{"content": fmt.Sprintf("post %d", i), "visibility": "PUBLIC"})
		if r.code != http.StatusCreated {
			t.Fatalf("post %d: %d %v", i+1, r.code, r.body)
		}
		if !strings.HasPrefix(r.header.Get("RateLimit-Policy"), `"write";q=5;w=60`) {
			t.Errorf("post %d: RateLimit-Policy %q", i+1, r.header.Get("RateLimit-Policy"))
		}
	}
	refused(t, "the sixth post", a.do(from, "POST", "/v1/posts", tok, map[string]any{"content": "one too many", "visibility": "PUBLIC"}), "write")
	var n int
	if err := a.pool.QueryRow(context.Background(), `SELECT count(*) FROM posts p JOIN users u ON u.id = p.author_id WHERE u.username = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Errorf("%d posts stored, want the 5 accepted", n)
	}
	if r := a.do(from, "GET", "/v1/feed", tok, nil); r.code != http.StatusOK || !strings.HasPrefix(r.header.Get("RateLimit-Policy"), `"read";`) {
		t.Errorf("a read after the write budget is spent: %d %q", r.code, r.header.Get("RateLimit-Policy"))
	}
}

// Registrations are bounded per address: accounts cannot be minted to
// multiply the per-account budgets.
func TestRegistrationFloodIsRefused(t *testing.T) {
	a := newLimitedAPI(t, map[string]string{"RATE_LIMIT_REGISTER": "3/1h burst 3"})
	from := address()
	register := func(i int) answer {
		name := fmt.Sprintf("mint%d_%s", i, testrig.ID()[:8])
		return a.signUp(from, name, "correct horse battery")
	}
	for i := range 3 {
		if r := register(i); r.code != http.StatusCreated {
			t.Fatalf("registration %d: %d %v", i+1, r.code, r.body)
		}
	}
	refused(t, "a fourth registration from one address", register(3), "register")
	if r := a.signUp(address(), "else_"+testrig.ID()[:8], "correct horse battery"); r.code != http.StatusCreated {
		t.Errorf("a registration from another address: %d %v", r.code, r.body)
	}
	var n int
	if err := a.pool.QueryRow(context.Background(), `SELECT count(*) FROM users WHERE username LIKE 'mint%'`).Scan(&n); err != nil || n != 3 {
		t.Errorf("%d minted accounts stored (%v), want 3", n, err)
	}
}

package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nova-social/nova/shared/auth"
)

// jwksServer serves whatever key set it currently holds, and counts hits.
type jwksServer struct {
	mu     sync.Mutex
	ks     *auth.KeySet
	status int
	hits   atomic.Int32
	*httptest.Server
}

func newJWKSServer(t *testing.T, ks *auth.KeySet) *jwksServer {
	s := &jwksServer{ks: ks, status: 200}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		ks, status := s.ks, s.status
		s.mu.Unlock()
		if status != 200 {
			w.WriteHeader(status)
			return
		}
		auth.JWKSHandler(ks).ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(ks *auth.KeySet, status int) {
	s.mu.Lock()
	s.ks, s.status = ks, status
	s.mu.Unlock()
}

// fakeClock is advanced by the test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestRemoteKeysLearnsRotatedKey(t *testing.T) {
	ctx := context.Background()
	_, oldKey := seedKey(1)
	_, newKey := seedKey(2)
	before := mustKeySet(t, oldKey)
	srv := newJWKSServer(t, before)
	clk := &fakeClock{t: now}
	remote, err := auth.NewRemoteKeys(auth.RemoteConfig{URL: srv.URL, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := auth.NewVerifier(remote, auth.VerifierConfig{Now: clk.Now})
	oldTok, _, _ := mustSigner(t, before).Issue(alicePrincipal)
	for range 3 {
		if _, err := v.Verify(ctx, oldTok); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches for three verifications with a known kid, want 1", n)
	}

	// The issuer rotates; the verifier has not refreshed yet.
	rotated, _ := before.Rotate(newKey)
	srv.set(rotated, 200)
	newTok, _, _ := mustSigner(t, rotated).Issue(alicePrincipal)
	// Within MinRefresh of the last fetch an unknown kid is not refetched…
	if _, err := v.Verify(ctx, newTok); !errors.Is(err, auth.ErrUnknownKey) {
		t.Fatalf("unknown kid within MinRefresh: %v", err)
	}
	// …and a flood of made-up kids costs no fetch either.
	_, stranger := seedKey(3)
	strangerTok, _, _ := mustSigner(t, mustKeySet(t, stranger)).Issue(alicePrincipal)
	for range 10 {
		_, _ = v.Verify(ctx, strangerTok)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches, want still 1", n)
	}
	// After MinRefresh the unknown kid triggers one fetch, and both verify.
	clk.Add(31 * time.Second)
	if _, err := v.Verify(ctx, newTok); err != nil {
		t.Fatalf("new token after MinRefresh: %v", err)
	}
	if _, err := v.Verify(ctx, oldTok); err != nil {
		t.Fatalf("old token after rotation: %v", err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}

	// The JWKS endpoint fails: the last good set keeps serving, even past
	// Refresh.
	srv.set(rotated, 503)
	clk.Add(10 * time.Minute)
	if _, err := v.Verify(ctx, newTok); err != nil {
		t.Fatalf("with the endpoint down, a cached key: %v", err)
	}
}

func TestRemoteKeysUnavailable(t *testing.T) {
	_, k := seedKey(1)
	srv := newJWKSServer(t, mustKeySet(t, k))
	srv.set(nil, 500)
	remote, _ := auth.NewRemoteKeys(auth.RemoteConfig{URL: srv.URL, Now: clock})
	v, _ := auth.NewVerifier(remote, auth.VerifierConfig{Now: clock})
	tok, _, _ := mustSigner(t, mustKeySet(t, k)).Issue(alicePrincipal)
	_, err := v.Verify(context.Background(), tok)
	if !errors.Is(err, auth.ErrKeysUnavailable) || errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("no keys obtainable: %v; want ErrKeysUnavailable and not ErrInvalidToken", err)
	}
	if err := remote.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh against a failing endpoint succeeded")
	}
}

func TestRemoteConfigValidate(t *testing.T) {
	for name, c := range map[string]auth.RemoteConfig{
		"no url":         {},
		"file url":       {URL: "file:///etc/jwks.json"},
		"min > refresh":  {URL: "http://x/jwks", Refresh: time.Second, MinRefresh: time.Minute},
		"tiny max bytes": {URL: "http://x/jwks", MaxBytes: 10},
	} {
		if _, err := auth.NewRemoteKeys(c); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

package sender_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nova-social/nova/shared/event/sender"
	"github.com/nova-social/nova/shared/event/sender/issuer"
)

const ns = "nova"

var feedSource = sender.Ref{Kind: sender.KindKafkaSource, Name: "feed-fanout"}

// rig is an issuer served over HTTP, as a cluster's API server serves its
// discovery document and keys, counting the requests it gets.
type rig struct {
	iss      *issuer.Issuer
	url      string
	requests atomic.Int64
	down     atomic.Bool
}

func newRig(t testing.TB) *rig {
	t.Helper()
	r := &rig{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		if r.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		r.iss.Handler().ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	var err error
	if r.iss, err = issuer.New(srv.URL); err != nil {
		t.Fatal(err)
	}
	r.url = srv.URL
	return r
}

func (r *rig) verifier(t testing.TB, mod ...func(*sender.Config)) *sender.Verifier {
	t.Helper()
	cfg := sender.Config{DiscoveryURL: r.url, Audience: "nova/feed-fanout", Namespace: ns, Senders: []sender.Ref{feedSource}}
	for _, m := range mod {
		m(&cfg)
	}
	v, err := sender.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (r *rig) mint(t testing.TB, ns, sa, aud string, ttl time.Duration) string {
	t.Helper()
	tok, _, err := r.iss.Mint(ns, sa, aud, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerify(t *testing.T) {
	r := newRig(t)
	v := r.verifier(t)
	ctx := context.Background()
	good := r.mint(t, ns, feedSource.ServiceAccount(), "nova/feed-fanout", time.Hour)
	id, err := v.Verify(ctx, good)
	if err != nil {
		t.Fatalf("a token of the admitted sender: %v", err)
	}
	if id.Sender != feedSource || id.Subject != feedSource.Subject(ns) {
		t.Fatalf("identity %+v", id)
	}

	other := newRig(t) // another issuer: same claims, a key the verifier never saw
	now := time.Now()
	expired, _, err := r.iss.Sign(issuer.Claims{Issuer: r.url, Subject: feedSource.Subject(ns), Audience: []string{"nova/feed-fanout"},
		Expiry: now.Add(-time.Minute).Unix(), IssuedAt: now.Add(-time.Hour).Unix()}, now)
	if err != nil {
		t.Fatal(err)
	}
	wrongIss, _, err := r.iss.Sign(issuer.Claims{Issuer: "https://evil.example", Subject: feedSource.Subject(ns), Audience: []string{"nova/feed-fanout"},
		Expiry: now.Add(time.Hour).Unix(), IssuedAt: now.Unix()}, now)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	for _, c := range []struct {
		name, token string
		want        error
	}{
		{"another audience", r.mint(t, ns, feedSource.ServiceAccount(), "nova/search-indexer", time.Hour), sender.ErrInvalidToken},
		{"another issuer's key", other.mint(t, ns, feedSource.ServiceAccount(), "nova/feed-fanout", time.Hour), sender.ErrInvalidToken},
		{"another issuer named", wrongIss, sender.ErrInvalidToken},
		{"expired", expired, sender.ErrInvalidToken},
		{"unsigned (alg none)", "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + ".", sender.ErrInvalidToken},
		{"payload swapped", parts[0] + "." + strings.Split(r.mint(t, ns, "x", "nova/feed-fanout", time.Hour), ".")[1] + "." + parts[2], sender.ErrInvalidToken},
		{"garbage", "not-a-jwt", sender.ErrInvalidToken},
		{"huge", strings.Repeat("a", 20000), sender.ErrInvalidToken},
		{"another sender", r.mint(t, ns, "search-indexer-oidc-sources.knative.dev-kafkasource", "nova/feed-fanout", time.Hour), sender.ErrForbidden},
		{"same sender, another namespace", r.mint(t, "evil", feedSource.ServiceAccount(), "nova/feed-fanout", time.Hour), sender.ErrForbidden},
		{"a pod's own service account", r.mint(t, ns, "default", "nova/feed-fanout", time.Hour), sender.ErrForbidden},
	} {
		if _, err := v.Verify(ctx, c.token); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

// A token verified once is not verified again (no key lookups, no
// signature check) until it expires; then it is refused.
func TestVerifiedTokensAreRemembered(t *testing.T) {
	r := newRig(t)
	now := time.Now()
	clock := func() time.Time { return now }
	v := r.verifier(t, func(c *sender.Config) { c.Now = clock })
	tok, _, err := r.iss.Sign(issuer.Claims{Issuer: r.url, Subject: feedSource.Subject(ns), Audience: []string{"nova/feed-fanout"},
		Expiry: now.Add(time.Minute).Unix(), IssuedAt: now.Unix()}, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	r.down.Store(true) // the issuer is no longer needed for this token
	for range 100 {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatalf("remembered token: %v", err)
		}
	}
	now = now.Add(2 * time.Minute)
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, sender.ErrInvalidToken) {
		t.Fatalf("expired remembered token: %v, want ErrInvalidToken", err)
	}
}

// An issuer that cannot be reached is a 503 (retried), never a 401 (which
// Knative dead-letters); once it answers, tokens verify.
func TestIssuerDownIsUnavailable(t *testing.T) {
	r := newRig(t)
	r.down.Store(true)
	v := r.verifier(t)
	tok := r.mint(t, ns, feedSource.ServiceAccount(), "nova/feed-fanout", time.Hour)
	if err := v.Ready(context.Background()); !errors.Is(err, sender.ErrUnavailable) {
		t.Fatalf("Ready with the issuer down: %v", err)
	}
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, sender.ErrUnavailable) {
		t.Fatalf("Verify with the issuer down: %v, want ErrUnavailable", err)
	}
	r.down.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := v.Verify(context.Background(), tok)
		if err == nil {
			break
		}
		if !errors.Is(err, sender.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("Verify once the issuer is back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A key the verifier has not seen (the issuer rotated) is fetched.
func TestRotatedKeyIsFetched(t *testing.T) {
	r := newRig(t)
	v := r.verifier(t)
	if _, err := v.Verify(context.Background(), r.mint(t, ns, feedSource.ServiceAccount(), "nova/feed-fanout", time.Hour)); err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := issuer.WithKey(r.url, key)
	if err != nil {
		t.Fatal(err)
	}
	*r.iss = *rotated
	tok, _, err := r.iss.Mint(ns, feedSource.ServiceAccount(), "nova/feed-fanout", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("token of the rotated key: %v", err)
	}
}

func TestConfigFrom(t *testing.T) {
	env := map[string]string{
		sender.EnvDiscoveryURL: "https://issuer.example", sender.EnvNamespace: "nova",
		sender.EnvSenders: "KafkaSource/feed-fanout, Trigger/feed-fanout",
	}
	c, err := sender.ConfigFrom(env, "feed-fanout")
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != sender.ModeOIDC || c.Audience != "nova/feed-fanout" || len(c.Senders) != 2 || c.Validate() != nil {
		t.Fatalf("config %+v (%v)", c, c.Validate())
	}
	for name, bad := range map[string]map[string]string{
		"no senders":   {sender.EnvNamespace: "nova"},
		"bad sender":   {sender.EnvNamespace: "nova", sender.EnvSenders: "Service/x"},
		"no namespace": {sender.EnvSenders: "KafkaSource/x", sender.EnvServiceAccountDir: t.TempDir()},
		"unknown mode": {sender.EnvAuth: "maybe", sender.EnvNamespace: "nova", sender.EnvSenders: "KafkaSource/x"},
		"not a URL":    {sender.EnvDiscoveryURL: "kubernetes", sender.EnvNamespace: "nova", sender.EnvSenders: "KafkaSource/x"},
	} {
		c, err := sender.ConfigFrom(bad, "f")
		if err == nil {
			err = c.Validate()
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	off, err := sender.ConfigFrom(map[string]string{sender.EnvAuth: "off"}, "f")
	if err != nil || off.Mode != sender.ModeOff || off.Validate() != nil {
		t.Fatalf("off: %+v %v", off, err)
	}
}

// BenchmarkVerify is one token checked again and again (remembered after
// the first time, as a dispatcher reuses its token for an hour) beside a
// fresh token each time (signature and claims checked every time).
//
//	go test -run '^$' -bench Verify ./shared/event/sender
func BenchmarkVerify(b *testing.B) {
	r := newRig(b)
	v := r.verifier(b)
	tokens := make([]string, 256)
	for i := range tokens {
		tokens[i] = r.mint(b, ns, feedSource.ServiceAccount(), "nova/feed-fanout", time.Duration(i+1)*time.Hour)
	}
	ctx := context.Background()
	b.Run("remembered", func(b *testing.B) {
		for b.Loop() {
			if _, err := v.Verify(ctx, tokens[0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fresh", func(b *testing.B) {
		nv := r.verifier(b, func(c *sender.Config) { c.CacheSize = -1 })
		i := 0
		for b.Loop() {
			if _, err := nv.Verify(ctx, tokens[i%len(tokens)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

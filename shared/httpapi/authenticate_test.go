package httpapi_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
)

const alice id.UserID = "01932c07-a5d4-7c2e-8b3a-2f6d1e9c4b7a"

var now = time.Unix(1767225600, 0)

func keys(t testing.TB) (*auth.KeySet, *auth.Signer, *auth.Verifier) {
	t.Helper()
	k, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ks, err := auth.NewKeySet(k)
	if err != nil {
		t.Fatal(err)
	}
	s, err := auth.NewSigner(ks, auth.SignerConfig{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(ks, auth.VerifierConfig{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return ks, s, v
}

func TestAuthenticate(t *testing.T) {
	log, _ := newLogger()
	_, signer, verifier := keys(t)
	var got auth.Principal
	h := httpapi.Authenticate(verifier, log)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = auth.FromContext(r.Context())
	}))
	tok, _, _ := signer.Issue(auth.Principal{UserID: alice, Role: auth.RoleAdmin})

	// Expired: a signer whose clock is two hours behind.
	ks := signer.Keys()
	past, _ := auth.NewSigner(ks, auth.SignerConfig{Now: func() time.Time { return now.Add(-2 * time.Hour) }})
	expired, _, _ := past.Issue(auth.Principal{UserID: alice, Role: auth.RoleUser})
	// Wrong audience.
	other, _ := auth.NewSigner(ks, auth.SignerConfig{Audience: "elsewhere", Now: func() time.Time { return now }})
	wrongAud, _, _ := other.Issue(auth.Principal{UserID: alice, Role: auth.RoleUser})
	// Forged: another key.
	_, strangerSigner, _ := keys(t)
	forged, _, _ := strangerSigner.Issue(auth.Principal{UserID: alice, Role: auth.RoleAdmin})

	for _, c := range []struct {
		name   string
		header []string
		status int
		desc   string // error_description in WWW-Authenticate; "" for a bare challenge
	}{
		{"valid", []string{"Bearer " + tok}, 200, ""},
		{"scheme case-insensitive", []string{"bearer " + tok}, 200, ""},
		{"missing", nil, 401, ""},
		{"basic scheme", []string{"Basic YWxpY2U6cHc="}, 401, ""},
		{"bearer without token", []string{"Bearer "}, 401, ""},
		{"two headers", []string{"Bearer " + tok, "Bearer " + tok}, 401, ""},
		{"token with space", []string{"Bearer " + tok + " extra"}, 401, ""},
		{"garbage token", []string{"Bearer not-a-jwt"}, 401, "malformed"},
		{"expired", []string{"Bearer " + expired}, 401, "expired"},
		{"wrong audience", []string{"Bearer " + wrongAud}, 401, "not meant for this service"},
		{"forged", []string{"Bearer " + forged}, 401, "unknown key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got = auth.Principal{}
			req := httptest.NewRequest("GET", "/v1/feed", nil)
			for _, v := range c.header {
				req.Header.Add("Authorization", v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d (%s)", rec.Code, c.status, rec.Body)
			}
			if c.status == 200 {
				if got.UserID != alice || got.Role != auth.RoleAdmin {
					t.Fatalf("principal %+v", got)
				}
				return
			}
			if got.UserID != "" {
				t.Fatal("the handler ran for a rejected request")
			}
			if e := decodeError(t, rec); e.Error.Code != "unauthorized" {
				t.Fatalf("code %q", e.Error.Code)
			}
			chal := rec.Header().Get("WWW-Authenticate")
			if !strings.HasPrefix(chal, `Bearer realm="nova"`) {
				t.Fatalf("WWW-Authenticate %q", chal)
			}
			if c.desc == "" && strings.Contains(chal, "error=") {
				t.Fatalf("a request without a token got %q; RFC 6750 wants a bare challenge", chal)
			}
			if c.desc != "" && (!strings.Contains(chal, `error="invalid_token"`) || !strings.Contains(chal, c.desc)) {
				t.Fatalf("WWW-Authenticate %q, want invalid_token mentioning %q", chal, c.desc)
			}
		})
	}
}

// unavailableKeys fails as an unreachable JWKS URL does.
type unavailableKeys struct{}

func (unavailableKeys) PublicKey(context.Context, string) (ed25519.PublicKey, error) {
	return nil, errors.New("dial tcp: connection refused")
}

func TestAuthenticateKeysUnavailable(t *testing.T) {
	log, _ := newLogger()
	_, signer, _ := keys(t)
	v, _ := auth.NewVerifier(unavailableKeys{}, auth.VerifierConfig{Now: func() time.Time { return now }})
	tok, _, _ := signer.Issue(auth.Principal{UserID: alice, Role: auth.RoleUser})
	h := httpapi.Authenticate(v, log)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("handler ran")
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 503 || decodeError(t, rec).Error.Code != "unavailable" || strings.Contains(rec.Body.String(), "dial") {
		t.Fatalf("keys unavailable: %d %s", rec.Code, rec.Body)
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	log, _ := newLogger()
	_, signer, verifier := keys(b)
	tok, _, _ := signer.Issue(auth.Principal{UserID: alice, Role: auth.RoleUser})
	h := httpapi.Authenticate(verifier, log)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}

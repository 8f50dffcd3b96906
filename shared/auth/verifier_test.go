package auth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nova-social/nova/shared/auth"
)

func TestIssueVerifyRoundTrip(t *testing.T) {
	_, k := seedKey(1)
	ks := mustKeySet(t, k)
	tok, issued, err := mustSigner(t, ks).Issue(auth.Principal{UserID: alice, Role: auth.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	got, err := mustVerifier(t, ks).Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("Verify(fresh token) = %v", err)
	}
	if got.Subject != alice || got.Role != auth.RoleAdmin || got.KeyID != k.ID ||
		got.Issuer != auth.DefaultIssuer || got.Audience[0] != auth.DefaultAudience ||
		!got.Expiry.Equal(now.Add(time.Hour)) || !got.IssuedAt.Equal(now) || !got.NotBefore.Equal(now) ||
		got.ID != issued.ID || got.ID == "" {
		t.Fatalf("verified claims %+v, issued %+v", got, issued)
	}
	if p := got.Principal(); p.UserID != alice || !p.IsAdmin() {
		t.Fatalf("principal %+v", p)
	}
	// The header is exactly what the package doc promises.
	h, _ := enc.DecodeString(strings.Split(tok, ".")[0])
	if string(h) != `{"alg":"EdDSA","kid":"`+k.ID+`","typ":"JWT"}` {
		t.Fatalf("header %s", h)
	}
}

func TestIssueRefusesBadPrincipal(t *testing.T) {
	_, k := seedKey(1)
	s := mustSigner(t, mustKeySet(t, k))
	if _, _, err := s.Issue(auth.Principal{Role: auth.RoleUser}); err == nil {
		t.Error("issued a token without a user id")
	}
	if _, _, err := s.Issue(auth.Principal{UserID: alice, Role: "root"}); err == nil {
		t.Error("issued a token with an unknown role")
	}
}

// TestRejections is the hardening list: every way a token must fail, each
// with its typed error.
func TestRejections(t *testing.T) {
	priv, k := seedKey(1)
	otherPriv, _ := seedKey(2)
	ks := mustKeySet(t, k)
	v := mustVerifier(t, ks)
	hdr := map[string]any{"alg": "EdDSA", "kid": k.ID, "typ": "JWT"}
	good := craftEdDSA(t, priv, hdr, goodClaims())
	if _, err := v.Verify(context.Background(), good); err != nil {
		t.Fatalf("the crafted baseline token is rejected: %v", err)
	}
	pkix, _ := x509.MarshalPKIXPublicKey(k.Public)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	jwkJSON, _ := json.Marshal(k.JWK())
	parts := strings.Split(good, ".")

	cases := []struct {
		name  string
		token string
		want  error
	}{
		// alg
		{"alg none, no signature", seg(t, map[string]any{"alg": "none", "kid": k.ID}) + "." + parts[1] + ".", auth.ErrAlgorithm},
		{"alg none, no kid", seg(t, map[string]any{"alg": "none"}) + "." + parts[1] + ".", auth.ErrAlgorithm},
		{"alg None", seg(t, map[string]any{"alg": "None", "kid": k.ID}) + "." + parts[1] + ".", auth.ErrAlgorithm},
		{"HS256 keyed with the raw public key", craftHS256(t, k.Public, with(hdr, "alg", "HS256"), goodClaims()), auth.ErrAlgorithm},
		{"HS256 keyed with the PEM public key", craftHS256(t, pubPEM, with(hdr, "alg", "HS256"), goodClaims()), auth.ErrAlgorithm},
		{"HS256 keyed with the JWK", craftHS256(t, jwkJSON, with(hdr, "alg", "HS256"), goodClaims()), auth.ErrAlgorithm},
		{"RS256", craftEdDSA(t, priv, with(hdr, "alg", "RS256"), goodClaims()), auth.ErrAlgorithm},
		{"Ed25519 spelled as alg", craftEdDSA(t, priv, with(hdr, "alg", "Ed25519"), goodClaims()), auth.ErrAlgorithm},
		{"alg missing", craftEdDSA(t, priv, with(hdr, "alg", nil), goodClaims()), auth.ErrAlgorithm},
		// kid
		{"unknown kid", craftEdDSA(t, otherPriv, with(hdr, "kid", "not-a-key"), goodClaims()), auth.ErrUnknownKey},
		{"kid missing", craftEdDSA(t, priv, with(hdr, "kid", nil), goodClaims()), auth.ErrMalformed},
		// signature
		{"signed by another key under our kid", craftEdDSA(t, otherPriv, hdr, goodClaims()), auth.ErrSignature},
		{"payload swapped after signing", parts[0] + "." + seg(t, with(goodClaims(), "role", "admin")) + "." + parts[2], auth.ErrSignature},
		{"signature truncated", parts[0] + "." + parts[1] + "." + parts[2][:40], auth.ErrSignature},
		{"signature empty", parts[0] + "." + parts[1] + ".", auth.ErrSignature},
		{"signature of zeros", parts[0] + "." + parts[1] + "." + enc.EncodeToString(make([]byte, 64)), auth.ErrSignature},
		// time
		{"expired", craftEdDSA(t, priv, hdr, with(goodClaims(), "iat", now.Add(-2*time.Hour).Unix(), "nbf", now.Add(-2*time.Hour).Unix(), "exp", now.Add(-time.Hour).Unix())), auth.ErrExpired},
		{"expired just beyond leeway", craftEdDSA(t, priv, hdr, with(goodClaims(), "iat", now.Add(-time.Hour).Unix(), "nbf", now.Add(-time.Hour).Unix(), "exp", now.Add(-30*time.Second).Unix())), auth.ErrExpired},
		{"not yet valid", craftEdDSA(t, priv, hdr, with(goodClaims(), "nbf", now.Add(time.Minute).Unix())), auth.ErrNotYetValid},
		{"issued in the future", craftEdDSA(t, priv, hdr, with(goodClaims(), "iat", now.Add(time.Hour).Unix())), auth.ErrNotYetValid},
		// audience and issuer
		{"wrong audience", craftEdDSA(t, priv, hdr, with(goodClaims(), "aud", "someone-else")), auth.ErrAudience},
		{"wrong audience list", craftEdDSA(t, priv, hdr, with(goodClaims(), "aud", []string{"a", "b"})), auth.ErrAudience},
		{"wrong issuer", craftEdDSA(t, priv, hdr, with(goodClaims(), "iss", "evil")), auth.ErrIssuer},
		// malformed
		{"empty", "", auth.ErrMalformed},
		{"one part", "abc", auth.ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], auth.ErrMalformed},
		{"four parts", good + ".x", auth.ErrMalformed},
		{"padded header", parts[0] + "=." + parts[1] + "." + parts[2], auth.ErrMalformed},
		{"standard base64 in signature", parts[0] + "." + parts[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[2]) + "+/", auth.ErrMalformed},
		{"header not JSON", enc.EncodeToString([]byte("hello")) + "." + parts[1] + "." + parts[2], auth.ErrMalformed},
		{"header with jwk", craftEdDSA(t, priv, with(hdr, "jwk", k.JWK()), goodClaims()), auth.ErrMalformed},
		{"header with crit", craftEdDSA(t, priv, with(hdr, "crit", []string{"exp"}), goodClaims()), auth.ErrMalformed},
		{"header with jku", craftEdDSA(t, priv, with(hdr, "jku", "https://evil/jwks"), goodClaims()), auth.ErrMalformed},
		{"typ not JWT", craftEdDSA(t, priv, with(hdr, "typ", "at+jwt+evil"), goodClaims()), auth.ErrMalformed},
		{"payload not JSON", craftEdDSA(t, priv, hdr, "not json"), auth.ErrMalformed},
		{"two JSON values", craftEdDSA(t, priv, hdr, `{"a":1} {"b":2}`), auth.ErrMalformed},
		{"oversized", parts[0] + "." + strings.Repeat("A", 5000) + "." + parts[2], auth.ErrMalformed},
		{"sub not a user id", craftEdDSA(t, priv, hdr, with(goodClaims(), "sub", "alice")), auth.ErrMalformed},
		{"exp as string", craftEdDSA(t, priv, hdr, with(goodClaims(), "exp", "tomorrow")), auth.ErrMalformed},
		{"exp fractional", craftEdDSA(t, priv, hdr, with(goodClaims(), "exp", 1767229200.5)), auth.ErrMalformed},
		{"unknown role", craftEdDSA(t, priv, hdr, with(goodClaims(), "role", "root")), auth.ErrMalformed},
		{"exp before nbf", craftEdDSA(t, priv, hdr, with(goodClaims(), "exp", now.Unix())), auth.ErrMalformed},
	}
	for _, claim := range []string{"iss", "sub", "aud", "iat", "nbf", "exp", "jti", "role"} {
		cases = append(cases, struct {
			name  string
			token string
			want  error
		}{"missing " + claim, craftEdDSA(t, priv, hdr, with(goodClaims(), claim, nil)), auth.ErrMalformed})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := v.Verify(context.Background(), c.token)
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify = %+v, %v; want %v", got, err, c.want)
			}
			if !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("%v does not match ErrInvalidToken", err)
			}
			var te *auth.TokenError
			if !errors.As(err, &te) || !errors.Is(te.Kind, c.want) {
				t.Fatalf("%v is not a *TokenError of kind %v", err, c.want)
			}
			if got.Subject != "" {
				t.Fatalf("a rejected token returned claims %+v", got)
			}
		})
	}
}

func TestLeewayAccepts(t *testing.T) {
	priv, k := seedKey(1)
	v := mustVerifier(t, mustKeySet(t, k))
	hdr := map[string]any{"alg": "EdDSA", "kid": k.ID, "typ": "JWT"}
	for name, claims := range map[string]map[string]any{
		"expired 29s ago":         with(goodClaims(), "iat", now.Add(-time.Hour).Unix(), "nbf", now.Add(-time.Hour).Unix(), "exp", now.Add(-29*time.Second).Unix()),
		"valid from 30s from now": with(goodClaims(), "iat", now.Add(30*time.Second).Unix(), "nbf", now.Add(30*time.Second).Unix()),
		"aud as a list":           with(goodClaims(), "aud", []string{"other", auth.DefaultAudience}),
		"no typ":                  goodClaims(),
		"extra claims ignored":    with(goodClaims(), "scope", "x"),
	} {
		h := hdr
		if name == "no typ" {
			h = with(hdr, "typ", nil)
		}
		if _, err := v.Verify(context.Background(), craftEdDSA(t, priv, h, claims)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestVerifierConfigValidate(t *testing.T) {
	_, k := seedKey(1)
	ks := mustKeySet(t, k)
	for name, c := range map[string]auth.VerifierConfig{
		"negative leeway": {Leeway: -time.Second},
		"huge leeway":     {Leeway: time.Hour},
		"tiny max":        {MaxTokenBytes: 10},
	} {
		if _, err := auth.NewVerifier(ks, c); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := auth.NewVerifier(nil, auth.VerifierConfig{}); err == nil {
		t.Error("nil key source accepted")
	}
	for name, c := range map[string]auth.SignerConfig{
		"ttl too short": {TTL: time.Second},
		"ttl too long":  {TTL: 48 * time.Hour},
	} {
		if _, err := auth.NewSigner(ks, c); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := auth.NewSigner(mustKeySet(t, k.PublicOnly()), auth.SignerConfig{}); !errors.Is(err, auth.ErrBadKey) {
		t.Errorf("signer without private key: %v", err)
	}
}

func TestPrincipalContext(t *testing.T) {
	ctx := context.Background()
	if _, ok := auth.FromContext(ctx); ok {
		t.Fatal("empty context has a principal")
	}
	p := auth.Principal{UserID: alice, Role: auth.RoleUser}
	got, ok := auth.FromContext(auth.NewContext(ctx, p))
	if !ok || got != p {
		t.Fatalf("FromContext = %+v, %v", got, ok)
	}
}

func BenchmarkIssue(b *testing.B) {
	_, k := seedKey(1)
	s := mustSigner(b, mustKeySet(b, k))
	p := auth.Principal{UserID: alice, Role: auth.RoleUser}
	for b.Loop() {
		if _, _, err := s.Issue(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	_, k := seedKey(1)
	ks := mustKeySet(b, k)
	tok, _, _ := mustSigner(b, ks).Issue(auth.Principal{UserID: alice, Role: auth.RoleUser})
	v := mustVerifier(b, ks)
	ctx := context.Background()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEd25519VerifyRaw is the baseline of BenchmarkVerify: the
// signature check alone, which is nearly all of a verification's cost.
func BenchmarkEd25519VerifyRaw(b *testing.B) {
	priv, k := seedKey(1)
	msg := []byte(strings.Repeat("x", 300))
	sig := ed25519.Sign(priv, msg)
	for b.Loop() {
		if !ed25519.Verify(k.Public, msg, sig) {
			b.Fatal("verify")
		}
	}
}

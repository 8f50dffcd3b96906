// Package authtest builds hostile access tokens for tests of anything that
// verifies Nova's JWTs: every way a token must be refused (expired, not yet
// valid, wrong audience or issuer, unknown kid, alg "none", HS256 keyed with
// the public key, malformed, bad signature). The API's and the realtime
// gateway's test suites run the same cases, so both refuse exactly the
// same tokens.
//
// Tokens are written by hand, not by auth.Signer, because a correct signer
// can produce none of them.
package authtest

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/id"
)

// Case is one token that must be refused.
type Case struct {
	Name  string
	Token string
	// Kind is the auth error (ErrExpired, …) a Verifier must answer with.
	Kind error
}

var b64 = base64.RawURLEncoding

// Forger writes tokens with the private half of a service's real signing
// key, as a leaked-clock or misconfigured issuer would, and tokens without
// it, as an attacker who only knows the public key would.
type Forger struct {
	key  auth.Key
	priv ed25519.PrivateKey
	sub  id.UserID
	now  time.Time
	jti  string
}

// NewForger returns a Forger for tokens naming sub, signed (where a case
// is signed) with key, which must hold its private half, relative to now.
func NewForger(key auth.Key, sub id.UserID, now time.Time) (*Forger, error) {
	j, err := key.PrivateJWK()
	if err != nil {
		return nil, fmt.Errorf("authtest: %w", err)
	}
	seed, err := b64.DecodeString(j.D)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, errors.New("authtest: private JWK without an Ed25519 seed")
	}
	if sub.IsZero() {
		return nil, errors.New("authtest: no subject")
	}
	return &Forger{key: key, priv: ed25519.NewKeyFromSeed(seed), sub: sub, now: now.Truncate(time.Second),
		jti: uuid.Must(uuid.NewV7()).String()}, nil
}

// Claims are the claims a correct signer would write at the Forger's now;
// change them to build a hostile token.
func (f *Forger) Claims() map[string]any {
	return map[string]any{
		"iss": auth.DefaultIssuer, "sub": f.sub.String(), "aud": auth.DefaultAudience,
		"iat": f.now.Unix(), "nbf": f.now.Unix(), "exp": f.now.Add(time.Hour).Unix(),
		"jti": f.jti, "role": "user",
	}
}

// Session is the jti of the Forger's tokens: the session a test marks live
// where sessions are checked.
func (f *Forger) Session() string { return f.jti }

// Expiry is when the Forger's valid token expires.
func (f *Forger) Expiry() time.Time { return f.now.Add(time.Hour) }

// Header is the header a correct signer writes.
func (f *Forger) Header() map[string]any {
	return map[string]any{"alg": "EdDSA", "kid": f.key.ID, "typ": "JWT"}
}

// Sign returns header.claims signed with priv (EdDSA).
func Sign(priv ed25519.PrivateKey, header, claims any) string {
	in := segment(header) + "." + segment(claims)
	return in + "." + b64.EncodeToString(ed25519.Sign(priv, []byte(in)))
}

// HS256 returns header.claims "signed" with HMAC-SHA256 keyed by secret:
// the key-confusion attack, with a secret the attacker knows.
func HS256(secret []byte, header, claims any) string {
	in := segment(header) + "." + segment(claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(in))
	return in + "." + b64.EncodeToString(m.Sum(nil))
}

func segment(v any) string {
	if s, ok := v.(string); ok { // already JSON, byte for byte
		return b64.EncodeToString([]byte(s))
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("authtest: %v", err)) // maps of plain values always marshal
	}
	return b64.EncodeToString(b)
}

func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// Valid is a token a verifier of the Forger's key must accept: the
// control that shows a refusal is the token's fault, not the setup's.
func (f *Forger) Valid() string { return Sign(f.priv, f.Header(), f.Claims()) }

// Cases returns every hostile token, each with the error it must draw.
func (f *Forger) Cases() ([]Case, error) {
	h, c, now := f.Header(), f.Claims(), f.now
	pub := f.key.Public
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("authtest: %w", err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	jwk, err := json.Marshal(f.key.JWK())
	if err != nil {
		return nil, fmt.Errorf("authtest: %w", err)
	}
	jwks, err := json.Marshal(auth.JWKS{Keys: []auth.JWK{f.key.JWK()}})
	if err != nil {
		return nil, fmt.Errorf("authtest: %w", err)
	}
	stranger, err := auth.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("authtest: %w", err)
	}
	strangerForger, err := NewForger(stranger, f.sub, f.now)
	if err != nil {
		return nil, err
	}
	hs := with(h, "alg", "HS256")
	valid := f.Valid()
	sig := valid[len(valid)-86:] // 64 bytes of Ed25519 signature in base64url
	signed := func(claims map[string]any) string { return Sign(f.priv, h, claims) }

	// A valid token whose payload is swapped for an admin one, signature kept.
	tampered := segment(h) + "." + segment(with(c, "role", "admin")) + "." + sig
	flipped := []byte(valid)
	if flipped[len(flipped)-10] == 'A' {
		flipped[len(flipped)-10] = 'B'
	} else {
		flipped[len(flipped)-10] = 'A'
	}

	return []Case{
		{"expired", signed(with(c, "iat", now.Add(-3*time.Hour).Unix(), "nbf", now.Add(-3*time.Hour).Unix(), "exp", now.Add(-2*time.Hour).Unix())), auth.ErrExpired},
		{"expired just beyond the leeway", signed(with(c, "exp", now.Add(-2*time.Minute).Unix(), "iat", now.Add(-time.Hour).Unix(), "nbf", now.Add(-time.Hour).Unix())), auth.ErrExpired},
		{"not yet valid (nbf)", signed(with(c, "nbf", now.Add(time.Hour).Unix(), "exp", now.Add(2*time.Hour).Unix())), auth.ErrNotYetValid},
		{"issued in the future (iat)", signed(with(c, "iat", now.Add(time.Hour).Unix(), "nbf", now.Add(time.Hour).Unix(), "exp", now.Add(2*time.Hour).Unix())), auth.ErrNotYetValid},
		{"wrong audience", signed(with(c, "aud", "some-other-service")), auth.ErrAudience},
		{"wrong audience among several", signed(with(c, "aud", []string{"billing", "search"})), auth.ErrAudience},
		{"wrong issuer", signed(with(c, "iss", "https://evil.example")), auth.ErrIssuer},
		{"unknown kid (a stranger's key)", strangerForger.Valid(), auth.ErrUnknownKey},
		{"unknown kid (made up)", Sign(f.priv, with(h, "kid", "no-such-key"), c), auth.ErrUnknownKey},
		{"alg none", segment(with(h, "alg", "none")) + "." + segment(c) + ".", auth.ErrAlgorithm},
		{"alg none with the real signature", segment(with(h, "alg", "none")) + "." + segment(c) + "." + sig, auth.ErrAlgorithm},
		{"alg None", segment(with(h, "alg", "None")) + "." + segment(c) + ".", auth.ErrAlgorithm},
		{"HS256 keyed with the raw public key", HS256(pub, hs, c), auth.ErrAlgorithm},
		{"HS256 keyed with the public key PEM", HS256(pubPEM, hs, c), auth.ErrAlgorithm},
		{"HS256 keyed with the public JWK", HS256(jwk, hs, c), auth.ErrAlgorithm},
		{"HS256 keyed with the JWKS document", HS256(jwks, hs, c), auth.ErrAlgorithm},
		{"HS256 keyed with the base64url public key", HS256([]byte(b64.EncodeToString(pub)), hs, c), auth.ErrAlgorithm},
		{"malformed: not a JWT", "not-a-token", auth.ErrMalformed},
		{"malformed: two segments", segment(h) + "." + segment(c), auth.ErrMalformed},
		{"malformed: four segments", valid + ".x", auth.ErrMalformed},
		{"malformed: padded base64", segment(h) + "=." + segment(c) + "." + sig, auth.ErrMalformed},
		{"malformed: header not JSON", b64.EncodeToString([]byte("{alg:EdDSA")) + "." + segment(c) + "." + sig, auth.ErrMalformed},
		{"malformed: header asks to trust an embedded key (jwk)", Sign(f.priv, with(h, "jwk", f.key.JWK()), c), auth.ErrMalformed},
		{"malformed: claims missing exp", signed(with(c, "exp", nil)), auth.ErrMalformed},
		{"malformed: sub not a user id", signed(with(c, "sub", "root")), auth.ErrMalformed},
		{"bad signature: payload swapped for an admin one", tampered, auth.ErrSignature},
		{"bad signature: one character changed", string(flipped), auth.ErrSignature},
		{"bad signature: signed by another key under the real kid", Sign(strangerForger.priv, h, c), auth.ErrSignature},
		{"bad signature: truncated to 60 bytes", valid[:len(valid)-6], auth.ErrSignature},
	}, nil
}

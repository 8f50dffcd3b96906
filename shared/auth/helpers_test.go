package auth_test

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/id"
)

// now is the fixed clock of the tests: 2026-01-01T00:00:00Z.
var now = time.Unix(1767225600, 0)

func clock() time.Time { return now }

const alice id.UserID = "01932c07-a5d4-7c2e-8b3a-2f6d1e9c4b7a"

// seedKey returns a deterministic key so tokens and kids are reproducible.
func seedKey(b byte) (ed25519.PrivateKey, auth.Key) {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = b
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return priv, auth.PrivateKey(priv)
}

func mustKeySet(t testing.TB, keys ...auth.Key) *auth.KeySet {
	t.Helper()
	ks, err := auth.NewKeySet(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func mustSigner(t testing.TB, ks *auth.KeySet) *auth.Signer {
	t.Helper()
	s, err := auth.NewSigner(ks, auth.SignerConfig{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustVerifier(t testing.TB, src auth.KeySource) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(src, auth.VerifierConfig{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var enc = base64.RawURLEncoding

func seg(t testing.TB, v any) string {
	t.Helper()
	if s, ok := v.(string); ok { // already-serialised JSON, byte for byte
		return enc.EncodeToString([]byte(s))
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return enc.EncodeToString(b)
}

// craftEdDSA signs any header and claims with priv, so tests can build
// tokens a correct Signer would never produce.
func craftEdDSA(t testing.TB, priv ed25519.PrivateKey, header, claims any) string {
	t.Helper()
	in := seg(t, header) + "." + seg(t, claims)
	return in + "." + enc.EncodeToString(ed25519.Sign(priv, []byte(in)))
}

// craftHS256 is the key-confusion attack: HMAC-SHA256 keyed with bytes the
// attacker knows (the public key in some encoding).
func craftHS256(t testing.TB, secret []byte, header, claims any) string {
	t.Helper()
	in := seg(t, header) + "." + seg(t, claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(in))
	return in + "." + enc.EncodeToString(m.Sum(nil))
}

// goodClaims are the claims a Signer would write at now.
func goodClaims() map[string]any {
	return map[string]any{
		"iss": auth.DefaultIssuer, "sub": string(alice), "aud": auth.DefaultAudience,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"jti": "0193aaaa-0000-7000-8000-000000000001", "role": "user",
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

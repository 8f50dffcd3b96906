package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nova-social/nova/shared/auth"
)

var update = flag.Bool("update", false, "rewrite testdata/tokens.json")

// vectorFile is testdata/tokens.json: tokens any implementation (a gateway
// in another language, a client library) can check itself against. The
// verifier settings are the defaults; now is the instant to verify at.
type vectorFile struct {
	Comment  string    `json:"comment"`
	Now      int64     `json:"now"`
	Issuer   string    `json:"issuer"`
	Audience string    `json:"audience"`
	LeewayS  int       `json:"leeway_seconds"`
	JWKS     auth.JWKS `json:"jwks"`
	Cases    []vector  `json:"cases"`
}

type vector struct {
	Name  string `json:"name"`
	Token string `json:"token"`
	Error string `json:"error,omitempty"` // empty: valid
}

var errorNames = map[string]error{
	"malformed":     auth.ErrMalformed,
	"algorithm":     auth.ErrAlgorithm,
	"unknown_key":   auth.ErrUnknownKey,
	"signature":     auth.ErrSignature,
	"expired":       auth.ErrExpired,
	"not_yet_valid": auth.ErrNotYetValid,
	"audience":      auth.ErrAudience,
	"issuer":        auth.ErrIssuer,
}

func buildVectors(t *testing.T) vectorFile {
	priv, k := seedKey(0x42)
	otherPriv, _ := seedKey(0x43)
	hdr := map[string]any{"alg": "EdDSA", "kid": k.ID, "typ": "JWT"}
	c := goodClaims()
	admin := with(c, "role", "admin")
	cases := []vector{
		{"valid user", craftEdDSA(t, priv, hdr, c), ""},
		{"valid admin", craftEdDSA(t, priv, hdr, admin), ""},
		{"valid aud array", craftEdDSA(t, priv, hdr, with(c, "aud", []string{"x", "nova"})), ""},
		{"alg none", seg(t, map[string]any{"alg": "none", "kid": k.ID, "typ": "JWT"}) + "." + seg(t, c) + ".", "algorithm"},
		{"HS256 with the public key", craftHS256(t, k.Public, with(hdr, "alg", "HS256"), c), "algorithm"},
		{"unknown kid", craftEdDSA(t, otherPriv, with(hdr, "kid", "retired-2025"), c), "unknown_key"},
		{"signed by another key", craftEdDSA(t, otherPriv, hdr, c), "signature"},
		{"expired", craftEdDSA(t, priv, hdr, with(c, "iat", now.Add(-2*time.Hour).Unix(), "nbf", now.Add(-2*time.Hour).Unix(), "exp", now.Add(-time.Hour).Unix())), "expired"},
		{"not yet valid", craftEdDSA(t, priv, hdr, with(c, "nbf", now.Add(time.Hour).Unix(), "exp", now.Add(2*time.Hour).Unix())), "not_yet_valid"},
		{"wrong audience", craftEdDSA(t, priv, hdr, with(c, "aud", "nova-admin-console")), "audience"},
		{"wrong issuer", craftEdDSA(t, priv, hdr, with(c, "iss", "https://accounts.example")), "issuer"},
		{"missing exp", craftEdDSA(t, priv, hdr, with(c, "exp", nil)), "malformed"},
		{"not a JWS", "not.a.jws", "malformed"},
	}
	return vectorFile{
		Comment:  "Test vectors for Nova access tokens. The key is a test key from a fixed seed; never use it elsewhere.",
		Now:      now.Unix(),
		Issuer:   auth.DefaultIssuer,
		Audience: auth.DefaultAudience,
		LeewayS:  30,
		JWKS:     auth.JWKS{Keys: []auth.JWK{k.JWK()}},
		Cases:    cases,
	}
}

func TestVectors(t *testing.T) {
	path := filepath.Join("testdata", "tokens.json")
	if *update {
		b, err := json.MarshalIndent(buildVectors(t), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (regenerate with go test -run TestVectors -update)", err)
	}
	var vf vectorFile
	if err := json.Unmarshal(raw, &vf); err != nil {
		t.Fatal(err)
	}
	jwks, _ := json.Marshal(vf.JWKS)
	keys, err := auth.ParsePublicKeys(jwks)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(vf.Now, 0)
	v, err := auth.NewVerifier(mustKeySet(t, keys...), auth.VerifierConfig{
		Issuer: vf.Issuer, Audience: vf.Audience, Leeway: time.Duration(vf.LeewayS) * time.Second,
		Now: func() time.Time { return at },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range vf.Cases {
		_, err := v.Verify(context.Background(), c.Token)
		switch want, known := errorNames[c.Error]; {
		case c.Error == "" && err != nil:
			t.Errorf("%s: %v, want valid", c.Name, err)
		case c.Error != "" && !known:
			t.Errorf("%s: unknown error name %q in testdata", c.Name, c.Error)
		case c.Error != "" && !errors.Is(err, want):
			t.Errorf("%s: %v, want %s", c.Name, err, c.Error)
		}
	}
	// The file matches what this code generates: signatures are
	// deterministic, so any drift is a change in behaviour.
	want, _ := json.Marshal(buildVectors(t))
	if got, _ := json.Marshal(vf); string(got) != string(want) {
		t.Errorf("testdata/tokens.json is stale; regenerate with go test -run TestVectors -update")
	}
}

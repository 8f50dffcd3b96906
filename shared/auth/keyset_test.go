package auth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nova-social/nova/shared/auth"
)

func TestKeyEncodingsRoundTrip(t *testing.T) {
	_, k := seedKey(7)
	pemBytes, err := k.MarshalPrivatePEM()
	if err != nil {
		t.Fatal(err)
	}
	fromPEM, err := auth.ParsePrivateKey(pemBytes)
	if err != nil || fromPEM.ID != k.ID || !fromPEM.CanSign() {
		t.Fatalf("PEM round trip: %+v, %v", fromPEM, err)
	}
	pj, _ := k.PrivateJWK()
	pjJSON, _ := json.Marshal(pj)
	fromJWK, err := auth.ParsePrivateKey(pjJSON)
	if err != nil || fromJWK.ID != k.ID || !fromJWK.CanSign() {
		t.Fatalf("JWK round trip: %+v, %v", fromJWK, err)
	}
	if _, err := k.PublicOnly().MarshalPrivatePEM(); !errors.Is(err, auth.ErrBadKey) {
		t.Fatal("a public key marshalled as private")
	}

	pkix, _ := x509.MarshalPKIXPublicKey(k.Public)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	_, k2 := seedKey(8)
	pkix2, _ := x509.MarshalPKIXPublicKey(k2.Public)
	twoPEM := append(pubPEM, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix2})...)
	oneJWK, _ := json.Marshal(k.JWK())
	for name, tc := range map[string]struct {
		data []byte
		n    int
	}{
		"pem":            {pubPEM, 1},
		"two pem blocks": {twoPEM, 2},
		"jwk":            {oneJWK, 1},
		"jwks":           {mustKeySet(t, k, k2.PublicOnly()).JWKS(), 2},
		"private jwk":    {pjJSON, 1}, // d is dropped
	} {
		keys, err := auth.ParsePublicKeys(tc.data)
		if err != nil || len(keys) != tc.n {
			t.Errorf("%s: %d keys, %v", name, len(keys), err)
			continue
		}
		if keys[0].ID != k.ID || keys[0].CanSign() {
			t.Errorf("%s: first key %s (can sign %v), want public %s", name, keys[0].ID, keys[0].CanSign(), k.ID)
		}
	}
}

func TestBadKeys(t *testing.T) {
	_, k := seedKey(7)
	_, other := seedKey(8)
	pj, _ := k.PrivateJWK()
	mismatched := pj
	mismatched.X = other.JWK().X
	for name, data := range map[string]string{
		"empty":             "",
		"garbage":           "hello",
		"rsa jwk":           `{"kty":"RSA","n":"AQAB","e":"AQAB"}`,
		"x25519 jwk":        `{"kty":"OKP","crv":"X25519","x":"` + k.JWK().X + `"}`,
		"alg HS256":         `{"kty":"OKP","crv":"Ed25519","alg":"HS256","x":"` + k.JWK().X + `"}`,
		"use enc":           `{"kty":"OKP","crv":"Ed25519","use":"enc","x":"` + k.JWK().X + `"}`,
		"short x":           `{"kty":"OKP","crv":"Ed25519","x":"AAAA"}`,
		"unknown field":     `{"kty":"OKP","crv":"Ed25519","x":"` + k.JWK().X + `","k":"secret"}`,
		"empty jwks":        `{"keys":[]}`,
		"private key block": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	} {
		if _, err := auth.ParsePublicKeys([]byte(data)); !errors.Is(err, auth.ErrBadKey) {
			t.Errorf("ParsePublicKeys(%s) = %v, want ErrBadKey", name, err)
		}
	}
	mj, _ := json.Marshal(mismatched)
	pubJWK, _ := json.Marshal(k.JWK())
	for name, data := range map[string][]byte{
		"d of another key": mj,
		"public jwk":       pubJWK,
		"public pem":       []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
	} {
		if _, err := auth.ParsePrivateKey(data); !errors.Is(err, auth.ErrBadKey) {
			t.Errorf("ParsePrivateKey(%s) = %v, want ErrBadKey", name, err)
		}
	}
	if _, err := auth.NewKeySet(k, other); !errors.Is(err, auth.ErrBadKey) {
		t.Errorf("two signing keys accepted: %v", err)
	}
	if _, err := auth.NewKeySet(k, k.PublicOnly()); !errors.Is(err, auth.ErrBadKey) {
		t.Errorf("duplicate kid accepted: %v", err)
	}
	if _, err := auth.NewKeySet(); !errors.Is(err, auth.ErrBadKey) {
		t.Errorf("empty set accepted: %v", err)
	}
}

// TestRotation walks the documented procedure: publish, switch, retire.
func TestRotation(t *testing.T) {
	ctx := context.Background()
	_, oldKey := seedKey(1)
	_, newKey := seedKey(2)
	before := mustKeySet(t, oldKey)
	oldToken, _, _ := mustSigner(t, before).Issue(alicePrincipal)

	// 1. The new public key is published ahead of use.
	published := mustKeySet(t, oldKey, newKey.PublicOnly())
	// 2. The new key signs; the old one only verifies.
	rotated, err := published.Rotate(newKey)
	if err != nil {
		t.Fatal(err)
	}
	if sk, _ := rotated.SigningKey(); sk.ID != newKey.ID {
		t.Fatalf("signing key %s after rotation, want %s", sk.ID, newKey.ID)
	}
	newToken, claims, _ := mustSigner(t, rotated).Issue(alicePrincipal)
	if claims.KeyID != newKey.ID {
		t.Fatalf("rotated signer used %s", claims.KeyID)
	}
	// Verifiers holding either the published or the rotated set accept
	// both tokens: no downtime.
	for name, ks := range map[string]*auth.KeySet{"published": published, "rotated": rotated} {
		v := mustVerifier(t, ks)
		for which, tok := range map[string]string{"old": oldToken, "new": newToken} {
			if _, err := v.Verify(ctx, tok); err != nil {
				t.Errorf("%s set, %s token: %v", name, which, err)
			}
		}
	}
	var doc auth.JWKS
	if err := json.Unmarshal(rotated.JWKS(), &doc); err != nil || len(doc.Keys) != 2 {
		t.Fatalf("rotated JWKS %s", rotated.JWKS())
	}
	// 3. After the old tokens expired, the old key goes.
	retired, err := rotated.Retire(oldKey.ID)
	if err != nil {
		t.Fatal(err)
	}
	v := mustVerifier(t, retired)
	if _, err := v.Verify(ctx, oldToken); !errors.Is(err, auth.ErrUnknownKey) {
		t.Errorf("old token after retirement: %v, want ErrUnknownKey", err)
	}
	if _, err := v.Verify(ctx, newToken); err != nil {
		t.Errorf("new token after retirement: %v", err)
	}
	if _, err := retired.Retire(newKey.ID); !errors.Is(err, auth.ErrBadKey) {
		t.Errorf("retiring the signing key: %v", err)
	}
	if _, err := retired.Rotate(oldKey.PublicOnly()); !errors.Is(err, auth.ErrBadKey) {
		t.Errorf("rotating to a public key: %v", err)
	}
}

var alicePrincipal = auth.Principal{UserID: alice, Role: auth.RoleUser}

func TestJWKSHandler(t *testing.T) {
	_, cur := seedKey(1)
	_, old := seedKey(2)
	ks := mustKeySet(t, cur, old.PublicOnly())
	srv := httptest.NewServer(auth.JWKSHandler(ks))
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" ||
		!strings.Contains(resp.Header.Get("Cache-Control"), "max-age=300") {
		t.Fatalf("GET: %d %v", resp.StatusCode, resp.Header)
	}
	if strings.Contains(string(body), `"d"`) {
		t.Fatalf("the JWKS leaks a private key: %s", body)
	}
	keys, err := auth.ParsePublicKeys(body)
	if err != nil || len(keys) != 2 || keys[0].ID != cur.ID || keys[1].ID != old.ID {
		t.Fatalf("served JWKS %s: %v", body, err)
	}
	var doc auth.JWKS
	_ = json.Unmarshal(body, &doc)
	for _, j := range doc.Keys {
		if j.Alg != "EdDSA" || j.Use != "sig" || j.Kty != "OKP" || j.Crv != "Ed25519" {
			t.Errorf("served JWK %+v", j)
		}
		k, _ := j.Key()
		if !ed25519.PublicKey(k.Public).Equal(cur.Public) && !ed25519.PublicKey(k.Public).Equal(old.Public) {
			t.Errorf("served an unknown key %s", j.Kid)
		}
	}

	resp, err = http.Post(srv.URL, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %d %v", resp.StatusCode, resp.Header)
	}
}

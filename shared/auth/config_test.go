package auth_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/nova-social/nova/shared/auth"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestKeyConfigFromEnv(t *testing.T) {
	_, cur := seedKey(1)
	_, old := seedKey(2)
	curPEM, _ := cur.MarshalPrivatePEM()
	oldJWKS := string(mustKeySet(t, old.PublicOnly()).JWKS())
	// The JWKS given to the signer may list the signing key too.
	bothJWKS := string(mustKeySet(t, cur.PublicOnly(), old.PublicOnly()).JWKS())

	for name, jwks := range map[string]string{"old only": oldJWKS, "old and current": bothJWKS} {
		cfg := auth.KeyConfigFromEnv(env(map[string]string{
			auth.EnvPrivateKey: string(curPEM),
			auth.EnvJWKS:       jwks,
		}))
		ks, err := cfg.SigningKeys()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if sk, _ := ks.SigningKey(); sk.ID != cur.ID || len(ks.Keys()) != 2 {
			t.Fatalf("%s: signing %s, %d keys", name, sk.ID, len(ks.Keys()))
		}
	}

	// A verifier given only the JWKS verifies tokens of either key.
	dir := t.TempDir()
	jwksFile := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwksFile, []byte(bothJWKS), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := auth.KeyConfigFromEnv(env(map[string]string{auth.EnvJWKSFile: jwksFile})).VerificationKeys(nil)
	if err != nil {
		t.Fatal(err)
	}
	v := mustVerifier(t, src)
	for _, k := range []auth.Key{cur, old} {
		tok, _, _ := mustSigner(t, mustKeySet(t, k)).Issue(alicePrincipal)
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Errorf("token of %s: %v", k.ID, err)
		}
	}
	if _, err := auth.KeyConfigFromEnv(env(map[string]string{auth.EnvJWKSFile: jwksFile})).SigningKeys(); !errors.Is(err, auth.ErrNoKeys) {
		t.Errorf("SigningKeys without a private key: %v, want ErrNoKeys", err)
	}

	// A JWKS URL gives a RemoteKeys.
	src, err = auth.KeyConfig{JWKSURL: "http://127.0.0.1:1/v1/.well-known/jwks.json"}.VerificationKeys(nil)
	if _, ok := src.(*auth.RemoteKeys); err != nil || !ok {
		t.Errorf("JWKS URL: %T, %v", src, err)
	}
}

func TestKeyConfigErrors(t *testing.T) {
	_, k := seedKey(1)
	_, other := seedKey(2)
	kPEM, _ := k.MarshalPrivatePEM()
	clash := other.JWK()
	clash.Kid = k.ID // same kid, different key
	clashJWKS := `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + clash.X + `","kid":"` + k.ID + `"}]}`
	for name, cfg := range map[string]auth.KeyConfig{
		"nothing":              {},
		"both private":         {PrivateKey: string(kPEM), PrivateKeyFile: "/x"},
		"both jwks":            {JWKS: "{}", JWKSFile: "/x"},
		"url and jwks":         {JWKSURL: "http://x/", JWKS: "{}"},
		"bad private":          {PrivateKey: "nope"},
		"missing private file": {PrivateKeyFile: filepath.Join(t.TempDir(), "absent.pem")},
		"kid clash":            {PrivateKey: string(kPEM), JWKS: clashJWKS},
	} {
		if _, err := cfg.SigningKeys(); err == nil {
			t.Errorf("%s: SigningKeys succeeded", name)
		}
		if _, err := cfg.VerificationKeys(nil); err == nil {
			t.Errorf("%s: VerificationKeys succeeded", name)
		}
	}
}

func TestDevKeyPersistsAndIsShared(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".nova", "keys")
	// Processes of `make run` start together: all must end with one key.
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			k, err := auth.DevKey(dir)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = k.ID
		})
	}
	wg.Wait()
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("concurrent DevKey calls made different keys: %v", ids)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, auth.DevKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("dev key mode %v, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
	// The signer and a verifier configured with the same folder agree.
	cfg := auth.KeyConfig{DevDir: dir}
	ks, err := cfg.SigningKeys()
	if err != nil {
		t.Fatal(err)
	}
	if sk, _ := ks.SigningKey(); sk.ID != ids[0] {
		t.Fatalf("SigningKeys used %s, want the persisted %s", sk.ID, ids[0])
	}
	src, err := cfg.VerificationKeys(nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, _ := mustSigner(t, ks).Issue(alicePrincipal)
	if _, err := mustVerifier(t, src).Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(filepath.Join(dir, auth.DevKeyFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.DevKey(dir); !errors.Is(err, auth.ErrBadKey) {
		t.Fatalf("a corrupt dev key: %v, want ErrBadKey (never silently replaced)", err)
	}
}

package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nova-social/nova/shared/auth"
)

// FuzzVerify feeds the verifier arbitrary bearer tokens, from valid ones
// and their near misses. It must never panic, every refusal must be an
// ErrInvalidToken, and the only token it may accept is the one signed here.
func FuzzVerify(f *testing.F) {
	priv, k := seedKey(1)
	otherPriv, _ := seedKey(2)
	ks := mustKeySet(f, k)
	// Made as the Signer makes it, but deterministically: the fuzzing
	// workers build this target again and must agree on the one token.
	hdr := map[string]any{"alg": "EdDSA", "kid": k.ID, "typ": "JWT"}
	valid := craftEdDSA(f, priv, hdr, goodClaims())
	parts := strings.Split(valid, ".")
	f.Add(valid)
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(parts[0] + ".." + parts[2])
	f.Add(valid + "=")
	f.Add(strings.ToUpper(valid))
	f.Add(craftEdDSA(f, otherPriv, hdr, goodClaims())) // the right kid, the wrong key
	f.Add(craftHS256(f, k.Public, map[string]any{"alg": "HS256", "kid": k.ID, "typ": "JWT"}, goodClaims()))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("")
	f.Add("...")
	v := mustVerifier(f, ks)
	if _, err := v.Verify(context.Background(), valid); err != nil {
		f.Fatalf("the valid seed is refused: %v", err)
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(context.Background(), token)
		if err != nil {
			if !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("Verify(%q): %v is not an ErrInvalidToken", token, err)
			}
			return
		}
		if token != valid || c.Subject != alice {
			t.Fatalf("Verify accepted %q (claims %+v), which the signer did not make", token, c)
		}
	})
}

package auth

import (
	"crypto/ed25519"
	"testing"
)

// RFC 8037 Appendix A: the Ed25519 key, its thumbprint and a compact JWS.
const (
	rfcD          = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
	rfcX          = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	rfcThumbprint = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
	rfcJWS        = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)

func TestRFC8037Vectors(t *testing.T) {
	k, err := JWK{Kty: "OKP", Crv: "Ed25519", X: rfcX, D: rfcD}.Key()
	if err != nil {
		t.Fatal(err)
	}
	if k.ID != rfcThumbprint {
		t.Fatalf("thumbprint %s, want %s (RFC 8037 A.3)", k.ID, rfcThumbprint)
	}
	// A.4: signing is deterministic, so our signature over the RFC's
	// signing input must be the RFC's signature byte for byte.
	in := "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
	sig := b64.EncodeToString(ed25519.Sign(k.private, []byte(in)))
	if in+"."+sig != rfcJWS {
		t.Fatalf("signature %s differs from RFC 8037 A.4", sig)
	}
	// splitJWS refuses it all the same: its header has no kid.
	if _, err := splitJWS(rfcJWS); err == nil {
		t.Fatal("a JWS without kid was accepted")
	}
}

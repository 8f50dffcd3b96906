package authtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/auth/authtest"
	"github.com/nova-social/nova/shared/id"
)

// Every case draws exactly the error its name promises from the real
// verifier, so a suite that sees them all refused knows why.
func TestEveryCaseDrawsItsError(t *testing.T) {
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ks, err := auth.NewKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v, err := auth.NewVerifier(ks, auth.VerifierConfig{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	f, err := authtest.NewForger(key, id.NewUserID(), now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), f.Valid()); err != nil {
		t.Fatalf("the control token is refused: %v", err)
	}
	cases, err := f.Cases()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		_, err := v.Verify(context.Background(), c.Token)
		if !errors.Is(err, c.Kind) || !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("%s: %v, want %v", c.Name, err, c.Kind)
		}
	}
}

package identity_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nova-social/nova/shared/domain/identity"
)

// Asking for a password reset answers alike for a registered address and
// a free one; only the registered one gets a code, which sets a new
// password once, ends every session and stops the account's other codes.
func TestPasswordReset(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.register(t, "alice")
	before := f.token(t, "alice")

	ask := func(email string) (int, string) {
		w := f.do(t, call{method: "POST", path: "/v1/password-resets", body: `{"email":"` + email + `"}`})
		return w.Code, w.Body.String()
	}
	takenCode, takenBody := ask("ALICE@example.com")
	freeCode, freeBody := ask("nobody@example.com")
	if takenCode != http.StatusAccepted || takenCode != freeCode || takenBody != freeBody {
		t.Fatalf("a registered address: %d %s; a free one: %d %s", takenCode, takenBody, freeCode, freeBody)
	}
	first := f.code(t, "alice@example.com", 1)
	if _, err := f.svc.Verify(ctx, first); !errors.Is(err, identity.ErrBadCode) {
		t.Fatalf("a reset code taken as a sign-up code: %v", err)
	}
	if err := f.svc.RequestPasswordReset(ctx, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	second := f.code(t, "alice@example.com", 2)

	// The policy holds; a refused password spends nothing.
	if err := f.svc.ResetPassword(ctx, second, "password"); !errors.Is(err, identity.ErrInvalid) {
		t.Fatalf("a common password: %v", err)
	}
	w := f.do(t, call{method: "POST", path: "/v1/password-resets/confirmation", body: `{"code":"` + second + `","new_password":"a fresh horse battery"}`})
	if w.Code != http.StatusNoContent {
		t.Fatalf("reset: %d %s", w.Code, w.Body)
	}
	w = f.do(t, call{method: "GET", path: "/v1/users/me", token: before})
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("a session from before the reset: %d", w.Code)
	}
	if _, err := f.svc.Login(ctx, identity.Credentials{Username: "alice", Password: "a fresh horse battery"}, identity.Device{}); err != nil {
		t.Fatalf("log in with the new password: %v", err)
	}
	if _, err := f.svc.Login(ctx, identity.Credentials{Username: "alice", Password: "correct horse alice"}, identity.Device{}); !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("the old password: %v", err)
	}
	for _, c := range []string{second, first} {
		if err := f.svc.ResetPassword(ctx, c, "yet another horse"); !errors.Is(err, identity.ErrBadCode) {
			t.Fatalf("a used code, or one older than the reset: %v", err)
		}
	}
	if n := len(f.mail.Messages("nobody@example.com")); n != 0 {
		t.Fatalf("%d mails to an address no account has", n)
	}
	w = f.do(t, call{method: "POST", path: "/v1/password-resets/confirmation", body: `{"code":"` + strings.Repeat("B", 43) + `","new_password":"a fresh horse battery"}`})
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), identity.CodeBadCode) {
		t.Fatalf("a made-up code: %d %s", w.Code, w.Body)
	}
}

func TestPasswordResetCodeExpires(t *testing.T) {
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	f := setup(t, func(c *identity.Config) { c.Now = func() time.Time { return now } })
	ctx := context.Background()
	f.register(t, "bob")
	if err := f.svc.RequestPasswordReset(ctx, "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	code := f.code(t, "bob@example.com", 1)
	now = now.Add(identity.ResetTTL + time.Second)
	if err := f.svc.ResetPassword(ctx, code, "a fresh horse battery"); !errors.Is(err, identity.ErrBadCode) {
		t.Fatalf("an expired code: %v", err)
	}
}

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

// Registering tells no one whether an address has an account: the answer
// is byte for byte the same, and only the address's mailbox learns which.
func TestSignUpDoesNotRevealWhetherAnAddressIsRegistered(t *testing.T) {
	f := setup(t)
	f.register(t, "alice")
	f.clearOutbox(t)

	answer := func(username, email string) (int, string) {
		w := f.do(t, call{method: "POST", path: "/v1/users", body: `{"username":"` + username + `","email":"` + email + `","password":"correct horse battery"}`})
		return w.Code, w.Body.String()
	}
	takenCode, takenBody := answer("mallory", "ALICE@example.com")
	freeCode, freeBody := answer("carol", "carol@example.com")
	if takenCode != http.StatusAccepted || takenCode != freeCode || takenBody != freeBody {
		t.Fatalf("a registered address answered %d %s, a free one %d %s", takenCode, takenBody, freeCode, freeBody)
	}
	if n := f.count(t, "users"); n != 1 {
		t.Fatalf("%d users after two sign-ups, want alice alone until a code comes back", n)
	}
	if n := len(f.outboxEvents(t)); n != 0 {
		t.Fatalf("%d events from sign-ups without a code", n)
	}

	// Alice's mailbox hears of the attempt and gets no code.
	notice := f.mailTo(t, "alice@example.com", 1)
	if _, ok := identity.CodeFromMail(notice.Text); ok || !strings.Contains(notice.Text, "@alice") {
		t.Fatalf("the owner's notice:\n%s", notice.Text)
	}
	// Carol's code makes her account, once.
	if m := f.mailTo(t, "carol@example.com", 1); !strings.Contains(m.Text, "once, for 24 hours") || !strings.Contains(m.Text, "@carol") {
		t.Fatalf("the code's mail:\n%s", m.Text)
	}
	code := f.code(t, "carol@example.com", 1)
	u, err := f.svc.Verify(context.Background(), code)
	if err != nil || u.Username != "carol" || u.Email != "carol@example.com" {
		t.Fatalf("verify: %+v, %v", u, err)
	}
	if _, err := f.svc.Login(context.Background(), identity.Credentials{Username: "carol", Password: "correct horse battery"}, identity.Device{}); err != nil {
		t.Fatalf("log in with the password given at sign-up: %v", err)
	}
	if _, err := f.svc.Verify(context.Background(), code); !errors.Is(err, identity.ErrBadCode) {
		t.Fatalf("a code used twice: %v", err)
	}
	if n := f.count(t, "signups"); n != 0 {
		t.Fatalf("%d sign-ups left", n)
	}
}

// Someone who signs up with another person's address gets nothing: the
// code goes to the address, and the owner's own sign-up is not theirs.
func TestSignUpWithSomeoneElsesAddressClaimsNothing(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if err := f.svc.SignUp(ctx, identity.Registration{Username: "squatter", Email: "dana@example.com", Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SignUp(ctx, identity.Registration{Username: "dana", Email: "Dana@Example.com", Password: "dana's own password"}); err != nil {
		t.Fatal(err)
	}
	// Dana uses the code of her own sign-up; the squatter's dies with it.
	squat, own := f.code(t, "dana@example.com", 1), f.code(t, "dana@example.com", 2)
	if u, err := f.svc.Verify(ctx, own); err != nil || u.Username != "dana" {
		t.Fatalf("verify dana: %+v, %v", u, err)
	}
	if _, err := f.svc.Verify(ctx, squat); !errors.Is(err, identity.ErrBadCode) {
		t.Fatalf("the other sign-up's code after the address was proven: %v", err)
	}
}

func TestSignUpCodes(t *testing.T) {
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	f := setup(t, func(c *identity.Config) { c.Now = clock; c.SignUpMailsPerHour = 3 })
	ctx := context.Background()
	reg := func(name string) identity.Registration {
		return identity.Registration{Username: name, Email: name + "@example.com", Password: "correct horse battery"}
	}

	// A code expires.
	if err := f.svc.SignUp(ctx, reg("erin")); err != nil {
		t.Fatal(err)
	}
	code := f.code(t, "erin@example.com", 1)
	now = now.Add(identity.DefaultSignUpTTL + time.Second)
	if _, err := f.svc.Verify(ctx, code); !errors.Is(err, identity.ErrBadCode) {
		t.Fatalf("an expired code: %v", err)
	}

	// A username taken between sign-up and code: 409 at the code.
	if err := f.svc.SignUp(ctx, reg("frank")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Register(ctx, identity.Registration{Username: "Frank", Email: "other@example.com", Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	w := f.do(t, call{method: "POST", path: "/v1/users/verification", body: `{"code":"` + f.code(t, "frank@example.com", 1) + `"}`})
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "username_taken") {
		t.Fatalf("code for a username taken since: %d %s", w.Code, w.Body)
	}
	// A username already taken is said at once: usernames are public.
	if err := f.svc.SignUp(ctx, reg("FRANK")); !errors.Is(err, identity.ErrUsernameTaken) {
		t.Fatalf("sign up as a taken username: %v", err)
	}

	// An address gets SignUpMailsPerHour sign-up mails an hour, no more,
	// and the answer does not change.
	for range 5 {
		if err := f.svc.SignUp(ctx, identity.Registration{Username: "gina", Email: "gina@example.com", Password: "correct horse battery"}); err != nil {
			t.Fatal(err)
		}
	}
	f.mailTo(t, "gina@example.com", 3)
	time.Sleep(200 * time.Millisecond) // what the queue would still send
	if n := len(f.mail.Messages("gina@example.com")); n != 3 {
		t.Fatalf("gina got %d sign-up mails in an hour, want 3", n)
	}
	now = now.Add(time.Hour)
	if err := f.svc.SignUp(ctx, identity.Registration{Username: "gina", Email: "gina@example.com", Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	f.mailTo(t, "gina@example.com", 4)
}

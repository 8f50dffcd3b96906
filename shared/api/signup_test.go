package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/mail/sink"
	"github.com/nova-social/nova/shared/testrig"
)

// relay is the local mail relay every nova-api these tests start sends its
// sign-up mail to (roomy puts it in their environment). Addresses are
// unique per test, so tests share it as they share PostgreSQL.
var relay *sink.Sink

func TestMain(m *testing.M) {
	var err error
	relay, err = sink.Start(sink.Config{Addr: "127.0.0.1:0", Username: "nova-api-tests", Password: fmt.Sprint(time.Now().UnixNano()),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start the local mail relay:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = relay.Close()
	os.Exit(code)
}

// signUpCode waits for the n-th mail to email and returns the sign-up code
// in it.
func signUpCode(t testing.TB, email string, n int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	m, err := relay.Wait(ctx, email, n)
	if err != nil {
		t.Fatal(err)
	}
	code, ok := identity.CodeFromMail(m.Text)
	if !ok {
		t.Fatalf("mail %d to %s holds no code:\n%s", n, email, m.Text)
	}
	return code
}

// verification is the body that takes back the first sign-up code mailed
// to email.
func verification(t testing.TB, email string) map[string]any {
	t.Helper()
	return map[string]any{"code": signUpCode(t, email, 1)}
}

// "registration says 409 email_taken (enumeration)": signing up with a
// registered address answers exactly as with a free one, creates nothing,
// and only the address's owner hears of it.
func TestSignUpDoesNotTellWhoIsRegistered(t *testing.T) {
	r := newSecRig(t, nil)
	owner := r.people[owner]
	probe := func(username, email string) (int, map[string]any) {
		return r.json("POST", "/v1/users", "", map[string]any{"username": username, "email": email, "password": "a probing password"})
	}
	freeEmail := "free_" + testrig.ID()[:8] + "@example.com"
	takenCode, takenBody := probe("probe_"+testrig.ID()[:8], strings.ToUpper(owner.email))
	freeCode, freeBody := probe("probe_"+testrig.ID()[:8], freeEmail)
	if takenCode != http.StatusAccepted || takenCode != freeCode || !reflect.DeepEqual(takenBody, freeBody) {
		t.Fatalf("a registered address: %d %v; a free one: %d %v", takenCode, takenBody, freeCode, freeBody)
	}
	var n int
	if err := r.pool.QueryRow(context.Background(), `SELECT count(*) FROM users WHERE username LIKE 'probe_%'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d accounts from sign-ups whose codes never came back (%v)", n, err)
	}
	// The owner gets a notice with no code in it; the free address a code.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	notice, err := relay.Wait(ctx, owner.email, 2) // the first made the account
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := identity.CodeFromMail(notice.Text); ok {
		t.Fatalf("the owner's notice holds a code:\n%s", notice.Text)
	}
	signUpCode(t, freeEmail, 1)
	// A made-up code is refused, creating nothing.
	if code, body := r.json("POST", "/v1/users/verification", "", map[string]any{"code": strings.Repeat("A", 43)}); code != http.StatusBadRequest || errorCode(body) != identity.CodeBadCode {
		t.Fatalf("a made-up code: %d %v", code, body)
	}
}

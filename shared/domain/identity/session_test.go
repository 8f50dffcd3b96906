package identity_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/domain/session"
	"github.com/nova-social/nova/shared/id"
)

// A token is honoured while its session lives: logout ends it on the next
// request, and only its own session.
func TestLogoutEndsTheSession(t *testing.T) {
	f := setup(t)
	f.register(t, "alice")
	phone, laptop := f.token(t, "alice"), f.token(t, "alice")
	if w := f.do(t, call{method: "GET", path: "/v1/users/me", token: phone}); w.Code != http.StatusOK {
		t.Fatalf("before logout: %d %s", w.Code, w.Body)
	}
	if w := f.do(t, call{method: "DELETE", path: "/v1/sessions/current", token: phone}); w.Code != http.StatusNoContent {
		t.Fatalf("logout: %d %s", w.Code, w.Body)
	}
	w := f.do(t, call{method: "GET", path: "/v1/users/me", token: phone})
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("after logout: %d %s %q, want 401 invalid_token", w.Code, w.Body, w.Header().Get("WWW-Authenticate"))
	}
	if w := f.do(t, call{method: "DELETE", path: "/v1/sessions/current", token: phone}); w.Code != http.StatusUnauthorized {
		t.Errorf("second logout: %d, want 401", w.Code)
	}
	if w := f.do(t, call{method: "GET", path: "/v1/users/me", token: laptop}); w.Code != http.StatusOK {
		t.Errorf("the other session after logout: %d %s", w.Code, w.Body)
	}
}

func TestListAndRevokeSessions(t *testing.T) {
	f := setup(t)
	alice := f.register(t, "alice")
	f.register(t, "bob")
	ctx := context.Background()
	phone, err := f.svc.Login(ctx, identity.Credentials{Username: "alice", Password: "correct horse alice"},
		identity.Device{UserAgent: "Phone/1.0"})
	if err != nil {
		t.Fatal(err)
	}
	laptop := f.token(t, "alice")
	bob := f.token(t, "bob")

	var list struct {
		Sessions []struct {
			ID        string `json:"id"`
			UserAgent string `json:"user_agent"`
			Current   bool   `json:"current"`
		} `json:"sessions"`
	}
	w := f.do(t, call{method: "GET", path: "/v1/sessions", token: laptop})
	if w.Code != http.StatusOK {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}
	if err := json.NewDecoder(w.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if len(list.Sessions) != 2 {
		t.Fatalf("alice has %d sessions listed, want 2: %+v", len(list.Sessions), list.Sessions)
	}
	for _, s := range list.Sessions {
		if s.Current != (s.ID != phone.ID) {
			t.Errorf("session %s current=%v", s.ID, s.Current)
		}
		if s.ID == phone.ID && s.UserAgent != "Phone/1.0" {
			t.Errorf("the phone's session shows user agent %q", s.UserAgent)
		}
	}
	// bob cannot end alice's session, nor learn it exists.
	if w := f.do(t, call{method: "DELETE", path: "/v1/sessions/" + phone.ID, token: bob}); w.Code != http.StatusNotFound {
		t.Errorf("bob revoking alice's session: %d, want 404", w.Code)
	}
	for _, bad := range []string{"not-a-uuid", "00000000-0000-0000-0000-000000000000"} {
		if w := f.do(t, call{method: "DELETE", path: "/v1/sessions/" + bad, token: laptop}); w.Code != http.StatusNotFound {
			t.Errorf("revoking %q: %d, want 404", bad, w.Code)
		}
	}
	if w := f.do(t, call{method: "GET", path: "/v1/users/me", token: phone.Token}); w.Code != http.StatusOK {
		t.Fatalf("phone before revocation: %d", w.Code)
	}
	if w := f.do(t, call{method: "DELETE", path: "/v1/sessions/" + phone.ID, token: laptop}); w.Code != http.StatusNoContent {
		t.Fatalf("revoke the phone: %d %s", w.Code, w.Body)
	}
	if w := f.do(t, call{method: "GET", path: "/v1/users/me", token: phone.Token}); w.Code != http.StatusUnauthorized {
		t.Errorf("phone after revocation: %d, want 401", w.Code)
	}
	if alive, err := f.marks.Alive(ctx, alice.ID, phone.ID); err != nil || alive[0] {
		t.Errorf("the revoked session is still marked live for the gateway: %v %v", alive, err)
	}
}

func TestChangePasswordEndsEverySession(t *testing.T) {
	f := setup(t)
	alice := f.register(t, "alice")
	other, current := f.token(t, "alice"), f.token(t, "alice")
	f.clearOutbox(t)

	w := f.do(t, call{method: "PUT", path: "/v1/users/me/password", token: current,
		body: `{"current_password":"wrong horse","new_password":"a brand new horse"}`})
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "wrong_password") {
		t.Fatalf("wrong current password: %d %s, want 403 wrong_password", w.Code, w.Body)
	}
	w = f.do(t, call{method: "PUT", path: "/v1/users/me/password", token: current,
		body: `{"current_password":"correct horse alice","new_password":"password"}`})
	if w.Code != http.StatusBadRequest {
		t.Errorf("a common new password: %d %s, want 400", w.Code, w.Body)
	}
	for _, tok := range []string{other, current} {
		if w := f.do(t, call{method: "GET", path: "/v1/users/me", token: tok}); w.Code != http.StatusOK {
			t.Fatalf("a refused change ended a session: %d", w.Code)
		}
	}

	w = f.do(t, call{method: "PUT", path: "/v1/users/me/password", token: current,
		body: `{"current_password":"correct horse alice","new_password":"a brand new horse"}`})
	if w.Code != http.StatusOK {
		t.Fatalf("change: %d %s", w.Code, w.Body)
	}
	var tok struct {
		Token     string `json:"token"`
		TokenType string `json:"token_type"`
		ExpiresIn int64  `json:"expires_in"`
	}
	decode(t, w, &tok)
	for name, old := range map[string]string{"another session": other, "the changing session": current} {
		if w := f.do(t, call{method: "GET", path: "/v1/users/me", token: old}); w.Code != http.StatusUnauthorized {
			t.Errorf("%s after the change: %d, want 401", name, w.Code)
		}
	}
	if w := f.do(t, call{method: "GET", path: "/v1/users/me", token: tok.Token}); w.Code != http.StatusOK {
		t.Errorf("the new token: %d %s", w.Code, w.Body)
	}
	ctx := context.Background()
	if _, err := f.svc.Login(ctx, identity.Credentials{Username: "alice", Password: "correct horse alice"}, identity.Device{}); !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Errorf("login with the old password: %v", err)
	}
	if _, err := f.svc.Login(ctx, identity.Credentials{Username: "alice", Password: "a brand new horse"}, identity.Device{}); err != nil {
		t.Errorf("login with the new password: %v", err)
	}
	sessions, err := f.svc.Sessions(ctx, alice.ID)
	if err != nil || len(sessions) != 2 {
		t.Errorf("live sessions after the change and one login: %d, %v; want 2", len(sessions), err)
	}
	f.noEvents(t) // a password is no one else's business
}

// The gateway reads Redis's marks: a login marks its session, and a Redis
// that lost them gets every live session back (and no ended one) from
// SyncSessions.
func TestSessionsAreMarkedForTheGateway(t *testing.T) {
	f := setup(t)
	alice := f.register(t, "alice")
	ctx := context.Background()
	login := func() identity.Session {
		s, err := f.svc.Login(ctx, identity.Credentials{Username: "alice", Password: "correct horse alice"}, identity.Device{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	live, ended := login(), login()
	if err := f.svc.Logout(ctx, auth.Principal{UserID: alice.ID, SessionID: ended.ID}); err != nil {
		t.Fatal(err)
	}
	marks := f.marks
	check := func(when string) {
		t.Helper()
		alive, err := marks.Alive(ctx, alice.ID, live.ID, ended.ID)
		if err != nil || !alive[0] || alive[1] {
			t.Errorf("%s: alive %v, %v; want [true false]", when, alive, err)
		}
		if alive, _ := marks.Alive(ctx, id.NewUserID(), live.ID); alive[0] {
			t.Errorf("%s: alice's session counts as another user's", when)
		}
	}
	check("after login and logout")

	// Redis loses its data (the sentinel with it): the gateway must not
	// take a missing mark for an ended session.
	if err := marks.Unmark(ctx, live.ID); err != nil {
		t.Fatal(err)
	}
	if err := marks.Forget(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := marks.Alive(ctx, alice.ID, live.ID); !errors.Is(err, session.ErrUnsynced) {
		t.Errorf("a missing mark without the sentinel: %v, want ErrUnsynced", err)
	}
	if err := f.svc.SyncSessions(ctx); err != nil {
		t.Fatal(err)
	}
	check("after the resync")
}

// With PostgreSQL unreachable, a live session still passes on its Redis
// mark, as a user whatever its role; an ended one does not.
func TestSessionsOutlastAPostgreSQLOutage(t *testing.T) {
	f := setup(t)
	alice := f.register(t, "alice")
	ctx := context.Background()
	live, err := f.svc.Login(ctx, identity.Credentials{Username: "alice", Password: "correct horse alice"}, identity.Device{})
	if err != nil {
		t.Fatal(err)
	}
	ended, err := f.svc.Login(ctx, identity.Credentials{Username: "alice", Password: "correct horse alice"}, identity.Device{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Logout(ctx, auth.Principal{UserID: alice.ID, SessionID: ended.ID}); err != nil {
		t.Fatal(err)
	}
	roles, err := identity.NewRoles(f.pool, f.cfg.Outbox)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := roles.Set(ctx, alice.ID, auth.RoleAdmin, "test"); err != nil {
		t.Fatal(err)
	}
	// The same service on a pool that can no longer reach the database.
	down, err := pgxpool.New(ctx, "postgres://nobody@127.0.0.1:1/nova?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	down.Close()
	cfg := f.cfg
	cfg.Pool = down
	svc, err := identity.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v := svc.Verifier(f.verifier)
	c, err := v.Verify(ctx, live.Token)
	if err != nil || c.Role != auth.RoleUser {
		t.Errorf("a live session with PostgreSQL away: %+v, %v; want it passed as a user", c, err)
	}
	if _, err := v.Verify(ctx, ended.Token); err == nil || errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("an ended session with PostgreSQL away: %v; want an error that is not the token's (503)", err)
	}
}

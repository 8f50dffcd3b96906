package identity_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
)

// mountDeletion serves the deletion endpoint beside f's, with erasers.
func (f *fixture) mountDeletion(t testing.TB, erasers ...identity.Eraser) {
	t.Helper()
	mux := http.NewServeMux()
	authed := httpapi.Authenticate(f.svc.Verifier(f.verifier), quietLog)
	f.svc.Mount(mux, authed)
	f.svc.Deletion(erasers...).Mount(mux, authed)
	f.handler = mux
}

// A deletion needs the password; wrong, missing or malformed, it changes
// nothing. With it, the user, their follow edges both ways and their
// sessions go in one transaction with UserDeleted, the erasers run inside
// it, and the token stops working.
func TestDeleteAccount(t *testing.T) {
	f := setup(t)
	var erased []id.UserID
	f.mountDeletion(t, identity.EraserFunc(func(ctx context.Context, tx pgx.Tx, uid id.UserID, _ time.Time) error {
		var n int
		// Inside the deletion's transaction: the user is still there.
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE id = $1`, uid.String()).Scan(&n); err != nil || n != 1 {
			t.Errorf("eraser sees %d users (%v)", n, err)
		}
		erased = append(erased, uid)
		return nil
	}))
	ada, bob := f.register(t, "ada"), f.register(t, "bob")
	ctx := context.Background()
	for _, p := range [][2]id.UserID{{ada.ID, bob.ID}, {bob.ID, ada.ID}} {
		if _, err := f.svc.Follow(ctx, p[0], p[1]); err != nil {
			t.Fatal(err)
		}
	}
	tok, bobTok := f.token(t, "ada"), f.token(t, "bob")
	f.clearOutbox(t)

	for _, c := range []struct {
		body string
		want int
		code string
	}{
		{`{"password":"wrong horse ada"}`, http.StatusForbidden, identity.CodeWrongPassword},
		{`{}`, http.StatusBadRequest, httpapi.CodeValidation},
		{`{"password":"correct horse ada","password":"x"}`, http.StatusBadRequest, ""},
		{`not json`, http.StatusBadRequest, ""},
	} {
		w := f.do(t, call{method: "DELETE", path: "/v1/users/me", token: tok, body: c.body})
		var e errorBody
		decode(t, w, &e)
		if w.Code != c.want || e.Error.Code == "" || (c.code != "" && e.Error.Code != c.code) {
			t.Fatalf("%s: %d %+v, want %d %s", c.body, w.Code, e, c.want, c.code)
		}
	}
	if w := f.do(t, call{method: "DELETE", path: "/v1/users/me", body: `{"password":"correct horse ada"}`}); w.Code != http.StatusUnauthorized {
		t.Fatalf("without a token: %d", w.Code)
	}
	if n := f.count(t, "users"); n != 2 || len(erased) != 0 || len(f.outboxEvents(t)) != 0 || f.count(t, "follows") != 2 {
		t.Fatalf("refused deletions changed something: %d users, erased %v", n, erased)
	}

	if w := f.do(t, call{method: "DELETE", path: "/v1/users/me", token: tok, body: `{"password":"correct horse ada"}`}); w.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", w.Code, w.Body)
	}
	if len(erased) != 1 || erased[0] != ada.ID {
		t.Fatalf("erasers ran for %v", erased)
	}
	var users, follows, sessions int
	if err := f.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM users WHERE id = $1),
		(SELECT count(*) FROM follows WHERE follower_id = $1 OR followee_id = $1),
		(SELECT count(*) FROM sessions WHERE user_id = $1)`, ada.ID.String()).Scan(&users, &follows, &sessions); err != nil {
		t.Fatal(err)
	}
	if users+follows+sessions != 0 {
		t.Fatalf("left behind: %d users, %d follows, %d sessions", users, follows, sessions)
	}
	evs := f.outboxEvents(t)
	if len(evs) != 1 {
		t.Fatalf("events %v, want UserDeleted alone", evs)
	}
	if d, ok := evs[0].Message.(*eventsv1.UserDeleted); !ok || d.GetUserId() != ada.ID.String() || evs[0].Key != ada.ID.String() || evs[0].Topic != "user-events" {
		t.Fatalf("event %v on %s/%s", evs[0].Message, evs[0].Topic, evs[0].Key)
	}
	if w := f.do(t, call{method: "GET", path: "/v1/users/me", token: tok}); w.Code != http.StatusUnauthorized {
		t.Fatalf("the deleted account's token: %d", w.Code)
	}
	if w := f.do(t, call{method: "GET", path: "/v1/users/me", token: bobTok}); w.Code != http.StatusOK {
		t.Fatalf("another account's token: %d", w.Code)
	}
	if _, err := f.svc.Login(ctx, identity.Credentials{Username: "ada", Password: "correct horse ada"}, identity.Device{}); !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("login after deletion: %v", err)
	}
}

// An eraser's failure rolls the whole deletion back.
func TestDeleteAccountRollsBackOnEraserFailure(t *testing.T) {
	f := setup(t)
	boom := errors.New("store away")
	f.mountDeletion(t, identity.EraserFunc(func(ctx context.Context, tx pgx.Tx, uid id.UserID, _ time.Time) error {
		return boom
	}))
	ada := f.register(t, "ada")
	f.clearOutbox(t)
	err := f.svc.Deletion(identity.EraserFunc(func(context.Context, pgx.Tx, id.UserID, time.Time) error { return boom })).
		Delete(context.Background(), ada.ID, "correct horse ada")
	if !errors.Is(err, boom) {
		t.Fatalf("delete: %v", err)
	}
	if f.count(t, "users") != 1 || len(f.outboxEvents(t)) != 0 {
		t.Fatal("a failed deletion changed something")
	}
	if w := f.do(t, call{method: "DELETE", path: "/v1/users/me", token: f.token(t, "ada"), body: `{"password":"correct horse ada"}`}); w.Code != http.StatusInternalServerError {
		t.Fatalf("delete through HTTP with a failing eraser: %d", w.Code)
	}
	if f.count(t, "users") != 1 {
		t.Fatal("the user is gone after a failed deletion")
	}
}

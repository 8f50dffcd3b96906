package identity_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
)

// A role is granted and revoked by user id, and a request sees the role
// stored now, whatever the token was issued with.
func TestRolesByUserID(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	alice := f.register(t, "alice")
	tok := f.token(t, "alice") // issued while alice is a user
	roles, err := identity.NewRoles(f.pool, f.cfg.Outbox)
	if err != nil {
		t.Fatal(err)
	}
	admin := httpapi.Authenticate(f.svc.Verifier(f.verifier), quietLog)(
		httpapi.RequireRole(auth.RoleAdmin, quietLog)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		})))
	adminCall := func() int {
		mux := http.NewServeMux()
		mux.Handle("GET /admin", admin)
		g := *f
		g.handler = mux
		return g.do(t, call{method: "GET", path: "/admin", token: tok}).Code
	}
	if code := adminCall(); code != http.StatusForbidden {
		t.Fatalf("a user on an admin route: %d, want 403", code)
	}
	f.clearOutbox(t)

	rc, err := roles.Set(ctx, alice.ID, auth.RoleAdmin, "ops-oncall")
	if err != nil || !rc.Changed || rc.Previous != auth.RoleUser || rc.User.Role != auth.RoleAdmin {
		t.Fatalf("grant: %+v, %v", rc, err)
	}
	evs := f.outboxEvents(t)
	if len(evs) != 1 {
		t.Fatalf("%d events for a grant, want 1", len(evs))
	}
	ev, ok := evs[0].Message.(*eventsv1.UserRoleChanged)
	if !ok || ev.GetUserId() != string(alice.ID) || ev.GetRole() != "admin" || ev.GetPreviousRole() != "user" ||
		ev.GetChangedBy() != "ops-oncall" || evs[0].Topic != "user-events" || evs[0].Key != string(alice.ID) {
		t.Errorf("grant event %s %s %+v", evs[0].Topic, evs[0].Key, evs[0].Message)
	}
	if code := adminCall(); code != http.StatusNoContent {
		t.Errorf("the same token after the grant: %d, want 204", code)
	}

	// A second grant changes nothing and says so.
	f.clearOutbox(t)
	if rc, err := roles.Set(ctx, alice.ID, auth.RoleAdmin, "ops-oncall"); err != nil || rc.Changed {
		t.Errorf("second grant: %+v, %v", rc, err)
	}
	f.noEvents(t)

	if rc, err := roles.Set(ctx, alice.ID, auth.RoleUser, "ops-oncall"); err != nil || !rc.Changed {
		t.Fatalf("revoke: %+v, %v", rc, err)
	}
	if code := adminCall(); code != http.StatusForbidden {
		t.Errorf("the same token after the revocation: %d, want 403", code)
	}
	holders, err := roles.Holders(ctx, auth.RoleAdmin)
	if err != nil || len(holders) != 0 {
		t.Errorf("admins after the revocation: %v, %v", holders, err)
	}

	for name, c := range map[string]struct {
		uid  id.UserID
		role auth.Role
		by   string
		want error
	}{
		"an unknown user":  {id.NewUserID(), auth.RoleAdmin, "ops", identity.ErrNotFound},
		"a malformed id":   {"alice", auth.RoleAdmin, "ops", identity.ErrInvalid},
		"an unknown role":  {alice.ID, "root", "ops", identity.ErrInvalid},
		"no operator name": {alice.ID, auth.RoleAdmin, " ", identity.ErrInvalid},
	} {
		if _, err := roles.Set(ctx, c.uid, c.role, c.by); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

// Reserved names cannot be registered or taken by renaming, in any case.
func TestReservedUsernames(t *testing.T) {
	f := setup(t, func(c *identity.Config) { c.Reserved = []string{"acme_support"} })
	ctx := context.Background()
	for _, name := range []string{"admin", "Admin", "ROOT", "Nova", "ACME_Support"} {
		_, err := f.svc.Register(ctx, identity.Registration{Username: name, Email: "x" + strings.ToLower(name) + "@example.com", Password: "correct horse battery"})
		if !errors.Is(err, identity.ErrUsernameReserved) {
			t.Errorf("register %q: %v, want ErrUsernameReserved", name, err)
		}
	}
	w := f.do(t, call{method: "POST", path: "/v1/users", body: `{"username":"Administrator","email":"a@example.com","password":"correct horse battery"}`})
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "username_reserved") {
		t.Errorf("register over HTTP: %d %s", w.Code, w.Body)
	}
	alice := f.register(t, "alice")
	name := "Admin"
	if _, err := f.svc.UpdateProfile(ctx, alice.ID, identity.ProfileUpdate{Username: &name}); !errors.Is(err, identity.ErrUsernameReserved) {
		t.Errorf("rename to %q: %v", name, err)
	}
	if n := f.count(t, "users"); n != 1 {
		t.Errorf("%d users, want only alice", n)
	}
}

package identity_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/id"
)

// A block removes the follow edges both ways with a UserUnfollowed each, in
// its transaction; after it neither may follow the other.
func TestBlockRemovesFollowsBothWays(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	alice, bob, carol := f.register(t, "alice"), f.register(t, "bob"), f.register(t, "carol")
	for _, p := range [][2]id.UserID{{alice.ID, bob.ID}, {bob.ID, alice.ID}, {alice.ID, carol.ID}} {
		if _, err := f.svc.Follow(ctx, p[0], p[1]); err != nil {
			t.Fatal(err)
		}
	}
	f.clearOutbox(t)

	created, err := f.svc.Block(ctx, alice.ID, bob.ID)
	if err != nil || !created {
		t.Fatalf("Block = %v, %v; want true", created, err)
	}
	evs := f.outboxEvents(t)
	if len(evs) != 2 {
		t.Fatalf("%d events after the block, want 2 UserUnfollowed", len(evs))
	}
	seen := map[[2]string]bool{}
	for _, ev := range evs {
		un, ok := ev.Message.(*eventsv1.UserUnfollowed)
		if !ok {
			t.Fatalf("event %T, want UserUnfollowed", ev.Message)
		}
		seen[[2]string{un.FollowerId, un.FolloweeId}] = true
	}
	if !seen[[2]string{string(alice.ID), string(bob.ID)}] || !seen[[2]string{string(bob.ID), string(alice.ID)}] {
		t.Errorf("UserUnfollowed for %v, want both edges between alice and bob", seen)
	}
	checkFollows(t, f, alice.ID, bob.ID, false)
	checkFollows(t, f, bob.ID, alice.ID, false)
	checkFollows(t, f, alice.ID, carol.ID, true) // a third user is untouched
	f.clearOutbox(t)

	// Idempotent: a second block changes and emits nothing.
	if created, err := f.svc.Block(ctx, alice.ID, bob.ID); err != nil || created {
		t.Errorf("second Block = %v, %v; want false, nil", created, err)
	}
	// The blocked cannot follow the blocker, who is no one to them; the
	// blocker must unblock first.
	if _, err := f.svc.Follow(ctx, bob.ID, alice.ID); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("blocked follows blocker: %v, want ErrNotFound", err)
	}
	if _, err := f.svc.Follow(ctx, alice.ID, bob.ID); !errors.Is(err, identity.ErrBlocked) {
		t.Errorf("blocker follows blocked: %v, want ErrBlocked", err)
	}
	f.noEvents(t)
	for _, pair := range [][2]id.UserID{{alice.ID, bob.ID}, {bob.ID, alice.ID}} {
		if b, err := f.svc.Blocked(ctx, pair[0], pair[1]); err != nil || !b {
			t.Errorf("Blocked(%s, %s) = %v, %v; want true", pair[0], pair[1], b, err)
		}
	}
	if b, err := f.svc.Blocked(ctx, alice.ID, carol.ID); err != nil || b {
		t.Errorf("Blocked(alice, carol) = %v, %v; want false", b, err)
	}
	if b, err := f.svc.BlockedBy(ctx, alice.ID, bob.ID); err != nil || b {
		t.Errorf("BlockedBy(alice, bob) = %v, %v; want false (alice blocked bob)", b, err)
	}

	// Unblocking lets them follow again; the removed edges stay removed.
	if removed, err := f.svc.Unblock(ctx, alice.ID, bob.ID); err != nil || !removed {
		t.Fatalf("Unblock = %v, %v", removed, err)
	}
	if removed, err := f.svc.Unblock(ctx, alice.ID, bob.ID); err != nil || removed {
		t.Errorf("second Unblock = %v, %v; want false, nil", removed, err)
	}
	checkFollows(t, f, bob.ID, alice.ID, false)
	if _, err := f.svc.Follow(ctx, bob.ID, alice.ID); err != nil {
		t.Errorf("follow after unblock: %v", err)
	}

	// Refusals change nothing.
	if _, err := f.svc.Block(ctx, alice.ID, alice.ID); !errors.Is(err, identity.ErrSelfBlock) {
		t.Errorf("self-block: %v, want ErrSelfBlock", err)
	}
	if _, err := f.svc.Block(ctx, alice.ID, id.NewUserID()); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("block unknown user: %v, want ErrNotFound", err)
	}
	if _, err := f.svc.Unblock(ctx, alice.ID, id.NewUserID()); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("unblock unknown user: %v, want ErrNotFound", err)
	}
	if _, err := f.svc.Block(ctx, alice.ID, "nope"); !errors.Is(err, identity.ErrInvalid) {
		t.Errorf("block bad id: %v, want ErrInvalid", err)
	}
	if n := f.count(t, "blocks"); n != 0 {
		t.Errorf("%d blocks left", n)
	}
}

// A follow racing a block never survives it: either the follow lands first
// and the block removes it, or the block lands first and refuses it.
func TestBlockRacingFollowLeavesNoEdge(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	alice, bob := f.register(t, "alice"), f.register(t, "bob")
	for range 10 {
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); _, _ = f.svc.Follow(ctx, bob.ID, alice.ID) }()
		go func() { defer wg.Done(); _, _ = f.svc.Block(ctx, alice.ID, bob.ID) }()
		wg.Wait()
		checkFollows(t, f, bob.ID, alice.ID, false)
		if _, err := f.svc.Unblock(ctx, alice.ID, bob.ID); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBlockEndpoints(t *testing.T) {
	f := setup(t)
	alice, bob := f.register(t, "alice"), f.register(t, "bob")
	carol := f.register(t, "carol")
	at, bt := f.token(t, "alice"), f.token(t, "bob")

	for _, c := range []struct {
		call
		status int
		code   string
	}{
		{call{method: "POST", path: "/v1/users/" + bob.ID.String() + "/block"}, http.StatusUnauthorized, "unauthorized"},
		{call{method: "POST", path: "/v1/users/" + alice.ID.String() + "/block", token: at}, http.StatusUnprocessableEntity, identity.CodeCannotBlockSelf},
		{call{method: "POST", path: "/v1/users/nope/block", token: at}, http.StatusBadRequest, identity.CodeInvalidID},
		{call{method: "POST", path: "/v1/users/" + id.NewUserID().String() + "/block", token: at}, http.StatusNotFound, "not_found"},
		{call{method: "DELETE", path: "/v1/users/" + alice.ID.String() + "/block", token: at}, http.StatusUnprocessableEntity, identity.CodeCannotBlockSelf},
		{call{method: "GET", path: "/v1/users/me/blocks?limit=0", token: at}, http.StatusBadRequest, "bad_request"},
		{call{method: "GET", path: "/v1/users/me/blocks?cursor=xyz", token: at}, http.StatusBadRequest, "invalid_cursor"},
	} {
		w := f.do(t, c.call)
		var e errorBody
		if w.Code != c.status {
			t.Errorf("%s %s = %d, want %d: %s", c.method, c.path, w.Code, c.status, w.Body)
			continue
		}
		decode(t, w, &e)
		if e.Error.Code != c.code {
			t.Errorf("%s %s code %q, want %q", c.method, c.path, e.Error.Code, c.code)
		}
	}
	if n := f.count(t, "blocks"); n != 0 {
		t.Fatalf("refused requests left %d blocks", n)
	}

	for range 2 { // idempotent
		if w := f.do(t, call{method: "POST", path: "/v1/users/" + bob.ID.String() + "/block", token: at}); w.Code != http.StatusNoContent {
			t.Fatalf("block = %d: %s", w.Code, w.Body)
		}
	}
	time.Sleep(2 * time.Millisecond) // distinct block times, for the order
	if w := f.do(t, call{method: "POST", path: "/v1/users/" + carol.ID.String() + "/block", token: at}); w.Code != http.StatusNoContent {
		t.Fatalf("block = %d: %s", w.Code, w.Body)
	}

	// Bob sees alice as no one: profile and follow are 404.
	if w := f.do(t, call{method: "GET", path: "/v1/users/" + alice.ID.String(), token: bt}); w.Code != http.StatusNotFound {
		t.Errorf("blocked reads blocker's profile: %d, want 404", w.Code)
	}
	if w := f.do(t, call{method: "POST", path: "/v1/users/" + alice.ID.String() + "/follow", token: bt}); w.Code != http.StatusNotFound {
		t.Errorf("blocked follows blocker: %d, want 404", w.Code)
	}
	// Alice still reads bob's profile (to unblock him) but cannot follow.
	if w := f.do(t, call{method: "GET", path: "/v1/users/" + bob.ID.String(), token: at}); w.Code != http.StatusOK {
		t.Errorf("blocker reads blocked's profile: %d, want 200", w.Code)
	}
	w := f.do(t, call{method: "POST", path: "/v1/users/" + bob.ID.String() + "/follow", token: at})
	var e errorBody
	if w.Code != http.StatusForbidden {
		t.Fatalf("blocker follows blocked: %d, want 403: %s", w.Code, w.Body)
	}
	if decode(t, w, &e); e.Error.Code != identity.CodeUserBlocked {
		t.Errorf("code %q, want %q", e.Error.Code, identity.CodeUserBlocked)
	}

	// The list, newest first, one per page.
	type page struct {
		Items []struct {
			User      userBody  `json:"user"`
			BlockedAt time.Time `json:"blocked_at"`
		} `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}
	var got []id.UserID
	path := "/v1/users/me/blocks?limit=1"
	for range 3 {
		w := f.do(t, call{method: "GET", path: path, token: at})
		if w.Code != http.StatusOK {
			t.Fatalf("list = %d: %s", w.Code, w.Body)
		}
		var p page
		decode(t, w, &p)
		for _, it := range p.Items {
			if it.User.Email != "" {
				t.Errorf("block list shows %s's email", it.User.Username)
			}
			got = append(got, it.User.ID)
		}
		if p.NextCursor == nil {
			break
		}
		path = "/v1/users/me/blocks?limit=1&cursor=" + *p.NextCursor
	}
	if len(got) != 2 || got[0] != carol.ID || got[1] != bob.ID {
		t.Errorf("blocks listed %v, want carol then bob", got)
	}
	// Bob's list is his own: empty.
	w = f.do(t, call{method: "GET", path: "/v1/users/me/blocks", token: bt})
	var p page
	if decode(t, w, &p); len(p.Items) != 0 {
		t.Errorf("bob's list shows %d blocks", len(p.Items))
	}

	if w := f.do(t, call{method: "DELETE", path: "/v1/users/" + bob.ID.String() + "/block", token: at}); w.Code != http.StatusNoContent {
		t.Fatalf("unblock = %d: %s", w.Code, w.Body)
	}
	if w := f.do(t, call{method: "GET", path: "/v1/users/" + alice.ID.String(), token: bt}); w.Code != http.StatusOK {
		t.Errorf("profile after unblock: %d, want 200", w.Code)
	}
}

package notification_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/nova-social/nova/shared/domain/notification"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// Erasing a user deletes the notifications addressed to them and those
// only they acted in, and takes them out of groups shared with others;
// the trigger makes a redelivery a no-op.
func TestEraseUser(t *testing.T) {
	r := newRig(t)
	ada, bob, cy := id.NewUserID(), id.NewUserID(), id.NewUserID()
	post, bobsPost := id.NewPostID().String(), id.NewPostID().String()
	r.record("t1", like(ada, bob, post))                              // to ada
	r.record("t2", like(bob, ada, bobsPost), like(bob, cy, bobsPost)) // ada and cy, one group
	r.record("t3", notification.Incoming{Recipient: cy, Kind: notification.Comment, SubjectID: id.NewPostID().String(),
		Actor: ada, Preview: "ada's words"}) // ada alone

	trigger := notification.Trigger{Source: "/nova/identity-service", ID: "deleted-1"}
	for i, want := range []bool{true, false} {
		fresh, err := r.svc.Erase(r.ctx, trigger, ada)
		if err != nil || fresh != want {
			t.Fatalf("erase %d: %v %v, want %v", i, fresh, err, want)
		}
	}
	if ns := r.list(ada, false); len(ns) != 0 {
		t.Fatalf("ada's inbox: %v", ns)
	}
	if ns := r.list(cy, false); len(ns) != 0 {
		t.Fatalf("cy's inbox held only ada's comment: %v", ns)
	}
	ns := r.list(bob, false)
	if len(ns) != 1 || fmt.Sprint(ns[0].ActorIDs) != fmt.Sprint([]string{cy.String()}) || ns[0].Count != 1 ||
		ns[0].Text != "Your post has a new like" {
		t.Fatalf("bob's shared group: %+v", ns)
	}
	found, err := testrig.PostgresTraces(context.Background(), r.pool, ada.String(), "ada's words")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		// The outbox still holds the announcements of before.
		if len(f) < 11 || f[:11] != "nova_outbox" {
			t.Errorf("left behind: %s", f)
		}
	}
	if _, err := r.svc.Erase(r.ctx, notification.Trigger{Source: "/x", ID: "y"}, "nope"); !errors.Is(err, notification.ErrInvalid) {
		t.Fatalf("a malformed id: %v", err)
	}
}

// A new block makes the pair's inboxes forget each other: what ada did to
// bob and bob to ada goes, in their two inboxes only; cy's inbox, and cy's
// share of a group, stay.
func TestBlockedForgetsThePairInTheirInboxes(t *testing.T) {
	r := newRig(t)
	ada, bob, cy := id.NewUserID(), id.NewUserID(), id.NewUserID()
	adasPost, bobsPost, cysPost := id.NewPostID().String(), id.NewPostID().String(), id.NewPostID().String()
	r.record("t1", like(ada, bob, adasPost))                          // to ada, by bob alone
	r.record("t2", like(bob, ada, bobsPost), like(bob, cy, bobsPost)) // to bob, ada and cy
	r.record("t3", like(cy, ada, cysPost), like(cy, bob, cysPost))    // to cy, by both
	err := pgx.BeginFunc(r.ctx, r.pool, func(tx pgx.Tx) error { return r.svc.Blocked(r.ctx, tx, ada, bob) })
	if err != nil {
		t.Fatal(err)
	}
	if ns := r.list(ada, false); len(ns) != 0 {
		t.Fatalf("ada's inbox still shows bob: %+v", ns)
	}
	if ns := r.list(bob, false); len(ns) != 1 || fmt.Sprint(ns[0].ActorIDs) != fmt.Sprint([]string{cy.String()}) || ns[0].Count != 1 {
		t.Fatalf("bob's inbox: %+v, want cy's like alone", ns)
	}
	if ns := r.list(cy, false); len(ns) != 1 || len(ns[0].ActorIDs) != 2 || ns[0].Count != 2 {
		t.Fatalf("cy's inbox changed: %+v", ns)
	}
}

package messaging_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/domain/identity/identitytest"
	"github.com/nova-social/nova/shared/domain/messaging"
	"github.com/nova-social/nova/shared/id"
)

// relRig is a rig whose Relations are the identity tables in the same
// database, as nova-api and chat-persist have them.
type relRig struct {
	*rig
}

func newRelRig(t *testing.T) *relRig {
	t.Helper()
	r := newRig(t, func(c *messaging.Config) {
		if err := identity.Migrate(context.Background(), c.Pool); err != nil {
			t.Fatal(err)
		}
		c.Relations = identity.NewGraph(c.Pool)
	})
	return &relRig{r}
}

func (r *relRig) user(name string) id.UserID { return identitytest.User(r.t, r.pool, name) }

func (r *relRig) exec(sql string, args ...any) {
	r.t.Helper()
	if _, err := r.pool.Exec(r.ctx, sql, args...); err != nil {
		r.t.Fatalf("%s: %v", sql, err)
	}
}

func (r *relRig) follow(a, b id.UserID) {
	r.exec(`INSERT INTO follows (follower_id, followee_id, created_at) VALUES ($1, $2, now())`, string(a), string(b))
}

func (r *relRig) block(a, b id.UserID) { identitytest.Block(r.t, r.pool, a, b) }

// Added to a group by someone they do not follow, a user is invited: they
// see the conversation but receive, read and send nothing until they
// accept; declining takes them out.
func TestGroupInviteeReceivesNothingUntilAccepting(t *testing.T) {
	r := newRelRig(t)
	ada, fan, stranger, shy := r.user("ada"), r.user("fan"), r.user("stranger"), r.user("shy")
	r.follow(fan, ada)

	var g messaging.Conversation
	if code := r.call("POST", "/v1/conversations", ada, map[string]any{"participant_ids": []id.UserID{fan, stranger, shy}, "title": "club"}, &g); code != http.StatusCreated {
		t.Fatalf("create group: %d", code)
	}
	want := []string{string(shy), string(stranger)}
	slices.Sort(want)
	if len(g.ParticipantIDs) != 4 || !slices.Equal(g.InvitedIDs, want) {
		t.Fatalf("group participants %v invited %v, want stranger and shy invited", g.ParticipantIDs, g.InvitedIDs)
	}

	if _, code := r.send(ada, g.ID, "a-1", "welcome"); code != http.StatusCreated {
		t.Fatalf("send: %d", code)
	}
	if got := r.sent(); len(got) != 1 || !slices.Equal(got[0].RecipientIds, []string{string(fan)}) {
		t.Fatalf("recipients %v, want only the member fan", got[0].GetRecipientIds())
	}
	// The invitee sees the invitation but not the messages, and cannot send.
	var seen messaging.Conversation
	if code := r.call("GET", "/v1/conversations/"+g.ID, stranger, nil, &seen); code != http.StatusOK || !slices.Contains(seen.InvitedIDs, string(stranger)) {
		t.Errorf("invitee reading the conversation: %d %+v", code, seen)
	}
	if code, _ := r.errorCode("GET", "/v1/conversations/"+g.ID+"/messages", stranger, nil); code != http.StatusNotFound {
		t.Errorf("invitee reading messages: %d, want 404", code)
	}
	if _, code := r.send(stranger, g.ID, "s-1", "hi"); code != http.StatusNotFound {
		t.Errorf("invitee sending: %d, want 404", code)
	}

	// Accepting (twice: idempotent) makes a member.
	for range 2 {
		var c messaging.Conversation
		if code := r.call("POST", "/v1/conversations/"+g.ID+"/accept", stranger, nil, &c); code != http.StatusOK || slices.Contains(c.InvitedIDs, string(stranger)) {
			t.Fatalf("accept: %d %+v", code, c)
		}
	}
	if _, code := r.send(stranger, g.ID, "s-1", "hi"); code != http.StatusCreated {
		t.Errorf("member sending: %d", code)
	}
	if _, code := r.send(ada, g.ID, "a-2", "hello"); code != http.StatusCreated {
		t.Fatal(code)
	}
	got := r.sent()
	if last := got[len(got)-1]; !slices.Contains(last.RecipientIds, string(stranger)) || slices.Contains(last.RecipientIds, string(shy)) {
		t.Errorf("recipients after accepting %v: stranger in, shy out", last.RecipientIds)
	}

	// Declining takes shy out; a direct conversation is not left; someone
	// not in it gets 404.
	if code, _ := r.errorCode("POST", "/v1/conversations/"+g.ID+"/decline", shy, nil); code != http.StatusNoContent {
		t.Errorf("decline: %d", code)
	}
	if code, _ := r.errorCode("GET", "/v1/conversations/"+g.ID, shy, nil); code != http.StatusNotFound {
		t.Errorf("after declining: %d, want 404", code)
	}
	if code, _ := r.errorCode("POST", "/v1/conversations/"+g.ID+"/accept", shy, nil); code != http.StatusNotFound {
		t.Errorf("accept after declining: %d, want 404", code)
	}
	// The last one out takes the group and its messages along.
	for _, u := range []id.UserID{ada, fan, stranger} {
		if code, _ := r.errorCode("POST", "/v1/conversations/"+g.ID+"/decline", u, nil); code != http.StatusNoContent {
			t.Fatalf("leave: %d", code)
		}
	}
	var left int
	if err := r.pool.QueryRow(r.ctx, `SELECT (SELECT count(*) FROM conversations WHERE id = $1) + (SELECT count(*) FROM messages WHERE conversation_id = $1)`,
		g.ID).Scan(&left); err != nil || left != 0 {
		t.Errorf("empty group left %d rows (%v)", left, err)
	}
	d := r.open(ada, fan)
	if code, ec := r.errorCode("POST", "/v1/conversations/"+d.ID+"/decline", fan, nil); code != http.StatusUnprocessableEntity && code != http.StatusBadRequest {
		t.Errorf("leaving a direct conversation: %d %s", code, ec)
	}
	if len(d.InvitedIDs) != 0 {
		t.Errorf("direct conversation with invitees %v", d.InvitedIDs)
	}
}

// A blocked pair cannot open a conversation (told as for a user who does
// not exist), nor write in their existing DIRECT one, and in a group they
// do not receive each other's messages.
func TestBlockedPairCannotTalk(t *testing.T) {
	r := newRelRig(t)
	ada, bob, cy := r.user("ada"), r.user("bob"), r.user("cyd")
	r.follow(bob, ada)
	r.follow(cy, ada)
	direct := r.open(ada, bob)
	var named messaging.Conversation
	if code := r.call("POST", "/v1/conversations", ada, map[string]any{"participant_ids": []id.UserID{bob, cy}, "title": "t"}, &named); code != http.StatusCreated {
		t.Fatal(code)
	}
	canSend := func(who id.UserID, conv string) any {
		var c map[string]any
		if code := r.call("GET", "/v1/conversations/"+conv, who, nil, &c); code != http.StatusOK {
			t.Fatalf("GET conversation: %d", code)
		}
		return c["can_send"]
	}
	if canSend(ada, direct.ID) != true || canSend(bob, direct.ID) != true {
		t.Fatal("before the block the pair may not write to their conversation")
	}
	r.block(bob, ada)
	// What the realtime gateway asks before taking a typed message.
	for _, who := range []id.UserID{ada, bob} {
		if got := canSend(who, direct.ID); got != false {
			t.Errorf("can_send in the blocked pair's direct conversation: %v", got)
		}
		if got := canSend(who, named.ID); got != true {
			t.Errorf("can_send in the group: %v (blocks decide recipients there, not who speaks)", got)
		}
	}

	before := len(r.sent())
	for _, who := range []id.UserID{ada, bob} {
		if _, code := r.send(who, direct.ID, "d-"+string(who)[:8], "hello?"); code != http.StatusNotFound {
			t.Errorf("message in the blocked pair's direct conversation: %d, want 404", code)
		}
	}
	for _, c := range []struct {
		creator id.UserID
		others  []id.UserID
		title   string
	}{{ada, []id.UserID{bob}, ""}, {bob, []id.UserID{ada}, ""}, {ada, []id.UserID{bob, cy}, "again"}, {bob, []id.UserID{ada, cy}, "again"}} {
		if code, ec := r.errorCode("POST", "/v1/conversations", c.creator, map[string]any{"participant_ids": c.others, "title": c.title}); code != http.StatusBadRequest || ec != "validation_failed" {
			t.Errorf("conversation of a blocked pair: %d %s, want as for an unknown user", code, ec)
		}
	}
	if _, code := r.send(ada, named.ID, "g-1", "to the group"); code != http.StatusCreated {
		t.Fatalf("group send: %d", code)
	}
	got := r.sent()
	if len(got) != before+1 || !slices.Equal(got[len(got)-1].RecipientIds, []string{string(cy)}) {
		t.Errorf("group recipients %v, want only cy (bob blocked ada)", got[len(got)-1].GetRecipientIds())
	}
}

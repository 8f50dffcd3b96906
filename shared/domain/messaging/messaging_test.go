package messaging_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/messaging"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/id"
)

func TestDirectConversationIsOnePerPair(t *testing.T) {
	r := newRig(t, nil)
	a, b, c := id.NewUserID(), id.NewUserID(), id.NewUserID()
	var first, again, group messaging.Conversation
	if code := r.call("POST", "/v1/conversations", a, map[string]any{"participant_ids": []id.UserID{b}}, &first); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	if first.Kind != messaging.Direct || len(first.ParticipantIDs) != 2 {
		t.Fatalf("conversation = %+v", first)
	}
	// The other side opening it (naming the creator twice) gets the same one.
	if code := r.call("POST", "/v1/conversations", b, map[string]any{"participant_ids": []id.UserID{a, a, b}}, &again); code != http.StatusOK {
		t.Fatalf("reopen: %d", code)
	}
	if again.ID != first.ID {
		t.Fatalf("second direct conversation %s for the pair, want %s", again.ID, first.ID)
	}
	if code := r.call("POST", "/v1/conversations", a, map[string]any{"participant_ids": []id.UserID{b, c}, "title": " trip "}, &group); code != http.StatusCreated {
		t.Fatalf("group: %d", code)
	}
	if group.Kind != messaging.Group || group.Title != "trip" || len(group.ParticipantIDs) != 3 || group.ID == first.ID {
		t.Fatalf("group = %+v", group)
	}
	for _, body := range []map[string]any{
		{"participant_ids": []string{}},
		{"participant_ids": []id.UserID{a}},
		{"participant_ids": []string{"not-a-user"}},
	} {
		if code, ec := r.errorCode("POST", "/v1/conversations", a, body); code != http.StatusBadRequest || ec != "validation_failed" {
			t.Errorf("%v: %d %s", body, code, ec)
		}
	}
}

func TestConversationSizeAndUserChecks(t *testing.T) {
	known := map[id.UserID]bool{}
	r := newRig(t, func(c *messaging.Config) {
		c.MaxParticipants = 3
		c.UserExists = func(_ context.Context, u id.UserID) (bool, error) { return known[u], nil }
	})
	a, b, c, d := id.NewUserID(), id.NewUserID(), id.NewUserID(), id.NewUserID()
	known[b], known[c], known[d] = true, true, true
	if code, _ := r.errorCode("POST", "/v1/conversations", a, map[string]any{"participant_ids": []id.UserID{b, c, d}}); code != http.StatusBadRequest {
		t.Fatalf("4 participants of at most 3: %d", code)
	}
	if code, _ := r.errorCode("POST", "/v1/conversations", a, map[string]any{"participant_ids": []id.UserID{id.NewUserID()}}); code != http.StatusBadRequest {
		t.Fatalf("unknown user: %d", code)
	}
	r.open(a, b, c)
}

func TestSendStoresOnceAndEmitsEveryField(t *testing.T) {
	r := newRig(t, nil)
	a, b, c := id.NewUserID(), id.NewUserID(), id.NewUserID()
	conv := r.open(a, b, c)

	m, code := r.send(a, conv.ID, "cm-1", "hello")
	if code != http.StatusCreated {
		t.Fatalf("send: %d", code)
	}
	if m.Sequence != 1 || m.SenderID != string(a) || m.ConversationID != conv.ID || m.Type != "TEXT" || m.ClientMessageID != "cm-1" {
		t.Fatalf("message = %+v", m)
	}
	if _, err := id.ParseMessageID(m.ID); err != nil {
		t.Fatal(err)
	}
	// A retry returns the same message and emits nothing new.
	again, code := r.send(a, conv.ID, "cm-1", "hello")
	if code != http.StatusOK || again.ID != m.ID || again.Sequence != 1 || !again.SentAt.Equal(m.SentAt) {
		t.Fatalf("retry: %d %+v", code, again)
	}
	evs := r.sent()
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
	want := &eventsv1.MessageSent{
		MessageId: m.ID, ConversationId: conv.ID, SenderId: string(a), RecipientIds: sorted(b, c),
		Content: "hello", Type: eventsv1.MessageType_MESSAGE_TYPE_TEXT, ClientMessageId: "cm-1", Sequence: 1,
	}
	got := proto.Clone(evs[0]).(*eventsv1.MessageSent)
	if !got.SentAt.AsTime().Equal(m.SentAt) {
		t.Errorf("sent_at %v, want %v", got.SentAt.AsTime(), m.SentAt)
	}
	got.SentAt = nil
	if !proto.Equal(got, want) {
		t.Fatalf("event = %v\nwant %v", got, want)
	}
	// The same client id in another conversation is a conflict, and
	// another sender may use the same client id.
	other := r.open(a, b)
	if code, ec := r.errorCode("POST", "/v1/conversations/"+other.ID+"/messages", a,
		map[string]any{"client_message_id": "cm-1", "content": "x"}); code != http.StatusConflict || ec != "conflict" {
		t.Fatalf("reused client id: %d %s", code, ec)
	}
	if m2, code := r.send(b, conv.ID, "cm-1", "hi"); code != http.StatusCreated || m2.Sequence != 2 {
		t.Fatalf("b's cm-1: %d %+v", code, m2)
	}
}

func sorted(us ...id.UserID) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = string(u)
	}
	slices.Sort(out)
	return out
}

func TestOutsiderCannotLearnConversationExists(t *testing.T) {
	r := newRig(t, nil)
	a, b, eve := id.NewUserID(), id.NewUserID(), id.NewUserID()
	conv := r.open(a, b)
	r.send(a, conv.ID, "m1", "secret")
	missing := id.NewConversationID().String()
	for _, target := range []string{conv.ID, missing, "not-an-id"} {
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/v1/conversations/" + target, nil},
			{"GET", "/v1/conversations/" + target + "/messages", nil},
			{"POST", "/v1/conversations/" + target + "/messages", map[string]any{"client_message_id": "e1", "content": "hi"}},
		} {
			code, ec := r.errorCode(c.method, c.path, eve, c.body)
			if code != http.StatusNotFound || ec != "not_found" {
				t.Errorf("%s %s as outsider: %d %s, want 404 not_found", c.method, c.path, code, ec)
			}
		}
	}
	var page struct{ Items []messaging.Conversation }
	r.call("GET", "/v1/conversations", eve, nil, &page)
	if len(page.Items) != 0 {
		t.Fatalf("outsider lists %d conversations", len(page.Items))
	}
	if n := len(r.sent()); n != 1 {
		t.Fatalf("%d events, want 1 (the outsider's write emitted)", n)
	}
	// The service answers chat-persist the same way.
	_, _, err := r.svc.Send(r.ctx, eve, id.ConversationID(conv.ID), messaging.NewMessage{ClientMessageID: "e2", Content: "x"})
	if !errors.Is(err, messaging.ErrNotFound) {
		t.Fatalf("Send by outsider: %v", err)
	}
}

func TestConcurrentSendsAreSequencedAndDeduplicated(t *testing.T) {
	r := newRig(t, nil)
	a, b := id.NewUserID(), id.NewUserID()
	conv := id.ConversationID(r.open(a, b).ID)
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		for _, sender := range []id.UserID{a, a} { // every message sent twice at once
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, err := r.svc.Send(r.ctx, sender, conv, messaging.NewMessage{ClientMessageID: fmt.Sprint("c", i), Content: fmt.Sprint(i)})
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	evs := r.sent()
	if len(evs) != n {
		t.Fatalf("%d events for %d distinct messages", len(evs), n)
	}
	for i, e := range evs {
		if e.Sequence != int64(i+1) {
			t.Fatalf("event %d has sequence %d: outbox order is not sequence order", i, e.Sequence)
		}
	}
	h, err := r.svc.Messages(r.ctx, b, conv, nil, false, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Messages) != n || h.Messages[n-1].Sequence != n {
		t.Fatalf("history has %d messages", len(h.Messages))
	}
}

type historyPage struct {
	Items      []messaging.Message `json:"items"`
	NextCursor *string             `json:"next_cursor"`
	PrevCursor *string             `json:"prev_cursor"`
}

func seqs(ms []messaging.Message) []int64 {
	var out []int64
	for _, m := range ms {
		out = append(out, m.Sequence)
	}
	return out
}

func TestHistoryPagesBothWays(t *testing.T) {
	r := newRig(t, nil)
	a, b := id.NewUserID(), id.NewUserID()
	conv := r.open(a, b).ID
	for i := range 7 {
		r.send([]id.UserID{a, b}[i%2], conv, fmt.Sprint("m", i), fmt.Sprint("text ", i))
	}
	base := "/v1/conversations/" + conv + "/messages?limit=3"
	var p historyPage
	r.call("GET", base, b, nil, &p)
	if fmt.Sprint(seqs(p.Items)) != "[1 2 3]" || p.PrevCursor != nil || p.NextCursor == nil {
		t.Fatalf("first page %v prev %v next %v", seqs(p.Items), p.PrevCursor, p.NextCursor)
	}
	r.call("GET", base+"&cursor="+*p.NextCursor, b, nil, &p)
	if fmt.Sprint(seqs(p.Items)) != "[4 5 6]" || p.PrevCursor == nil || p.NextCursor == nil {
		t.Fatalf("second page %v", seqs(p.Items))
	}
	next := *p.NextCursor
	r.call("GET", base+"&cursor="+*p.PrevCursor, b, nil, &p)
	if fmt.Sprint(seqs(p.Items)) != "[1 2 3]" || p.PrevCursor != nil {
		t.Fatalf("back to the first page: %v prev %v", seqs(p.Items), p.PrevCursor)
	}
	r.call("GET", base+"&cursor="+next, b, nil, &p)
	if fmt.Sprint(seqs(p.Items)) != "[7]" || p.NextCursor != nil {
		t.Fatalf("last page %v next %v", seqs(p.Items), p.NextCursor)
	}
	r.call("GET", base+"&latest=true", a, nil, &p)
	if fmt.Sprint(seqs(p.Items)) != "[5 6 7]" || p.PrevCursor == nil || p.NextCursor != nil {
		t.Fatalf("latest page %v", seqs(p.Items))
	}
	r.call("GET", base+"&cursor="+*p.PrevCursor, a, nil, &p)
	if fmt.Sprint(seqs(p.Items)) != "[2 3 4]" || p.NextCursor == nil || p.PrevCursor == nil {
		t.Fatalf("older page %v", seqs(p.Items))
	}
	if p.Items[0].Content != "text 1" || p.Items[0].SenderID != string(b) {
		t.Fatalf("message 2 = %+v", p.Items[0])
	}
	if code, ec := r.errorCode("GET", base+"&cursor=bogus", a, nil); code != http.StatusBadRequest || ec != "invalid_cursor" {
		t.Fatalf("bad cursor: %d %s", code, ec)
	}
}

func TestConversationsNewestActivityFirst(t *testing.T) {
	r := newRig(t, nil)
	a := id.NewUserID()
	var convs []string
	for range 5 {
		convs = append(convs, r.open(a, id.NewUserID()).ID)
	}
	// Activity moves the second conversation to the top.
	r.send(a, convs[1], "bump", "hi")
	want := []string{convs[1], convs[4], convs[3], convs[2], convs[0]}
	var got []string
	path := "/v1/conversations?limit=2"
	for {
		var p struct {
			Items      []messaging.Conversation `json:"items"`
			NextCursor *string                  `json:"next_cursor"`
		}
		if code := r.call("GET", path, a, nil, &p); code != http.StatusOK {
			t.Fatalf("list: %d", code)
		}
		for _, c := range p.Items {
			got = append(got, c.ID)
		}
		if p.NextCursor == nil {
			break
		}
		path = "/v1/conversations?limit=2&cursor=" + *p.NextCursor
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("order %v\nwant  %v", got, want)
	}
}

func TestInputChecks(t *testing.T) {
	r := newRig(t, nil)
	a, b := id.NewUserID(), id.NewUserID()
	conv := r.open(a, b).ID
	path := "/v1/conversations/" + conv + "/messages"
	for _, body := range []map[string]any{
		{"content": "no client id"},
		{"client_message_id": "has space", "content": "x"},
		{"client_message_id": "c1", "content": "   "},
		{"client_message_id": "c2", "content": "x", "type": "STICKER"},
		{"client_message_id": "c3", "content": "x", "type": "IMAGE"},
		{"client_message_id": "c4", "content": "x", "media_ids": []string{id.NewMediaID().String()}},
		{"client_message_id": "c5", "type": "IMAGE", "media_ids": []string{id.NewMediaID().String()}}, // no resolver
	} {
		if code, ec := r.errorCode("POST", path, a, body); code != http.StatusBadRequest || ec != "validation_failed" {
			t.Errorf("%v: %d %s", body, code, ec)
		}
	}
	if n := len(r.sent()); n != 0 {
		t.Fatalf("%d events from refused messages", n)
	}
}

// library is a media domain stand-in: the media domain resolves ids in
// production; here a map of what each owner uploaded.
type library map[id.MediaID]id.UserID

func (l library) ResolveMedia(_ context.Context, owner id.UserID, ids []id.MediaID) ([]post.Media, error) {
	var out []post.Media
	for _, m := range ids {
		if l[m] != owner {
			return nil, fmt.Errorf("%w: %s", messaging.ErrMediaUnavailable, m)
		}
		out = append(out, post.Media{ID: string(m), Type: "IMAGE", URL: "https://cdn.example/" + string(m)})
	}
	return out, nil
}

func TestMediaMessages(t *testing.T) {
	a, b := id.NewUserID(), id.NewUserID()
	mine, theirs := id.NewMediaID(), id.NewMediaID()
	r := newRig(t, func(c *messaging.Config) { c.Media = library{mine: a, theirs: b} })
	conv := r.open(a, b).ID
	path := "/v1/conversations/" + conv + "/messages"
	if code, _ := r.errorCode("POST", path, a, map[string]any{"client_message_id": "x", "type": "IMAGE", "media_ids": []id.MediaID{theirs}}); code != http.StatusBadRequest {
		t.Fatalf("someone else's media: %d", code)
	}
	var m messaging.Message
	if code := r.call("POST", path, a, map[string]any{"client_message_id": "y", "type": "image", "content": "look", "media_ids": []id.MediaID{mine}}, &m); code != http.StatusCreated {
		t.Fatalf("image: %d", code)
	}
	if m.Type != "IMAGE" || len(m.Media) != 1 || m.Media[0].ID != string(mine) {
		t.Fatalf("message = %+v", m)
	}
	evs := r.sent()
	if len(evs) != 1 || evs[0].Type != eventsv1.MessageType_MESSAGE_TYPE_IMAGE || len(evs[0].Media) != 1 || evs[0].Media[0].MediaId != string(mine) {
		t.Fatalf("event = %v", evs)
	}
}

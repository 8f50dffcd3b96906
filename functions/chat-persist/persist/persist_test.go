package persist_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nova-social/nova/functions/chat-persist/persist"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/domain/identity/identitytest"
	"github.com/nova-social/nova/shared/domain/messaging"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

type rig struct {
	pool    *pgxpool.Pool
	svc     *messaging.Service
	reactor *persist.Reactor
	codec   *envelope.Codec
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	pool := testrig.Postgres(t)
	// The identity tables are in the same database, as in production.
	for _, m := range []func(context.Context, *pgxpool.Pool) error{outbox.Migrate, identity.Migrate, messaging.Migrate} {
		if err := m(ctx, pool); err != nil {
			t.Fatal(err)
		}
	}
	codec := envelope.NewCodec(catalog.Default())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := messaging.New(messaging.Config{Pool: pool, Outbox: outbox.New(codec), Logger: log, Relations: identity.NewGraph(pool)})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{pool: pool, svc: svc, reactor: persist.NewReactor(svc, log), codec: codec}
}

func (r *rig) submitted(t *testing.T, m *eventsv1.ChatMessageSubmitted) envelope.Decoded {
	t.Helper()
	e, err := r.codec.New(m)
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.codec.Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (r *rig) outboxCount(t *testing.T) int {
	t.Helper()
	var n int
	if err := r.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+outbox.Table+` WHERE topic = $1`, catalog.MessagingEvents).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTypedMessageStoredOnceAlongsideHTTPPath(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	a, b := id.NewUserID(), id.NewUserID()
	conv, _, err := r.svc.CreateConversation(ctx, a, messaging.NewConversation{ParticipantIDs: []id.UserID{b}})
	if err != nil {
		t.Fatal(err)
	}
	ev := &eventsv1.ChatMessageSubmitted{ClientMessageId: "ws-1", ConversationId: conv.ID, SenderId: string(a),
		Content: "typed", Type: eventsv1.MessageType_MESSAGE_TYPE_TEXT, SubmittedAt: timestamppb.Now(), GatewayId: "gw"}
	for range 3 { // delivered three times
		if err := r.reactor.React(ctx, r.submitted(t, ev)); err != nil {
			t.Fatal(err)
		}
	}
	// The same client id sent by HTTP afterwards is the same message.
	m, created, err := r.svc.Send(ctx, a, id.ConversationID(conv.ID), messaging.NewMessage{ClientMessageID: "ws-1", Content: "typed"})
	if err != nil || created || m.Sequence != 1 || m.Content != "typed" {
		t.Fatalf("HTTP retry: %+v created=%v err=%v", m, created, err)
	}
	if n := r.outboxCount(t); n != 1 {
		t.Fatalf("%d MessageSent events, want 1", n)
	}
}

func TestUnstorableMessagesArePermanent(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	a, b, eve := id.NewUserID(), id.NewUserID(), id.NewUserID()
	conv, _, err := r.svc.CreateConversation(ctx, a, messaging.NewConversation{ParticipantIDs: []id.UserID{b}})
	if err != nil {
		t.Fatal(err)
	}
	now := timestamppb.Now()
	for name, c := range map[string]struct {
		ev *eventsv1.ChatMessageSubmitted
		// contract: the event breaks the event contract, which its
		// decoder refuses before any reactor sees it; the reactor is
		// handed it anyway and must refuse it too.
		contract bool
	}{
		"outsider":     {ev: &eventsv1.ChatMessageSubmitted{ClientMessageId: "e1", ConversationId: conv.ID, SenderId: string(eve), Content: "let me in", SubmittedAt: now}},
		"no such conv": {ev: &eventsv1.ChatMessageSubmitted{ClientMessageId: "e2", ConversationId: id.NewConversationID().String(), SenderId: string(a), Content: "x", SubmittedAt: now}},
		"empty text":   {ev: &eventsv1.ChatMessageSubmitted{ClientMessageId: "e3", ConversationId: conv.ID, SenderId: string(a), Content: " ", SubmittedAt: now}},
		"bad sender":   {ev: &eventsv1.ChatMessageSubmitted{ClientMessageId: "e4", ConversationId: conv.ID, SenderId: "nobody", Content: "x", SubmittedAt: now}, contract: true},
		"bad conv":     {ev: &eventsv1.ChatMessageSubmitted{ClientMessageId: "e5", ConversationId: "general", SenderId: string(a), Content: "x", SubmittedAt: now}, contract: true},
		"bad media":    {ev: &eventsv1.ChatMessageSubmitted{ClientMessageId: "e6", ConversationId: conv.ID, SenderId: string(a), Type: eventsv1.MessageType_MESSAGE_TYPE_IMAGE, MediaIds: []string{"../etc/passwd"}, SubmittedAt: now}, contract: true},
	} {
		var d envelope.Decoded
		if c.contract {
			if _, err := r.codec.New(c.ev); !errors.Is(err, envelope.ErrContract) {
				t.Errorf("%s: codec built it (%v), want ErrContract", name, err)
			}
			// A decoded event of the type, carrying the message.
			d = r.submitted(t, &eventsv1.ChatMessageSubmitted{ClientMessageId: "ok", ConversationId: conv.ID, SenderId: string(a), Content: "x", SubmittedAt: now})
			d.Message = c.ev
		} else {
			d = r.submitted(t, c.ev)
		}
		err := r.reactor.React(ctx, d)
		if !delivery.IsPermanent(err) {
			t.Errorf("%s: %v, want a permanent failure", name, err)
		}
	}
	if n := r.outboxCount(t); n != 0 {
		t.Fatalf("%d events from refused messages", n)
	}
}

// A message typed into the DIRECT conversation of a blocked pair is refused
// for good (dead-lettered), as the HTTP path refuses it, and stores nothing.
func TestTypedMessageOfBlockedPairRefused(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	a, b := identitytest.User(t, r.pool, "ada_p"), identitytest.User(t, r.pool, "bob_p")
	conv, _, err := r.svc.CreateConversation(ctx, a, messaging.NewConversation{ParticipantIDs: []id.UserID{b}})
	if err != nil {
		t.Fatal(err)
	}
	identitytest.Block(t, r.pool, b, a)
	before := r.outboxCount(t)
	err = r.reactor.React(ctx, r.submitted(t, &eventsv1.ChatMessageSubmitted{
		ConversationId: conv.ID, SenderId: string(a), ClientMessageId: "ws-blocked", Content: "hello?", SubmittedAt: timestamppb.Now(),
	}))
	if err == nil || !delivery.IsPermanent(err) {
		t.Fatalf("React = %v, want a permanent refusal", err)
	}
	var n int
	if err := r.pool.QueryRow(ctx, `SELECT count(*) FROM messages`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 || r.outboxCount(t) != before {
		t.Errorf("refused message left %d messages and %d events", n, r.outboxCount(t)-before)
	}
}

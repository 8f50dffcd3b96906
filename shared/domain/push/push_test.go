package push_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/presence"
	"github.com/nova-social/nova/shared/domain/push"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

func TestPushPublishesOncePerGatewayAndSkipsOffline(t *testing.T) {
	ctx := context.Background()
	rdb := testrig.Redis(t)
	ps, err := presence.New(rdb, presence.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	p, err := push.NewPusher(rdb, ps)
	if err != nil {
		t.Fatal(err)
	}
	gw := "gw-" + testrig.ID()
	u, v, off := id.NewUserID(), id.NewUserID(), id.NewUserID()
	for _, c := range []struct {
		u    id.UserID
		conn string
	}{{u, "u1"}, {u, "u2"}, {v, "v1"}} {
		if err := ps.Connect(ctx, c.u, c.conn, gw); err != nil {
			t.Fatal(err)
		}
	}
	sub := rdb.Subscribe(ctx, push.Channel(gw))
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := p.Push(ctx, []id.UserID{u, v, off}, []byte(`{"type":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Online) != 2 || res.Gateways != 1 {
		t.Fatalf("result %+v", res)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m, err := sub.ReceiveMessage(rctx)
	if err != nil {
		t.Fatal(err)
	}
	var d push.Delivery
	if err := json.Unmarshal([]byte(m.Payload), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.UserIDs) != 2 || string(d.Frame) != `{"type":"x"}` {
		t.Fatalf("delivery %+v", d)
	}
	if _, err := p.Push(ctx, []id.UserID{u}, []byte("not json")); err == nil {
		t.Fatal("non-JSON frame accepted")
	}
}

func TestMessageFrameCarriesTheMessage(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b, err := push.NewMessageFrame(&eventsv1.MessageSent{MessageId: "m", ConversationId: "c", SenderId: "s", RecipientIds: []string{"r"},
		Content: "hi", Type: eventsv1.MessageType_MESSAGE_TYPE_AUDIO, SentAt: timestamppb.New(at), ClientMessageId: "k", Sequence: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"message","message":{"id":"m","conversation_id":"c","sequence":3,"sender_id":"s","client_message_id":"k","type":"AUDIO","content":"hi","media":[],"sent_at":"2026-01-02T03:04:05Z","recipient_ids":["r"]}}`
	if string(b) != want {
		t.Fatalf("frame\n%s\nwant\n%s", b, want)
	}
}

// A gateway listed in presence, alive but not subscribed (resubscribing
// after a Redis outage) did not get the frame: Push says so, to be retried.
// One without an alive mark is gone with its connections: its users are
// unreached, and that is no error.
func TestPushToAGatewayNotListeningFails(t *testing.T) {
	ctx := context.Background()
	rdb := testrig.Redis(t)
	ps, err := presence.New(rdb, presence.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	p, err := push.NewPusher(rdb, ps)
	if err != nil {
		t.Fatal(err)
	}
	gw := "gw-" + testrig.ID()
	u := id.NewUserID()
	if err := ps.Connect(ctx, u, "c1", gw); err != nil {
		t.Fatal(err)
	}
	defer ps.Disconnect(ctx, u, "c1", gw)
	res, err := p.Push(ctx, []id.UserID{u}, []byte(`{"type":"x"}`))
	if err != nil || res.Unreached != 1 {
		t.Fatalf("push to a gone gateway: %+v, %v; want 1 unreached and no error", res, err)
	}
	if err := push.MarkAlive(ctx, rdb, gw); err != nil {
		t.Fatal(err)
	}
	defer push.MarkGone(ctx, rdb, gw)
	if _, err := p.Push(ctx, []id.UserID{u}, []byte(`{"type":"x"}`)); !errors.Is(err, push.ErrNotListening) || !strings.Contains(err.Error(), gw) {
		t.Fatalf("push to a deaf, alive gateway: %v, want ErrNotListening naming %s", err, gw)
	}
	sub := rdb.Subscribe(ctx, push.Channel(gw))
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if res, err := p.Push(ctx, []id.UserID{u}, []byte(`{"type":"x"}`)); err != nil || res.Unreached != 0 {
		t.Fatalf("push once it listens: %+v, %v", res, err)
	}
	if err := push.MarkGone(ctx, rdb, gw); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, push.AliveKey(gw)).Val(); n != 0 {
		t.Fatalf("alive mark still there after MarkGone")
	}
}

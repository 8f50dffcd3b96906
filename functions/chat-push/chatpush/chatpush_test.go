package chatpush_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nova-social/nova/functions/chat-push/chatpush"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/presence"
	"github.com/nova-social/nova/shared/domain/push"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

func decoded(t *testing.T, m *eventsv1.MessageSent) envelope.Decoded {
	t.Helper()
	codec := envelope.NewCodec(catalog.Default())
	e, err := codec.New(m)
	if err != nil {
		t.Fatal(err)
	}
	d, err := codec.Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestMessageGoesToOnlineRecipientsGateways(t *testing.T) {
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
	gw1, gw2 := "gw-"+testrig.ID(), "gw-"+testrig.ID()
	sender, onOne, onBoth, offline := id.NewUserID(), id.NewUserID(), id.NewUserID(), id.NewUserID()
	for _, c := range []struct {
		u    id.UserID
		conn string
		gw   string
	}{{sender, "s", gw1}, {onOne, "a", gw1}, {onBoth, "b1", gw1}, {onBoth, "b2", gw2}} {
		if err := ps.Connect(ctx, c.u, c.conn, c.gw); err != nil {
			t.Fatal(err)
		}
	}
	sub := rdb.Subscribe(ctx, push.Channel(gw1), push.Channel(gw2))
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	msg := &eventsv1.MessageSent{
		MessageId: id.NewMessageID().String(), ConversationId: id.NewConversationID().String(), SenderId: string(sender),
		RecipientIds: []string{string(onOne), string(onBoth), string(offline)}, Content: "hi",
		Type: eventsv1.MessageType_MESSAGE_TYPE_TEXT, SentAt: timestamppb.Now(), ClientMessageId: "c1", Sequence: 7,
	}
	r := chatpush.NewReactor(p, nil)
	if err := r.React(ctx, decoded(t, msg)); err != nil {
		t.Fatal(err)
	}
	got := map[string][]id.UserID{}
	for range 2 {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		m, err := sub.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		var d push.Delivery
		if err := json.Unmarshal([]byte(m.Payload), &d); err != nil {
			t.Fatal(err)
		}
		slices.Sort(d.UserIDs)
		got[m.Channel] = d.UserIDs
		var f push.MessageFrame
		if err := json.Unmarshal(d.Frame, &f); err != nil {
			t.Fatal(err)
		}
		if f.Type != push.FrameMessage || f.Message.ID != msg.MessageId || f.Message.Sequence != 7 || f.Message.ClientMessageID != "c1" ||
			f.Message.Content != "hi" || f.Message.Type != "TEXT" || len(f.Message.RecipientIDs) != 3 {
			t.Fatalf("frame = %+v", f)
		}
	}
	want1 := []id.UserID{onOne, onBoth}
	slices.Sort(want1)
	if !slices.Equal(got[push.Channel(gw1)], want1) || !slices.Equal(got[push.Channel(gw2)], []id.UserID{onBoth}) {
		t.Fatalf("deliveries %v", got)
	}
}

func TestMalformedMessageIsPermanent(t *testing.T) {
	rdb := testrig.Redis(t)
	ps, _ := presence.New(rdb, presence.DefaultConfig())
	p, _ := push.NewPusher(rdb, ps)
	// A producer other than Nova's could send one without ids.
	for name, m := range map[string]*eventsv1.MessageSent{
		"no ids": {MessageId: "x"},
		"bad recipient": {MessageId: id.NewMessageID().String(), ConversationId: id.NewConversationID().String(),
			SenderId: id.NewUserID().String(), RecipientIds: []string{"gateway:*"}},
	} {
		d := envelope.Decoded{Event: cloudevents.NewEvent(), Message: m}
		err := chatpush.NewReactor(p, nil).React(context.Background(), d)
		if !delivery.IsPermanent(err) {
			t.Errorf("%s: err = %v, want permanent", name, err)
		}
	}
}

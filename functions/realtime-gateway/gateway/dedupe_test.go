package gateway_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/nova-social/nova/functions/realtime-gateway/gateway"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/push"
	"github.com/nova-social/nova/shared/id"
)

// A message pushed again (chat-push handling a redelivered MessageSent)
// reaches each connection once; a connection opened after the first push
// still gets it, and other frames are never held back.
func TestRepeatedMessageReachesEachConnectionOnce(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	u := id.NewUserID()
	first := r.dial(u)
	send := func(frame string) {
		t.Helper()
		if _, err := r.pusher.Push(ctx, []id.UserID{u}, []byte(frame)); err != nil {
			t.Fatal(err)
		}
	}
	// Frames as chat-push makes them.
	msg := func(mid string) string {
		f, err := push.NewMessageFrame(&eventsv1.MessageSent{MessageId: mid, ConversationId: "c", SenderId: "s", Content: "hi"})
		if err != nil {
			t.Fatal(err)
		}
		return string(f)
	}
	send(msg("m1"))
	send(msg("m1"))
	send(`{"type":"notification","n":1}`)
	send(`{"type":"notification","n":1}`)
	send(msg("m2"))
	var got []string
	for range 4 {
		f := first.next()
		if m, ok := f["message"].(map[string]any); ok {
			got = append(got, m["id"].(string))
		} else {
			got = append(got, fmt.Sprint(f["type"]))
		}
	}
	if want := "[m1 notification notification m2]"; fmt.Sprint(got) != want {
		t.Fatalf("frames %v, want %s", got, want)
	}
	// Nothing else is queued: the next frame is the answer to a ping.
	first.send(map[string]string{"type": "ping"})
	if f := first.next(); f["type"] != gateway.TypePong {
		t.Fatalf("after the repeats: %v", f)
	}

	second := r.dial(u)
	send(msg("m1"))
	if f := second.next(); f["message"].(map[string]any)["id"] != "m1" {
		t.Fatalf("new connection: %v", f)
	}
	first.send(map[string]string{"type": "ping"})
	if f := first.next(); f["type"] != gateway.TypePong {
		t.Fatalf("first connection got m1 a third time: %v", f)
	}
	if s := r.gw.Stats(); s.Repeated != 2 {
		t.Fatalf("repeated %d, want 2", s.Repeated)
	}
}

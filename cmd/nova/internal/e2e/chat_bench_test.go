package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/nova-social/nova/shared/domain/presence"
	"github.com/nova-social/nova/shared/domain/push"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// BenchmarkMessageToWebsocket measures, on the whole local runtime, the
// time from sending POST /v1/conversations/{id}/messages to the message
// arriving on the recipient's websocket (outbox → relay → Kafka →
// dispatcher → chat-push → Redis pub/sub → gateway → websocket). The
// same-run baseline is the last leg alone: a push.Pusher publishing the
// same kind of frame to the recipient, timed to its arrival.
//
//	go test -run '^$' -bench MessageToWebsocket -benchtime 200x ./internal/e2e
func BenchmarkMessageToWebsocket(b *testing.B) {
	r := start(b)
	a, bob := r.register("alice"), r.register("bob")
	conv := r.must(http.StatusCreated, "POST", "/v1/conversations", a.Token,
		map[string]any{"participant_ids": []string{bob.ID}})["id"].(string)
	ws := r.connect(bob)

	var endToEnd, pushOnly []time.Duration
	i := 0
	for b.Loop() {
		i++
		begin := time.Now()
		r.must(http.StatusCreated, "POST", "/v1/conversations/"+conv+"/messages", a.Token,
			map[string]any{"client_message_id": fmt.Sprint("bench-", i), "content": "hello"})
		m := ws.nextMessage()
		endToEnd = append(endToEnd, time.Since(begin))
		if m["sequence"] != float64(i) {
			b.Fatalf("message %d arrived as %v", i, m)
		}
	}
	rdb := testrig.Redis(b)
	ps, err := presence.New(rdb, presence.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	pusher, err := push.NewPusher(rdb, ps)
	if err != nil {
		b.Fatal(err)
	}
	frame := []byte(`{"type":"message","message":{"content":"hello"}}`)
	for range len(endToEnd) {
		begin := time.Now()
		if _, err := pusher.Push(context.Background(), []id.UserID{id.UserID(bob.ID)}, frame); err != nil {
			b.Fatal(err)
		}
		ws.nextMessage()
		pushOnly = append(pushOnly, time.Since(begin))
	}
	testrig.ReportLatency(b, "e2e", endToEnd)
	testrig.ReportLatency(b, "push-only", pushOnly)
}

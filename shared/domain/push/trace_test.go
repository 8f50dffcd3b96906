package push_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/nova-social/nova/shared/domain/presence"
	"github.com/nova-social/nova/shared/domain/push"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// pushed runs one push of a frame to a connected user in ctx and returns
// the delivery the gateway's channel carried, raw.
func pushed(ctx context.Context, t *testing.T) []byte {
	t.Helper()
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
	if err := ps.Connect(context.Background(), u, "c1", gw); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Disconnect(context.Background(), u, "c1", gw) })
	sub := rdb.Subscribe(context.Background(), push.Channel(gw))
	t.Cleanup(func() { sub.Close() })
	if _, err := sub.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	res, err := p.Push(ctx, []id.UserID{u}, []byte(`{"type":"x"}`))
	if err != nil || res.Gateways != 1 {
		t.Fatalf("push: %+v, %v", res, err)
	}
	rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := sub.ReceiveMessage(rctx)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(m.Payload)
}

func TestPushCarriesTheTraceOfItsContext(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("test").Start(context.Background(), "chat-push receive")
	defer span.End()

	var d push.Delivery
	if err := json.Unmarshal(pushed(ctx, t), &d); err != nil {
		t.Fatal(err)
	}
	sc := span.SpanContext()
	if want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"; d.TraceParent != want {
		t.Errorf("delivery traceparent %q, want the pushing span's %q", d.TraceParent, want)
	}
	if len(d.UserIDs) != 1 || string(d.Frame) != `{"type":"x"}` {
		t.Errorf("delivery %+v", d)
	}
}

// A trace that came from elsewhere and is not recorded here (an upstream
// context, not sampled) is still passed on as it is.
func TestPushCarriesARemoteTrace(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	ctx := trace.ContextWithRemoteSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, Remote: true}))
	var d push.Delivery
	if err := json.Unmarshal(pushed(ctx, t), &d); err != nil {
		t.Fatal(err)
	}
	if want := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"; d.TraceParent != want {
		t.Errorf("delivery traceparent %q, want %q", d.TraceParent, want)
	}
}

func TestUntracedPushOmitsTheTrace(t *testing.T) {
	raw := pushed(context.Background(), t)
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	if _, ok := fields["traceparent"]; ok {
		t.Errorf("untraced delivery %s has a traceparent field", raw)
	}
	if _, ok := fields["user_ids"]; !ok {
		t.Errorf("delivery %s lacks user_ids", raw)
	}
}

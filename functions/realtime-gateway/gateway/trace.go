package gateway

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/nova-social/nova/shared/domain/push"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/telemetry"
)

// deliverTraced is Deliver inside a span continuing the pushing reaction's
// trace: the last hop of an event's journey, from Redis pub/sub to the
// users' sockets. Frames are queued per connection and written by each
// connection's writer, so the span ends once every frame is queued.
func (g *Gateway) deliverTraced(ctx context.Context, d push.Delivery) {
	if g.cfg.Tracer == nil || d.TraceParent == "" {
		g.Deliver(d)
		return
	}
	parent := telemetry.Extract(ctx, propagation.MapCarrier{telemetry.TraceParent: d.TraceParent})
	if !trace.SpanContextFromContext(parent).IsValid() {
		g.Deliver(d)
		return
	}
	_, span := telemetry.Tracer(g.cfg.Tracer).Start(parent, "websocket push", trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(semconv.MessagingSystemKey.String("redis"), semconv.MessagingDestinationName(push.Channel(g.cfg.ID)),
			semconv.MessagingOperationTypeProcess, attribute.Int("nova.push.users", len(d.UserIDs)),
			attribute.Int("nova.push.connections", g.connectionsOf(d.UserIDs))))
	defer span.End()
	g.Deliver(d)
}

// connectionsOf counts the open connections of users here.
func (g *Gateway) connectionsOf(users []id.UserID) int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	n := 0
	for _, u := range users {
		n += len(g.users[u])
	}
	return n
}

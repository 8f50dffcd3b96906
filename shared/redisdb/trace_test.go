package redisdb_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/nova-social/nova/shared/redisdb"
	"github.com/nova-social/nova/shared/telemetry/telemetrytest"
	"github.com/nova-social/nova/shared/testrig"
)

// tracedClient is a client made by redisdb.NewClient, logged in as the
// ACL user Nova runs as, with the connections it uses already set up.
func tracedClient(t *testing.T) (*redis.Client, string) {
	t.Helper()
	u := testrig.RedisURL(t)
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redisdb.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error { p.Ping(ctx); return nil }); err != nil {
		t.Fatal(err)
	}
	return rdb, opt.Password
}

// childrenOf are the exported spans whose parent is root.
func childrenOf(exp *tracetest.InMemoryExporter, root trace.Span) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Parent.SpanID() == root.SpanContext().SpanID() {
			out = append(out, s)
		}
	}
	return out
}

// leaks lists where a span holds one of secrets.
func leaks(spans []tracetest.SpanStub, secrets ...string) []string {
	var out []string
	for _, s := range spans {
		var texts []string
		texts = append(texts, s.Name, s.Status.Description)
		for _, kv := range s.Attributes {
			texts = append(texts, kv.Value.String())
		}
		for _, e := range s.Events {
			for _, kv := range e.Attributes {
				texts = append(texts, kv.Value.String())
			}
		}
		for _, text := range texts {
			for _, secret := range secrets {
				if strings.Contains(text, secret) {
					out = append(out, fmt.Sprintf("span %q holds %q", s.Name, secret))
				}
			}
		}
	}
	return out
}

func TestRedisCommandUnderASpanIsAClientSpan(t *testing.T) {
	rdb, _ := tracedClient(t)
	tp, exp := telemetrytest.Recorder(t)
	key := "feed:trace-" + testrig.ID()
	value := "secret-value-" + testrig.ID()
	ctx, root := tp.Tracer("test").Start(context.Background(), "reaction")
	if err := rdb.Set(ctx, key, value, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	root.End()
	spans := childrenOf(exp, root)
	if len(spans) != 1 || len(exp.GetSpans()) != 2 {
		t.Fatalf("spans %v, want the root and one child", exp.GetSpans())
	}
	s := spans[0]
	if s.Name != "set" || s.SpanKind != trace.SpanKindClient {
		t.Errorf("span %q of kind %v, want set, client", s.Name, s.SpanKind)
	}
	a := telemetrytest.Attrs(s)
	if a[string(semconv.DBSystemNameKey)] != "redis" || a[string(semconv.DBOperationNameKey)] != "set" {
		t.Errorf("attributes %v, want db.system.name=redis and db.operation.name=set", a)
	}
	if s.Status.Code != codes.Unset {
		t.Errorf("status %v of a command that succeeded", s.Status)
	}
	if l := leaks(exp.GetSpans(), key, value, "trace-"); len(l) > 0 {
		t.Errorf("arguments recorded: %v", l)
	}
}

// On a connection the pool opens inside the span, the handshake (HELLO
// with the ACL user's password) runs through the hook too: no span may
// hold the password.
func TestRedisSpansNeverHoldTheLogin(t *testing.T) {
	u := testrig.RedisURL(t)
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redisdb.NewClient(opt)
	defer rdb.Close()
	tp, exp := telemetrytest.Recorder(t)
	ctx, root := tp.Tracer("test").Start(context.Background(), "reaction")
	key := "feed:trace-" + testrig.ID()
	if err := rdb.Get(ctx, key).Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET of a missing key: %v", err)
	}
	root.End()
	if l := leaks(exp.GetSpans(), opt.Password, opt.Username, key); len(l) > 0 {
		t.Errorf("login or arguments recorded: %v", l)
	}
	for _, s := range exp.GetSpans() {
		t.Logf("span %q (parent %s)", s.Name, s.Parent.SpanID())
	}
	var names []string
	for _, s := range childrenOf(exp, root) {
		names = append(names, s.Name)
	}
	if len(names) != 1 || names[0] != "get" {
		t.Errorf("the root's children are %v, want the get alone", names)
	}
}

func TestRedisNilIsNoError(t *testing.T) {
	rdb, _ := tracedClient(t)
	tp, exp := telemetrytest.Recorder(t)
	ctx, root := tp.Tracer("test").Start(context.Background(), "reaction")
	if err := rdb.Get(ctx, "feed:missing-"+testrig.ID()).Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET of a missing key: %v", err)
	}
	root.End()
	spans := childrenOf(exp, root)
	if len(spans) != 1 || spans[0].Name != "get" {
		t.Fatalf("spans %v, want one get", spans)
	}
	if spans[0].Status.Code != codes.Unset || len(spans[0].Events) != 0 {
		t.Errorf("a missing key marked the span: status %v, events %v", spans[0].Status, spans[0].Events)
	}
}

func TestRedisFailedCommandIsAnError(t *testing.T) {
	rdb, _ := tracedClient(t)
	tp, exp := telemetrytest.Recorder(t)
	key := "feed:trace-" + testrig.ID()
	if err := rdb.Set(context.Background(), key, "not a number", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	ctx, root := tp.Tracer("test").Start(context.Background(), "reaction")
	if err := rdb.Incr(ctx, key).Err(); err == nil {
		t.Fatal("INCR of a string succeeded")
	}
	root.End()
	spans := childrenOf(exp, root)
	if len(spans) != 1 || spans[0].Name != "incr" {
		t.Fatalf("spans %v, want one incr", spans)
	}
	if spans[0].Status.Code != codes.Error {
		t.Errorf("status %v of a failed command, want Error", spans[0].Status)
	}
	if len(spans[0].Events) == 0 || spans[0].Events[0].Name != "exception" {
		t.Errorf("events %v, want the error recorded", spans[0].Events)
	}
	if l := leaks(exp.GetSpans(), key); len(l) > 0 {
		t.Errorf("arguments recorded: %v", l)
	}
}

func TestRedisPipelineIsOneSpan(t *testing.T) {
	rdb, _ := tracedClient(t)
	tp, exp := telemetrytest.Recorder(t)
	key := "feed:trace-" + testrig.ID()
	value := "secret-value-" + testrig.ID()
	ctx, root := tp.Tracer("test").Start(context.Background(), "reaction")
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, key, value, time.Minute)
		p.Get(ctx, key)
		p.Expire(ctx, key, time.Minute)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	root.End()
	spans := childrenOf(exp, root)
	if len(spans) != 1 || len(exp.GetSpans()) != 2 {
		t.Fatalf("spans %v, want the root and one pipeline span", exp.GetSpans())
	}
	s := spans[0]
	if s.Name != "pipeline set" || s.SpanKind != trace.SpanKindClient {
		t.Errorf("span %q of kind %v, want \"pipeline set\", client", s.Name, s.SpanKind)
	}
	a := telemetrytest.Attrs(s)
	if a[string(semconv.DBSystemNameKey)] != "redis" || a[string(semconv.DBOperationBatchSizeKey)] != "3" {
		t.Errorf("attributes %v, want db.system.name=redis and db.operation.batch.size=3", a)
	}
	if l := leaks(exp.GetSpans(), key, value); len(l) > 0 {
		t.Errorf("arguments recorded: %v", l)
	}
}

func TestRedisOutsideASpanRecordsNothing(t *testing.T) {
	rdb, _ := tracedClient(t)
	tp, exp := telemetrytest.Recorder(t)
	unsampled, uexp := telemetrytest.Recorder(t, sdktrace.WithSampler(sdktrace.NeverSample()))
	uctx, uspan := unsampled.Tracer("test").Start(context.Background(), "not sampled")
	defer uspan.End()
	key := "feed:trace-" + testrig.ID()
	for name, ctx := range map[string]context.Context{
		"no span":                    context.Background(),
		"a provider but no span":     context.WithValue(context.Background(), otherKey{}, tp),
		"a span that is not sampled": uctx,
	} {
		if err := rdb.Set(ctx, key, "v", time.Minute).Err(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error { p.Get(ctx, key); return nil }); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if n := len(exp.GetSpans()) + len(uexp.GetSpans()); n != 0 {
		t.Errorf("%d spans recorded outside a recording span", n)
	}
}

// otherKey is a context key of the test's own: a provider kept under it
// is no span.
type otherKey struct{}

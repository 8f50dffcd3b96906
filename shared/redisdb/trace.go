package redisdb

import (
	"context"
	"errors"
	"net"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/nova-social/nova/shared/telemetry"
)

// NewClient is redis.NewClient with Nova's tracing hook: every command run
// inside a traced request or reaction is a client span of that trace.
func NewClient(opt *redis.Options) *redis.Client {
	rdb := redis.NewClient(opt)
	rdb.AddHook(traceHook{})
	return rdb
}

// traceHook starts a span per command or pipeline only under a recording
// span (telemetry.Child), so background calls and untraced requests cost
// nothing. Arguments are never recorded: they are users' data.
type traceHook struct{}

func (traceHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (traceHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if handshake[cmd.Name()] {
			return next(ctx, cmd)
		}
		ctx, span := telemetry.Child(ctx, cmd.Name(), trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(semconv.DBSystemNameRedis, semconv.DBOperationName(cmd.Name())))
		err := next(ctx, cmd)
		end(span, err)
		return err
	}
}

func (traceHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && handshake[cmds[0].Name()] {
			return next(ctx, cmds)
		}
		name := "pipeline"
		if len(cmds) > 0 {
			name = "pipeline " + cmds[0].Name()
		}
		ctx, span := telemetry.Child(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(semconv.DBSystemNameRedis, semconv.DBOperationName(name),
				semconv.DBOperationBatchSize(len(cmds))))
		err := next(ctx, cmds)
		end(span, err)
		return err
	}
}

// handshake are the commands go-redis runs on a new connection (HELLO,
// AUTH, SELECT, CLIENT SETINFO, which servers before 7.2 refuse and go-redis
// ignores): not the caller's work, so no spans of the caller's trace.
var handshake = map[string]bool{"hello": true, "auth": true, "select": true, "client": true}

func end(span trace.Span, err error) {
	if err != nil && !errors.Is(err, redis.Nil) && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, "redis command failed")
	}
	span.End()
}

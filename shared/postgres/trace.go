package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/nova-social/nova/shared/telemetry"
)

// tracer makes each query and batch run inside a traced request or
// reaction a client span of that trace (telemetry.Child: nothing outside
// one). The span holds the statement as written, with its $n placeholders:
// Nova's SQL is parameterised, so the text carries no user's data, and the
// arguments are never recorded.
type tracer struct{}

type spanKey struct{}

func (tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return startSpan(ctx, data.SQL)
}

func (tracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	endSpan(ctx, data.Err)
}

func (tracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	n := 0
	if data.Batch != nil {
		n = data.Batch.Len()
	}
	ctx, span := telemetry.Child(ctx, "batch", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(semconv.DBSystemNamePostgreSQL, semconv.DBOperationName("BATCH"), semconv.DBOperationBatchSize(n)))
	if !span.IsRecording() {
		return ctx
	}
	return context.WithValue(ctx, spanKey{}, span)
}

func (tracer) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	if span, ok := ctx.Value(spanKey{}).(trace.Span); ok && data.Err != nil {
		span.SetAttributes(errorAttributes(data.Err)...)
	}
}

func (tracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchEndData) {
	endSpan(ctx, data.Err)
}

func startSpan(ctx context.Context, sql string) context.Context {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx
	}
	op := operation(sql)
	ctx, span := telemetry.Child(ctx, op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(semconv.DBSystemNamePostgreSQL, semconv.DBOperationName(op), semconv.DBQueryText(sql)))
	return context.WithValue(ctx, spanKey{}, span)
}

func endSpan(ctx context.Context, err error) {
	span, ok := ctx.Value(spanKey{}).(trace.Span)
	if !ok {
		return
	}
	if err != nil {
		span.SetAttributes(errorAttributes(err)...)
		span.SetStatus(codes.Error, "query failed")
	}
	span.End()
}

// errorAttributes say why a statement failed without its message:
// PostgreSQL quotes the offending input there ("invalid input syntax for
// type uuid: \"someone@example.com\""), which is users' data. The SQLSTATE
// code says what an operator needs; the function's own log has the rest.
func errorAttributes(err error) []attribute.KeyValue {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return []attribute.KeyValue{semconv.DBResponseStatusCode(pgErr.Code), semconv.ErrorTypeKey.String(pgErr.Code)}
	}
	return []attribute.KeyValue{semconv.ErrorTypeKey.String(fmt.Sprintf("%T", err))}
}

// operation is the statement's first keyword (SELECT, INSERT, WITH…), the
// span's name: low in cardinality, as span names must be.
func operation(sql string) string {
	sql = strings.TrimSpace(sql)
	for strings.HasPrefix(sql, "--") {
		_, rest, _ := strings.Cut(sql, "\n")
		sql = strings.TrimSpace(rest)
	}
	word := sql
	if i := strings.IndexAny(sql, " \t\r\n"); i >= 0 {
		word = sql[:i]
	}
	if word == "" {
		return "query"
	}
	return strings.ToUpper(word)
}

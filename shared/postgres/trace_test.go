package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/nova-social/nova/shared/postgres"
	"github.com/nova-social/nova/shared/telemetry/telemetrytest"
	"github.com/nova-social/nova/shared/testrig"
)

func openPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := postgres.Open(context.Background(), postgres.Config{URL: testrig.PostgresURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// statements are the exported spans whose parent is root.
func statements(exp *tracetest.InMemoryExporter, root trace.Span) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Parent.SpanID() == root.SpanContext().SpanID() {
			out = append(out, s)
		}
	}
	return out
}

func spanText(s tracetest.SpanStub) string {
	var b strings.Builder
	b.WriteString(s.Name)
	for _, kv := range s.Attributes {
		b.WriteString(" " + kv.Value.String())
	}
	for _, e := range s.Events {
		for _, kv := range e.Attributes {
			b.WriteString(" " + kv.Value.String())
		}
	}
	return b.String()
}

func TestQueriesUnderASpanAreClientSpans(t *testing.T) {
	pool := openPool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	tp, exp := telemetrytest.Recorder(t)
	const secret = "s3cret-body-of-a-user"
	rctx, root := tp.Tracer("test").Start(ctx, "POST /v1/notes")
	const insert = "INSERT INTO notes (id, body) VALUES ($1, $2)"
	const sel = `
		SELECT body
		FROM notes WHERE id = $1`
	if _, err := pool.Exec(rctx, insert, 1, secret); err != nil {
		t.Fatal(err)
	}
	var body string
	if err := pool.QueryRow(rctx, sel, 1).Scan(&body); err != nil || body != secret {
		t.Fatalf("read back %q, %v", body, err)
	}
	err := pgx.BeginFunc(rctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(rctx, "update notes set body = $2 where id = $1", 1, secret+"-2")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	root.End()

	spans := statements(exp, root)
	want := []struct{ name, text string }{
		{"INSERT", insert},
		{"SELECT", sel},
		{"BEGIN", "begin"},
		{"UPDATE", "update notes set body = $2 where id = $1"},
		{"COMMIT", "commit"},
	}
	if len(spans) != len(want) {
		var names []string
		for _, s := range spans {
			names = append(names, s.Name)
		}
		t.Fatalf("statement spans %v, want %d", names, len(want))
	}
	for i, w := range want {
		s := spans[i]
		a := telemetrytest.Attrs(s)
		if s.Name != w.name || s.SpanKind != trace.SpanKindClient {
			t.Errorf("span %d: %q of kind %v, want %q, client", i, s.Name, s.SpanKind, w.name)
		}
		if a[string(semconv.DBSystemNameKey)] != "postgresql" || a[string(semconv.DBOperationNameKey)] != w.name ||
			a[string(semconv.DBQueryTextKey)] != w.text {
			t.Errorf("span %s: attributes %v, want postgresql, %s, the statement %q", w.name, a, w.name, w.text)
		}
		if s.Status.Code != codes.Unset {
			t.Errorf("span %s: status %v of a statement that succeeded", w.name, s.Status)
		}
		if strings.Contains(spanText(s), secret) {
			t.Errorf("span %s records an argument: %s", w.name, spanText(s))
		}
	}
}

func TestBatchUnderASpanIsOneSpan(t *testing.T) {
	pool := openPool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	tp, exp := telemetrytest.Recorder(t)
	rctx, root := tp.Tracer("test").Start(ctx, "reaction")
	b := &pgx.Batch{}
	b.Queue("INSERT INTO notes (id, body) VALUES ($1, $2)", 1, "one")
	b.Queue("INSERT INTO notes (id, body) VALUES ($1, $2)", 2, "two")
	b.Queue("SELECT count(*) FROM notes")
	if err := pool.SendBatch(rctx, b).Close(); err != nil {
		t.Fatal(err)
	}
	root.End()
	spans := statements(exp, root)
	if len(spans) != 1 {
		t.Fatalf("spans %v, want one batch span", spans)
	}
	s := spans[0]
	a := telemetrytest.Attrs(s)
	if s.Name != "batch" || s.SpanKind != trace.SpanKindClient || a[string(semconv.DBSystemNameKey)] != "postgresql" ||
		a[string(semconv.DBOperationNameKey)] != "BATCH" || a[string(semconv.DBOperationBatchSizeKey)] != "3" {
		t.Errorf("span %q of kind %v with %v, want batch, client, postgresql, BATCH, batch size 3", s.Name, s.SpanKind, a)
	}
	if s.Status.Code != codes.Unset {
		t.Errorf("status %v of a batch that succeeded", s.Status)
	}
	for _, x := range exp.GetSpans() {
		if x.Parent.SpanID() == s.SpanContext.SpanID() {
			t.Errorf("the batch's query %q got a span of its own", x.Name)
		}
	}

	// A batch one of whose statements fails is an error.
	exp.Reset()
	rctx, root = tp.Tracer("test").Start(ctx, "reaction")
	b = &pgx.Batch{}
	b.Queue("INSERT INTO notes (id, body) VALUES ($1, $2)", 3, "three")
	b.Queue("INSERT INTO notes (id, body) VALUES ($1, $2)", 1, "duplicate")
	if err := pool.SendBatch(rctx, b).Close(); err == nil {
		t.Fatal("a batch inserting a duplicate key succeeded")
	}
	root.End()
	spans = statements(exp, root)
	if len(spans) != 1 || spans[0].Name != "batch" {
		t.Fatalf("spans %v, want one batch span", spans)
	}
	if spans[0].Status.Code != codes.Error {
		t.Errorf("status %v of a failed batch, want Error", spans[0].Status)
	}
	if strings.Contains(spanText(spans[0]), "duplicate\"") {
		t.Errorf("the failed batch's span records an argument: %s", spanText(spans[0]))
	}
}

func TestFailedQueryIsAnError(t *testing.T) {
	pool := openPool(t)
	tp, exp := telemetrytest.Recorder(t)
	rctx, root := tp.Tracer("test").Start(context.Background(), "reaction")
	const q = "SELECT body FROM no_such_table WHERE id = $1"
	if _, err := pool.Exec(rctx, q, 7); err == nil {
		t.Fatal("a query of a missing table succeeded")
	}
	root.End()
	spans := statements(exp, root)
	if len(spans) != 1 {
		t.Fatalf("spans %v, want one", spans)
	}
	s := spans[0]
	if s.Name != "SELECT" || telemetrytest.Attrs(s)[string(semconv.DBQueryTextKey)] != q {
		t.Errorf("span %q with %v, want SELECT with the statement", s.Name, telemetrytest.Attrs(s))
	}
	if s.Status.Code != codes.Error {
		t.Errorf("status %v, want Error", s.Status)
	}
	// Its SQLSTATE, not its message (which may quote users' data).
	if got := telemetrytest.Attrs(s)[string(semconv.DBResponseStatusCodeKey)]; got != "42P01" {
		t.Errorf("db.response.status_code %q, want 42P01 (undefined_table)", got)
	}
}

func TestQueriesOutsideASpanRecordNothing(t *testing.T) {
	pool := openPool(t)
	unsampled, exp := telemetrytest.Recorder(t, sdktrace.WithSampler(sdktrace.NeverSample()))
	uctx, uspan := unsampled.Tracer("test").Start(context.Background(), "not sampled")
	defer uspan.End()
	for name, ctx := range map[string]context.Context{
		"no span":                    context.Background(),
		"a span that is not sampled": uctx,
	} {
		var n int
		if err := pool.QueryRow(ctx, "SELECT 1").Scan(&n); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b := &pgx.Batch{}
		b.Queue("SELECT 1")
		if err := pool.SendBatch(ctx, b).Close(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := pool.Exec(ctx, "SELECT * FROM no_such_table"); err == nil {
			t.Fatalf("%s: a query of a missing table succeeded", name)
		}
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Errorf("%d spans recorded outside a recording span", n)
	}
}

// The statement's arguments are never recorded, not even through the
// error a failing statement records: PostgreSQL quotes a value it cannot
// read in its message.
func TestFailedQueryRecordsNoArgument(t *testing.T) {
	pool := openPool(t)
	tp, exp := telemetrytest.Recorder(t)
	rctx, root := tp.Tracer("test").Start(context.Background(), "GET /v1/users/{id}")
	const email = "alice.private@example.com"
	if _, err := pool.Exec(rctx, "SELECT $1::uuid", email); err == nil {
		t.Fatal("an e-mail address was read as a uuid")
	}
	root.End()
	spans := statements(exp, root)
	if len(spans) != 1 || spans[0].Status.Code != codes.Error {
		t.Fatalf("spans %v, want one failed statement", spans)
	}
	if text := spanText(spans[0]); strings.Contains(text, email) {
		t.Errorf("the span records the argument %q: %s", email, text)
	}
}

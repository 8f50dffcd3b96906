package outbox

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/telemetry"
	"github.com/nova-social/nova/shared/testrig"
)

// BenchmarkRelayTracing is the relay's publishing (4 senders, Sends of 100
// records, one producer) with tracing off, and on as the relay does it:
// each record's event carries the traceparent its request stored, and the
// relay starts a publish span under each sampled one, writes it into the
// record's headers and ends it on the broker's answer; the spans are
// exported over OTLP/HTTP to a collector (an HTTP server that reads and
// discards each export, so the spans are really encoded and sent). At
// 100% every request is sampled; at 10% one in ten, and the others'
// contexts travel on without a span. Same broker, same run.
//
//	go test -run '^$' -bench RelayTracing -benchtime 100000x -count 3 ./shared/event/outbox
func BenchmarkRelayTracing(b *testing.B) {
	brokers := testrig.Kafka(b).ListenAddrs()
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(collector.Close)
	cfg := kafka.DefaultProducerConfig(brokers...)
	for _, m := range []struct {
		name  string
		ratio float64 // <0: tracing off
	}{{"off", -1}, {"on-100%", 1}, {"on-10%", 0.1}} {
		b.Run(m.name, func(b *testing.B) {
			var tracing *telemetry.Providers
			if m.ratio >= 0 {
				var err error
				if tracing, err = telemetry.Open(telemetry.Config{Service: "bench", Endpoint: collector.URL + "/v1/traces",
					Sampler: sdktrace.ParentBased(sdktrace.TraceIDRatioBased(m.ratio))}); err != nil {
					b.Fatal(err)
				}
				defer func() { _ = tracing.Shutdown(context.Background()) }()
			}
			benchRelaySends(b, cfg, tracing)
		})
	}
}

func benchRelaySends(b *testing.B, cfg kafka.ProducerConfig, tracing *telemetry.Providers) {
	const pool, chunk, senders = 1024, 100, 4
	codec := envelope.NewCodec(catalog.Default())
	p, err := kafka.NewProducer(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	r := &Relay{}
	events := make([]cloudevents.Event, pool)
	for i := range events {
		ctx := context.Background()
		if tracing != nil {
			r.cfg.Tracer = tracing.TracerProvider()
			// The request that stored the row: its span, sampled or not
			// by the sampler, made outside the timed loop as it was made
			// when the request ran.
			c, s := telemetry.Tracer(tracing.TracerProvider()).Start(ctx, "POST /v1/posts")
			ctx = c
			s.End()
		}
		msg := &eventsv1.PostCreated{PostId: fmt.Sprintf("0190f1c2-7a3b-7c4d-8e5f-%012d", i),
			UserId: fmt.Sprintf("0190f1c2-0000-7000-8000-%012d", i%500), Content: "bench",
			Type: eventsv1.PostType_POST_TYPE_TEXT, Visibility: eventsv1.PostVisibility_POST_VISIBILITY_PUBLIC,
			CreatedAt: timestamppb.New(time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC))}
		if events[i], err = codec.New(msg); err != nil {
			b.Fatal(err)
		}
		telemetry.SetEventTrace(ctx, &events[i])
	}
	next := make(chan int, b.N/chunk+1)
	for i := 0; i < b.N; i += chunk {
		next <- i
	}
	close(next)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for range senders {
		wg.Go(func() {
			recs := make([]kafka.Record, 0, chunk)
			for from := range next {
				recs = recs[:0]
				for i := from; i < min(from+chunk, b.N); i++ {
					recs = append(recs, kafka.Record{Topic: catalog.ContentEvents, Event: events[i%pool]})
				}
				spans := r.startSpans(context.Background(), recs)
				err := p.Send(context.Background(), recs...)
				endSpans(spans, err)
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

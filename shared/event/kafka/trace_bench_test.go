package kafka_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/telemetry"
)

// BenchmarkPublishTracing is Nova's Producer publishing as the outbox relay
// does (4 senders, Sends of 100 records), with tracing off and with every
// record under a producer span of its own, as the relay starts one per
// traced row, exported over OTLP/HTTP to a collector (an HTTP server here
// that reads and discards each export, so the spans are really encoded and
// sent), at 100% and 10% sampling. Same broker, same run.
//
//	go test -run '^$' -bench PublishTracing -benchtime 100000x -count 3 ./shared/event/kafka
func BenchmarkPublishTracing(b *testing.B) {
	brokers := broker(b)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(collector.Close)
	cfg := kafka.DefaultProducerConfig(brokers...)

	traced := func(ratio float64) *telemetry.Tracing {
		t, err := telemetry.Open(telemetry.Config{Service: "bench", Endpoint: collector.URL + "/v1/traces",
			Sampler: sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))})
		if err != nil {
			b.Fatal(err)
		}
		return t
	}
	b.Run("off", func(b *testing.B) { benchTraced(b, cfg, nil) })
	b.Run("on-100%", func(b *testing.B) { benchTraced(b, cfg, traced(1)) })
	b.Run("on-10%", func(b *testing.B) { benchTraced(b, cfg, traced(0.1)) })
}

func benchTraced(b *testing.B, cfg kafka.ProducerConfig, tracing *telemetry.Tracing) {
	const pool, chunk, senders = 1024, 100, 4
	codec := envelope.NewCodec(catalog.Default())
	p, err := kafka.NewProducer(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	events := make([]cloudevents.Event, pool)
	for i := range events {
		if events[i], err = codec.New(benchPost(i)); err != nil {
			b.Fatal(err)
		}
	}
	var tracer trace.Tracer
	if tracing != nil {
		tracer = telemetry.Tracer(tracing.Provider())
		defer func() { _ = tracing.Shutdown(context.Background()) }()
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
			spans := make([]trace.Span, 0, chunk)
			for from := range next {
				recs, spans = recs[:0], spans[:0]
				for i := from; i < min(from+chunk, b.N); i++ {
					rec := kafka.Record{Topic: catalog.ContentEvents, Event: events[i%pool]}
					if tracer != nil {
						// A new trace per record, as each row's request began one.
						_, span := tracer.Start(context.Background(), "send "+rec.Topic,
							trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(kafka.SendAttributes(rec)...))
						rec.Trace = span.SpanContext()
						spans = append(spans, span)
					}
					recs = append(recs, rec)
				}
				err := p.Send(context.Background(), recs...)
				for _, s := range spans {
					s.End()
				}
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

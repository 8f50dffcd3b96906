package kafka_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/testrig"
)

func benchPost(i int) *eventsv1.PostCreated {
	return &eventsv1.PostCreated{
		PostId:     fmt.Sprintf("0190f1c2-7a3b-7c4d-8e5f-%012d", i),
		UserId:     fmt.Sprintf("0190f1c2-0000-7000-8000-%012d", i%500),
		Content:    "A day at the lake: the water was cold, the light was perfect, and the dog refused to come out.",
		Type:       eventsv1.PostType_POST_TYPE_IMAGE,
		Visibility: eventsv1.PostVisibility_POST_VISIBILITY_PUBLIC,
		Tags:       []string{"lake", "dog", "summer"},
		CreatedAt:  timestamppb.New(time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)),
	}
}

// BenchmarkPublish compares Nova's Producer publishing CloudEvent-wrapped
// PostCreated events with a raw Sarama AsyncProducer sending the same
// protobuf payloads and keys, with the same Sarama configuration, to the
// same kfake broker in the same run.
//
// Both sides cycle through the same pool of distinct events so that neither
// keeps b.N messages alive for the garbage collector to scan.
func BenchmarkPublish(b *testing.B) {
	const pool = 1024
	brokers := broker(b)
	cfg := kafka.DefaultProducerConfig(brokers...)
	codec := envelope.NewCodec(catalog.Default())

	rawRun := func(b *testing.B, withHeaders bool) {
		sc, err := cfg.SaramaConfig()
		if err != nil {
			b.Fatal(err)
		}
		ap, err := sarama.NewAsyncProducer(brokers, sc)
		if err != nil {
			b.Fatal(err)
		}
		defer ap.Close()
		// Payloads (and, for raw+headers, the header sets of the same
		// events) come from the pool; every send gets its own message, as
		// Sarama writes into it.
		payloads := make([][]byte, pool)
		keys := make([]string, pool)
		headers := make([][]sarama.RecordHeader, pool)
		for i := range payloads {
			m := benchPost(i)
			payloads[i], _ = proto.Marshal(m)
			keys[i] = m.UserId
			if withHeaders {
				e, _ := codec.New(m)
				for k, v := range map[string]string{"ce_id": e.ID(), "ce_source": e.Source(), "ce_type": e.Type(), "ce_specversion": "1.0", "content-type": e.DataContentType(), "ce_dataschema": e.DataSchema(), "ce_subject": e.Subject(), "ce_time": e.Time().Format(time.RFC3339Nano), "ce_partitionkey": m.UserId} {
					headers[i] = append(headers[i], sarama.RecordHeader{Key: []byte(k), Value: []byte(v)})
				}
			}
		}
		done := make(chan error, 1)
		go func() {
			for n := 0; n < b.N; n++ {
				select {
				case <-ap.Successes():
				case err := <-ap.Errors():
					done <- err
					return
				}
			}
			done <- nil
		}()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			ap.Input() <- &sarama.ProducerMessage{Topic: catalog.ContentEvents, Key: sarama.StringEncoder(keys[i%pool]),
				Value: sarama.ByteEncoder(payloads[i%pool]), Headers: headers[i%pool]}
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	}
	b.Run("raw", func(b *testing.B) { rawRun(b, false) })
	// raw+headers adds the same nine ce_ headers as ready-made byte slices:
	// the cost of the headers themselves in Sarama and the broker, apart
	// from Nova's code.
	b.Run("raw+headers", func(b *testing.B) { rawRun(b, true) })

	b.Run("nova", func(b *testing.B) { benchSend(b, cfg, false) })
	b.Run("nova+build", func(b *testing.B) { benchSend(b, cfg, true) })
}

// benchSend publishes b.N PostCreated events through Nova's Producer made
// of cfg: concurrent Sends of a relay-sized batch each, the way the outbox
// relay and request handlers share one producer. With build each event is
// built from its message as it is sent.
func benchSend(b *testing.B, cfg kafka.ProducerConfig, build bool) {
	const pool = 1024
	codec := envelope.NewCodec(catalog.Default())
	p, err := kafka.NewProducer(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	posts := make([]*eventsv1.PostCreated, pool)
	events := make([]cloudevents.Event, pool)
	for i := range posts {
		posts[i] = benchPost(i)
		e, err := codec.New(posts[i])
		if err != nil {
			b.Fatal(err)
		}
		events[i] = e
	}
	// Concurrent Sends of a relay-sized batch each, the way the outbox
	// relay and request handlers share one producer.
	const chunk, senders = 1000, 4
	next := make(chan int, b.N/chunk+1)
	for i := 0; i < b.N; i += chunk {
		next <- i
	}
	close(next)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs := make([]kafka.Record, 0, chunk)
			for from := range next {
				recs = recs[:0]
				for i := from; i < min(from+chunk, b.N); i++ {
					e := events[i%pool]
					if build {
						var err error
						if e, err = codec.New(posts[i%pool]); err != nil {
							errs <- err
							return
						}
					}
					recs = append(recs, kafka.Record{Topic: catalog.ContentEvents, Event: e})
				}
				if err := p.Send(context.Background(), recs...); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkPublishSecurity is Nova's Producer (as in BenchmarkPublish's
// "nova") against four brokers started in the same run: plaintext without
// logins, SASL/SCRAM-SHA-512 with ACLs on, TLS, and TLS with SCRAM. SCRAM
// costs one exchange per connection, so the steady state should differ
// little; TLS costs encryption of every byte.
func BenchmarkPublishSecurity(b *testing.B) {
	files := testrig.NewTLSFiles(b)
	users := []testrig.KafkaOption{
		testrig.KafkaSASL("admin", "admin-secret"), testrig.KafkaACLs(),
		testrig.KafkaUser("writer", "writer-secret", "Write:topic:"+catalog.ContentEvents),
	}
	scram := kafka.Security{SASL: kafka.ScramSHA512, Username: "writer", Password: "writer-secret"}
	tlsOnly := kafka.Security{TLS: true, CAFile: files.CA}
	tlsSCRAM := scram
	tlsSCRAM.TLS, tlsSCRAM.CAFile = true, files.CA
	for _, c := range []struct {
		name string
		opts []testrig.KafkaOption
		sec  kafka.Security
	}{
		{"plaintext", nil, kafka.Security{}},
		{"scram", users, scram},
		{"tls", []testrig.KafkaOption{testrig.KafkaTLS(files, false)}, tlsOnly},
		{"tls+scram", append([]testrig.KafkaOption{testrig.KafkaTLS(files, false)}, users...), tlsSCRAM},
	} {
		cfg := kafka.DefaultProducerConfig(testrig.Kafka(b, c.opts...).ListenAddrs()...)
		cfg.Security = c.sec
		b.Run(c.name, func(b *testing.B) { benchSend(b, cfg, false) })
	}
}

package function_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"
	fcloudevents "knative.dev/func-go/cloudevents"
	fhttp "knative.dev/func-go/http"

	function "github.com/nova-social/nova/functions/feed-fanout"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/eventfunc/eventfunctest"
	"github.com/nova-social/nova/shared/event/sender"
	"github.com/nova-social/nova/shared/testrig"
)

// viaCloudEventsRuntime is the same started function behind func-go's
// cloudevents runtime (sdk-go's receive handler), as invoke: cloudevent
// would serve it: the baseline of BenchmarkDelivery.
type viaCloudEventsRuntime struct{ f *function.FeedFanout }

func (v viaCloudEventsRuntime) Handle(ctx context.Context, e event.Event) error {
	u, err := v.f.Unit()
	if err == nil {
		err = u.Receive(ctx, e)
	}
	if err != nil {
		return cehttp.NewResult(delivery.Status(err), "%w", err)
	}
	return nil
}

// BenchmarkDelivery posts PostCreated events, 8 at a time as an unordered
// KafkaSource would, to feed-fanout (real Redis and Kafka behind it)
// through the eventfunc adapter on func-go's http runtime, and through
// func-go's cloudevents runtime in the same run; it reports events/s, the
// p50/p99 of one delivery, and the deliveries that failed or were not
// answered within 10s.
//
//	go test -run '^$' -bench Delivery -benchtime 20000x ./functions/feed-fanout
func BenchmarkDelivery(b *testing.B) {
	k := testrig.Kafka(b)
	f := function.New()
	fn := eventfunctest.Serve(b, f, map[string]string{
		"REDIS_URL": testrig.RedisURL(b), "KAFKA_BROKERS": strings.Join(k.ListenAddrs(), ","),
	})
	token := fn.Issuer.Token(b, fn.From, fn.Audience)
	fhttp.SetLogLevel(fhttp.LogWarn)
	// Not httptest.Server: its Close waits for every handler, and a
	// stranded one never returns.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ce := &http.Server{Handler: fcloudevents.New(viaCloudEventsRuntime{f}).Handler}
	go func() { _ = ce.Serve(ln) }()
	defer ce.Close()
	ceURL := "http://" + ln.Addr().String()
	codec := envelope.NewCodec(catalog.Default())
	for _, c := range []struct{ name, url, token string }{{"adapter", fn.URL, token}, {"cloudevents-runtime", ceURL, ""}} {
		b.Run(c.name, func(b *testing.B) { deliver(b, codec, c.url, c.token) })
	}
}

// BenchmarkSenderVerification is BenchmarkDelivery's adapter with the
// sender check on (each delivery carries the dispatcher's token, verified
// once and then remembered until it expires) beside the same function with
// it off, in the same run.
//
//	go test -run '^$' -bench SenderVerification -benchtime 10000x ./functions/feed-fanout
func BenchmarkSenderVerification(b *testing.B) {
	k := testrig.Kafka(b)
	env := map[string]string{"REDIS_URL": testrig.RedisURL(b), "KAFKA_BROKERS": strings.Join(k.ListenAddrs(), ",")}
	on := eventfunctest.Serve(b, function.New(), env)
	token := on.Issuer.Token(b, on.From, on.Audience)
	offEnv := maps.Clone(env)
	offEnv[sender.EnvAuth] = string(sender.ModeOff)
	off := eventfunctest.ServeEnv(b, function.New(), offEnv)
	codec := envelope.NewCodec(catalog.Default())
	for _, c := range []struct{ name, url, token string }{{"verified", on.URL, token}, {"off", off, ""}} {
		b.Run(c.name, func(b *testing.B) { deliver(b, codec, c.url, c.token) })
	}
}

func deliver(b *testing.B, codec *envelope.Codec, url, token string) {
	const workers = 8
	author := uuid.NewString()
	reqs := make([][]byte, 64)
	headers := make([]http.Header, len(reqs))
	for i := range reqs {
		e, err := codec.New(&eventsv1.PostCreated{PostId: uuid.NewString(), UserId: author, Content: "benchmark post",
			Visibility: eventsv1.PostVisibility_POST_VISIBILITY_PUBLIC, CreatedAt: timestamppb.Now()})
		if err != nil {
			b.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, url, nil)
		if err := cehttp.WriteRequest(binding.WithForceBinary(context.Background()), binding.ToMessage(&e), req); err != nil {
			b.Fatal(err)
		}
		reqs[i], _ = io.ReadAll(req.Body)
		headers[i] = req.Header
		if token != "" {
			headers[i].Set("Authorization", "Bearer "+token)
		}
	}
	// A delivery unanswered after 10s counts as stranded (a dispatcher's
	// timeout would fire) instead of hanging the benchmark.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	var (
		next  atomic.Int64
		mu    sync.Mutex
		lat   = make([]time.Duration, 0, b.N)
		fails atomic.Int64
		wg    sync.WaitGroup
	)
	b.ResetTimer()
	start := time.Now()
	for range workers {
		wg.Go(func() {
			local := make([]time.Duration, 0, b.N/workers+1)
			for {
				n := next.Add(1) - 1
				if n >= int64(b.N) {
					break
				}
				i := n % int64(len(reqs))
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(reqs[i]))
				req.Header = headers[i].Clone()
				// A fresh id per delivery: feed-fanout deduplicates on it.
				req.Header.Set("Ce-Id", uuid.NewString())
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					fails.Add(1)
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) == 0 {
		b.Fatalf("all %d deliveries failed or went unanswered for 10s", b.N)
	}
	// func-go's cloudevents runtime strands an occasional request behind
	// one that ended (cloudevents/sdk-go#1224); the adapter must not.
	b.ReportMetric(float64(fails.Load()), "failed")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

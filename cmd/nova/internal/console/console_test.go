package console_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nova-social/nova/cmd/nova/internal/console"
	"github.com/nova-social/nova/cmd/nova/internal/instance"
	"github.com/nova-social/nova/functions/dead-letter/store"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/testrig"
)

// traceUI is the trace UI the fixture's console links to.
const traceUI = "http://127.0.0.1:16686"

// failingDest is where the fixture's dead letters failed: feed-fanout's
// address, as the console is told.
const failingDest = "http://127.0.0.1:18081"

// fixture is a console serving eventing/ over a Kafka broker and a
// database of the test's own, with the dispatcher's series in a registry
// the test moves.
type fixture struct {
	t       *testing.T
	c       *console.Console
	brokers []string
	dsn     string
	store   *store.Store
	codec   *envelope.Codec
	prod    *kafka.Producer

	delivered, deadLettered *prometheus.CounterVec
	lag                     *prometheus.GaugeVec
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	k := testrig.Kafka(t)
	f := &fixture{t: t, brokers: k.ListenAddrs(), dsn: testrig.PostgresURL(t), codec: envelope.NewCodec(catalog.Default())}
	pool, err := pgxpool.New(ctx, f.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	// As the dead-letter function makes it under nova run.
	if err := store.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	f.store = store.New(pool)
	if f.prod, err = kafka.NewProducer(kafka.DefaultProducerConfig(f.brokers...)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.prod.Close() })

	// The dispatcher's series, by its names and labels.
	reg := prometheus.NewRegistry()
	f.delivered = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nova_dispatcher_events_delivered_total"}, []string{"source"})
	f.deadLettered = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nova_dispatcher_events_dead_lettered_total"}, []string{"source"})
	f.lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kafka_consumer_lag"}, []string{"group", "topic", "partition"})
	reg.MustRegister(f.delivered, f.deadLettered, f.lag)

	f.c, err = console.New(ctx, console.Config{
		Addr: "127.0.0.1:0", TraceURL: traceUI, Manifests: loadManifests(t, "eventing"), Metrics: reg,
		Kafka:       func() ([]string, kafka.Security) { return f.brokers, kafka.Security{} },
		DatabaseURL: f.dsn, Functions: []instance.Function{{Name: "feed-fanout", URL: failingDest}},
		Interval: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- f.c.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := f.c.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return f
}

// get fetches a page of the console and returns its status and body.
func (f *fixture) get(path string) (int, string) {
	f.t.Helper()
	res, err := http.Get(f.c.URL() + strings.TrimPrefix(path, "/"))
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// The page shows the topology and the figures the registry holds, and the
// live stream pushes them again as they change, with a rate.
func TestIndexAndStreamShowTheDispatchersFigures(t *testing.T) {
	f := newFixture(t)
	f.delivered.WithLabelValues("default/feed-fanout").Add(7)
	f.lag.WithLabelValues("feed-service-group", catalog.ContentEvents, "0").Set(3)
	f.lag.WithLabelValues("feed-service-group", catalog.ContentEvents, "1").Set(2)
	code, body := f.get("/")
	for _, want := range []string{
		`data-source="feed-fanout"`, `href="/topics/content-events"`,
		`data-flow="kafkasource-default_feed-fanout" data-figure="delivered">7<`,
		`data-flow="kafkasource-default_feed-fanout" data-figure="lag">5<`,
		`<script src="/assets/console.js" defer></script>`,
	} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("GET / = %d, want %q in:\n%s", code, want, body)
		}
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, "style=") {
		t.Error("the page holds inline script or style, which its policy forbids")
	}

	res, err := http.Get(f.c.URL() + "stream")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); res.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("stream: %d %s", res.StatusCode, ct)
	}
	events := bufio.NewScanner(res.Body)
	next := func() string {
		t.Helper()
		for events.Scan() {
			if data, ok := strings.CutPrefix(events.Text(), "data: "); ok {
				return data
			}
		}
		t.Fatalf("stream ended: %v", events.Err())
		return ""
	}
	if first := next(); !strings.Contains(first, `"kafkasource-default_feed-fanout":{"delivered":7,`) || !strings.Contains(first, `"lag":5,"rate":null`) {
		t.Fatalf("first event: %s", first)
	}
	f.delivered.WithLabelValues("default/feed-fanout").Add(5)
	deadline := time.Now().Add(5 * time.Second)
	for {
		ev := next()
		if strings.Contains(ev, `"kafkasource-default_feed-fanout":{"delivered":12,`) && !strings.Contains(ev, `"rate":null`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stream never showed 12 deliveries with a rate; last: %s", ev)
		}
	}
}

// The console answers only to its own address (no DNS rebinding), with
// headers that keep the page from being framed, sniffed or cached, and
// takes a replay only from its own page.
func TestGuardRefusesOtherHostsAndOtherOrigins(t *testing.T) {
	f := newFixture(t)
	var lastBody string
	do := func(method, path, host string, hdr map[string]string, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, f.c.URL()+strings.TrimPrefix(path, "/"), strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		lastBody = string(b)
		return res
	}
	_, port, _ := strings.Cut(f.c.Addr(), ":")
	if res := do("GET", "/", "attacker.example:"+port, nil, ""); res.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("another host name: %d, want 421", res.StatusCode)
	}
	if res := do("GET", "/", "localhost:"+port, nil, ""); res.StatusCode != http.StatusOK {
		t.Errorf("localhost: %d, want 200", res.StatusCode)
	}
	res := do("GET", "/", "", nil, "")
	for k, want := range map[string]string{
		"Content-Security-Policy": "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-store",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	if res := do("POST", "/dead-letters/replay", "", form, "source=/nova/content-service&id=x"); res.StatusCode != http.StatusForbidden {
		t.Errorf("replay without the token: %d, want 403", res.StatusCode)
	}
	if res := do("POST", "/dead-letters/replay", "", form, "token=guess&source=/nova/content-service&id=x"); res.StatusCode != http.StatusForbidden {
		t.Errorf("replay with a wrong token: %d, want 403", res.StatusCode)
	}
	cross := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://attacker.example", "Sec-Fetch-Site": "cross-site"}
	if res := do("POST", "/dead-letters/replay", "", cross, "source=/nova/content-service&id=x"); res.StatusCode != http.StatusForbidden ||
		!strings.Contains(lastBody, "cross-origin request refused") {
		t.Errorf("a cross-site replay: %d %q, want 403 from the same-origin check", res.StatusCode, lastBody)
	}
	if res := do("GET", "/assets/", "", nil, ""); res.StatusCode != http.StatusNotFound {
		t.Errorf("the assets folder: %d, want 404 (no listing)", res.StatusCode)
	}
	if res := do("GET", "/assets/console.js", "", nil, ""); res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("the script: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

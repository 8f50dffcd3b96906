package eventbroker_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nova-social/nova/cmd/nova/internal/eventbroker"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/testrig"
)

// ingress serves a Broker default/nova over a test broker and returns its URL, the
// cluster and the topic.
func ingress(t *testing.T, maxBytes int64) (string, *testrig.KafkaBroker, string) {
	t.Helper()
	c := testrig.Kafka(t)
	b := eventbroker.Broker{Name: "nova", Namespace: "default"}
	c.CreateTopic(t, b.Topic(), 3)
	p, err := kafka.NewProducer(kafka.DefaultProducerConfig(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	in, err := eventbroker.NewIngress(eventbroker.IngressConfig{
		Store: eventbroker.NewStore(p), MaxEventBytes: maxBytes, Timeout: 10 * time.Second,
		Logger: slog.New(slog.DiscardHandler),
	}, []eventbroker.Broker{b})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(in)
	t.Cleanup(srv.Close)
	return srv.URL, c, b.Topic()
}

func send(t *testing.T, method, url string, header map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// records reads n records of topic from the start.
func records(t *testing.T, c *testrig.KafkaBroker, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records", len(out), n)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

func headers(r *kgo.Record) map[string]string {
	m := map[string]string{}
	for _, h := range r.Headers {
		m[h.Key] = string(h.Value)
	}
	return m
}

func TestIngressStoresEventsAsTheKafkaBrokerDoes(t *testing.T) {
	url, c, topic := ingress(t, 0)
	binary := map[string]string{
		"Ce-Specversion": "1.0", "Ce-Id": "b-1", "Ce-Source": "/nova/content-service",
		"Ce-Type": "com.nova.content.post.created", "Ce-Partitionkey": "user-1",
		"Content-Type": "application/protobuf",
	}
	if code, body := send(t, "POST", url+"/default/nova", binary, "\x0a\x01p"); code != http.StatusAccepted || body != "" {
		t.Fatalf("binary event: %d %q, want 202 with no body", code, body)
	}
	structured := `{"specversion":"1.0","id":"s-1","source":"/x","type":"t","partitionkey":"user-1",` +
		`"datacontenttype":"application/json","data":{"a":1}}`
	if code, _ := send(t, "POST", url+"/default/nova/", map[string]string{"Content-Type": "application/cloudevents+json"}, structured); code != http.StatusAccepted {
		t.Fatalf("structured event (trailing slash): %d, want 202", code)
	}
	noKey := map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "n-1", "Ce-Source": "/x", "Ce-Type": "t"}
	if code, _ := send(t, "POST", url+"/default/nova", noKey, ""); code != http.StatusAccepted {
		t.Fatalf("event without partitionkey: %d, want 202", code)
	}

	byID := map[string]*kgo.Record{}
	for _, r := range records(t, c, topic, 3) {
		byID[headers(r)["ce_id"]] = r
	}
	b := byID["b-1"]
	if h := headers(b); string(b.Key) != "user-1" || h["ce_partitionkey"] != "user-1" || h["content-type"] != "application/protobuf" ||
		h["ce_type"] != "com.nova.content.post.created" || string(b.Value) != "\x0a\x01p" {
		t.Errorf("binary event stored as key %q headers %v value %q", b.Key, h, b.Value)
	}
	s := byID["s-1"]
	if h := headers(s); string(s.Key) != "user-1" || h["content-type"] != "application/json" || string(s.Value) != `{"a":1}` ||
		h["ce_specversion"] != "1.0" {
		t.Errorf("structured event stored as key %q headers %v value %q, want binary mode", s.Key, h, s.Value)
	}
	if n := byID["n-1"]; n.Key != nil {
		t.Errorf("event without partitionkey stored under key %q", n.Key)
	}
	same := byID["b-1"].Partition == byID["s-1"].Partition
	if !same || byID["b-1"].Partition != kafka.PartitionFor([]byte("user-1"), 3) {
		t.Errorf("partitions %d and %d, want murmur2 of the key", byID["b-1"].Partition, byID["s-1"].Partition)
	}
}

func TestIngressAnswers(t *testing.T) {
	url, c, topic := ingress(t, 64)
	ok := map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "1", "Ce-Source": "/x", "Ce-Type": "t"}
	without := func(k string) map[string]string {
		h := map[string]string{}
		for kk, v := range ok {
			if kk != k {
				h[kk] = v
			}
		}
		return h
	}
	with := func(k, v string) map[string]string {
		h := without("")
		h[k] = v
		return h
	}
	cases := []struct {
		name, method, path string
		header             map[string]string
		body               string
		want               int
	}{
		{"GET", "GET", "/default/nova", ok, "", http.StatusMethodNotAllowed},
		{"PUT on an unknown path", "PUT", "/default/other", ok, "", http.StatusMethodNotAllowed},
		{"unknown broker", "POST", "/default/other", ok, "", http.StatusNotFound},
		{"unknown namespace", "POST", "/other/nova", ok, "", http.StatusNotFound},
		{"root", "POST", "/", ok, "", http.StatusNotFound},
		{"plain POST", "POST", "/default/nova", map[string]string{"Content-Type": "application/json"}, `{"a":1}`, http.StatusBadRequest},
		{"batch", "POST", "/default/nova", map[string]string{"Content-Type": "application/cloudevents-batch+json"},
			`[{"specversion":"1.0","id":"1","source":"/x","type":"t"}]`, http.StatusBadRequest},
		{"no id", "POST", "/default/nova", without("Ce-Id"), "", http.StatusBadRequest},
		{"no source", "POST", "/default/nova", without("Ce-Source"), "", http.StatusBadRequest},
		{"no type", "POST", "/default/nova", without("Ce-Type"), "", http.StatusBadRequest},
		{"spec version 2", "POST", "/default/nova", with("Ce-Specversion", "2.0"), "", http.StatusBadRequest},
		{"bad time", "POST", "/default/nova", with("Ce-Time", "yesterday"), "", http.StatusBadRequest},
		{"structured not JSON", "POST", "/default/nova", map[string]string{"Content-Type": "application/cloudevents+json"}, "{", http.StatusBadRequest},
		{"structured without id", "POST", "/default/nova", map[string]string{"Content-Type": "application/cloudevents+json"},
			`{"specversion":"1.0","source":"/x","type":"t"}`, http.StatusBadRequest},
		{"spec version 0.3", "POST", "/default/nova", with("Ce-Specversion", "0.3"), "", http.StatusAccepted},
		{"larger than a record", "POST", "/default/nova", ok, strings.Repeat("x", 65), http.StatusServiceUnavailable},
		{"accepted", "POST", "/default/nova", ok, "data", http.StatusAccepted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if code, body := send(t, tc.method, url+tc.path, tc.header, tc.body); code != tc.want || body != "" {
				t.Fatalf("%s %s: %d %q, want %d with no body", tc.method, tc.path, code, body, tc.want)
			}
		})
	}

	// Kafka refusing the write is a 503.
	c.RefuseWrites(t, topic)
	if code, _ := send(t, "POST", url+"/default/nova", with("Ce-Id", "refused"), ""); code != http.StatusServiceUnavailable {
		t.Fatalf("storage failure: %d, want 503", code)
	}
}

func TestReadReply(t *testing.T) {
	ctx := context.Background()
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	if e, err := eventbroker.ReadReply(ctx, h(), nil); e != nil || err != nil {
		t.Errorf("empty 2xx: %v %v, want no reply", e, err)
	}
	if e, err := eventbroker.ReadReply(ctx, h("Content-Type", "text/plain"), nil); e != nil || err != nil {
		t.Errorf("empty 2xx with a content type: %v %v, want no reply", e, err)
	}
	if _, err := eventbroker.ReadReply(ctx, h("Content-Type", "application/json"), []byte(`{"ok":true}`)); !errors.Is(err, eventbroker.ErrNotCloudEvent) {
		t.Errorf("JSON body: %v, want ErrNotCloudEvent", err)
	}
	e, err := eventbroker.ReadReply(ctx, h("Ce-Specversion", "1.0", "Ce-Id", "r", "Ce-Source", "/f", "Ce-Type", "reply"), nil)
	if err != nil || e == nil || e.ID() != "r" {
		t.Errorf("binary reply without data: %v %v", e, err)
	}
	e, err = eventbroker.ReadReply(ctx, h("Content-Type", "application/cloudevents+json"), []byte(`{"specversion":"1.0","id":"s","source":"/f","type":"reply"}`))
	if err != nil || e == nil || e.ID() != "s" {
		t.Errorf("structured reply: %v %v", e, err)
	}
	if _, err := eventbroker.ReadReply(ctx, h("Ce-Specversion", "1.0", "Ce-Id", "r"), nil); err == nil {
		t.Error("a reply without source and type was accepted")
	}
}

package eventbroker_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/eventbroker"
	"github.com/nova-social/nova/shared/event/eventfunc/eventfunctest"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/event/sender"
	"github.com/nova-social/nova/shared/testrig"
)

// With a sender check, the ingress stores only what an admitted sender
// posts with a token of the issuer for the Broker's audience: 401 without
// one (or for another audience), 403 for a sender the Broker's policy does
// not name, and then only the admitted event reaches the topic.
func TestIngressAuthenticatesSenders(t *testing.T) {
	c := testrig.Kafka(t)
	b := eventbroker.Broker{Name: "nova", Namespace: "default"}
	if b.Audience() != "eventing.knative.dev/broker/default/nova" {
		t.Fatalf("audience %q", b.Audience())
	}
	c.CreateTopic(t, b.Topic(), 1)
	is := eventfunctest.NewIssuer(t)
	ingest := sender.Ref{Kind: sender.KindKafkaSource, Name: "nova-ingest"}
	v, err := sender.NewVerifier(sender.Config{DiscoveryURL: is.URL(), Audience: b.Audience(), Namespace: "default", Senders: []sender.Ref{ingest}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := kafka.NewProducer(kafka.DefaultProducerConfig(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	in, err := eventbroker.NewIngress(eventbroker.IngressConfig{Store: eventbroker.NewStore(p), Timeout: 10 * time.Second,
		Logger: slog.New(slog.DiscardHandler), Senders: map[string]sender.Authenticator{b.Ref(): v}}, []eventbroker.Broker{b})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(in)
	t.Cleanup(srv.Close)
	token := func(sa, aud string) string {
		tok, _, err := is.Mint("default", sa, aud, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	event := func(id, auth string) map[string]string {
		h := map[string]string{"Ce-Specversion": "1.0", "Ce-Id": id, "Ce-Source": "/x", "Ce-Type": "t"}
		if auth != "" {
			h["Authorization"] = auth
		}
		return h
	}
	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"another audience", token(ingest.ServiceAccount(), "nova/feed-fanout"), http.StatusUnauthorized},
		{"a pod's own account", token("default", b.Audience()), http.StatusForbidden},
		{"the ingest source", token(ingest.ServiceAccount(), b.Audience()), http.StatusAccepted},
	} {
		if code, body := send(t, "POST", srv.URL+"/default/nova", event(tc.name, tc.auth), ""); code != tc.want {
			t.Errorf("%s: %d %q, want %d", tc.name, code, body, tc.want)
		}
	}
	recs := records(t, c, b.Topic(), 1)
	if len(recs) != 1 || headers(recs[0])["ce_id"] != "the ingest source" {
		t.Fatalf("stored %d records (%v), want the admitted one alone", len(recs), headers(recs[0]))
	}
}

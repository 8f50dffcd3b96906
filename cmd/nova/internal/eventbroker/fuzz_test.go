package eventbroker_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nova-social/nova/cmd/nova/internal/eventbroker"
)

// aliasBomb is a Trigger whose filter attributes, expanded, would be
// width^levels entries from a few hundred bytes.
func aliasBomb(width, levels int) []byte {
	var b strings.Builder
	b.WriteString("apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata:\n  name: bomb\n")
	b.WriteString("x0: &x0 [" + strings.TrimSuffix(strings.Repeat(`{exact: {type: lol}},`, width), ",") + "]\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "x%d: &x%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("{any: *x%d},", i-1), width), ","))
	}
	fmt.Fprintf(&b, "spec:\n  broker: b\n  filters: *x%d\n  subscriber: {uri: http://x.example}\n", levels)
	return []byte(b.String())
}

// FuzzParse feeds arbitrary bytes to the Broker and Trigger reader: it
// never panics, refuses with *Error only, and what it accepts the runtime
// can use as is (a filter that evaluates, a subscriber, a topic).
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../../../../eventing/overlays/broker/*.yaml")
	more, _ := filepath.Glob("../../../../eventing/overlays/broker/triggers/*.yaml")
	for _, p := range append(files, more...) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(brokerYAML + "---\n" + triggerYAML))
	f.Add([]byte("apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t}\nspec:\n  broker: b\n" +
		"  filters:\n    - not: {cesql: \"EXISTS subject AND type LIKE 'com.%'\"}\n    - all: [{prefix: {type: a}}, {suffix: {source: b}}]\n" +
		"  subscriber: {uri: http://x.example}\n"))
	f.Add(aliasBomb(9, 9))
	f.Fuzz(func(t *testing.T, data []byte) {
		brokers, triggers, err := eventbroker.Parse("fuzz.yaml", data)
		if err != nil {
			if !errors.Is(err, eventbroker.ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			return
		}
		for _, b := range brokers {
			if b.Name == "" || b.Namespace == "" || b.Config.Name == "" || b.Topic() == "" {
				t.Fatalf("accepted an incomplete Broker: %+v", b)
			}
			if d := b.Delivery.Egress(); d.Timeout <= 0 || d.Retry < 0 {
				t.Fatalf("accepted a bad delivery: %+v", d)
			}
		}
		for _, tr := range triggers {
			if tr.Name == "" || tr.Namespace == "" || tr.Broker == "" || tr.Filter == nil {
				t.Fatalf("accepted an incomplete Trigger: %+v", tr)
			}
			if tr.Subscriber.Ref == nil && tr.Subscriber.URI == nil {
				t.Fatalf("accepted a Trigger without a subscriber: %+v", tr)
			}
			for _, e := range []func(){func() { _, _ = tr.Filter.Match(event(nil)) }, func() { _, _ = tr.Filter.Match(event(noSubject)) }} {
				e()
			}
		}
	})
}

// FuzzReadReply feeds arbitrary responses to the reply reader: it never
// panics, and a reply it returns is a valid event.
func FuzzReadReply(f *testing.F) {
	f.Add("", "", []byte(nil))
	f.Add("application/json", "", []byte(`{"ok":true}`))
	f.Add("application/cloudevents+json", "", []byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t"}`))
	f.Add("text/plain", "1.0", []byte("data"))
	f.Add("application/cloudevents-batch+json", "", []byte(`[]`))
	f.Fuzz(func(t *testing.T, contentType, specVersion string, body []byte) {
		h := http.Header{}
		if contentType != "" {
			h.Set("Content-Type", contentType)
		}
		if specVersion != "" {
			h.Set("Ce-Specversion", specVersion)
			h.Set("Ce-Id", "1")
			h.Set("Ce-Source", "/s")
			h.Set("Ce-Type", "t")
		}
		e, err := eventbroker.ReadReply(context.Background(), h, body)
		if err == nil && e != nil {
			if verr := e.Validate(); verr != nil {
				t.Fatalf("returned an invalid reply: %v", verr)
			}
		}
		if err == nil && e == nil && len(body) > 0 {
			t.Fatalf("a %d-byte body read as no reply", len(body))
		}
	})
}

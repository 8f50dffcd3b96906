package eventbroker_test

import (
	"errors"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	ceevent "github.com/cloudevents/sdk-go/v2/event"

	"github.com/nova-social/nova/cmd/nova/internal/eventbroker"
)

// event is a PostCreated-like event with a subject, a content type, a
// time with milliseconds and an extension; mod adjusts it.
func event(mod func(e *cloudevents.Event)) cloudevents.Event {
	e := cloudevents.NewEvent()
	e.SetID("0193-1")
	e.SetSource("/nova/content-service")
	e.SetType("com.nova.content.post.created")
	e.SetSubject("post-1")
	e.SetTime(time.Date(2026, 1, 2, 3, 4, 5, 120_000_000, time.FixedZone("CET", 3600)))
	e.SetDataSchema("https://type.googleapis.com/nova.events.v1.PostCreated")
	_ = e.SetData("application/protobuf", []byte{1})
	e.SetExtension("partitionkey", "user-1")
	if mod != nil {
		mod(&e)
	}
	return e
}

var (
	noSubject     = func(e *cloudevents.Event) { e.Context.(*ceevent.EventContextV1).Subject = nil }
	noContentType = func(e *cloudevents.Event) { e.Context.(*ceevent.EventContextV1).DataContentType = nil }
	plainRecord   = func(e *cloudevents.Event) {
		e.SetType("dev.knative.kafka.event")
		e.SetSource("/apis/v1/namespaces/default/kafkasources/nova-ingest#content-events")
		e.SetExtension("key", "user-1")
	}
)

// outcome of a filter on an event: delivered, not delivered, or the data
// plane failing (the record is discarded too).
type outcome int

const (
	pass outcome = iota
	drop
	fail
)

func (o outcome) String() string { return [...]string{"pass", "drop", "fail"}[o] }

func TestFilters(t *testing.T) {
	type S = eventbroker.FilterSpec
	m := func(kv ...string) map[string]string {
		out := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	cases := []struct {
		name    string
		attrs   map[string]string
		filters []S
		mod     func(*cloudevents.Event)
		want    outcome
	}{
		// No filter at all, and empty ones, let everything through.
		{name: "no filter", want: pass},
		{name: "empty attributes", attrs: m(), want: pass},
		{name: "empty filters element", filters: []S{{}}, want: pass},
		{name: "empty any", filters: []S{{Any: []S{}}}, want: pass},

		// spec.filter.attributes: exact, AND, case-sensitive.
		{name: "attributes type", attrs: m("type", "com.nova.content.post.created"), want: pass},
		{name: "attributes type other", attrs: m("type", "com.nova.content.post.deleted"), want: drop},
		{name: "attributes case-sensitive", attrs: m("type", "COM.nova.content.post.created"), want: drop},
		{name: "attributes no trimming", attrs: m("type", "com.nova.content.post.created "), want: drop},
		{name: "attributes AND", attrs: m("type", "com.nova.content.post.created", "source", "/nova/content-service"), want: pass},
		{name: "attributes AND one wrong", attrs: m("type", "com.nova.content.post.created", "source", "/nova/other"), want: drop},
		{name: "attributes extension", attrs: m("partitionkey", "user-1"), want: pass},
		{name: "attributes absent extension", attrs: m("region", "eu"), want: drop},
		{name: "attributes empty value ignored", attrs: m("type", "com.nova.content.post.created", "region", ""), want: pass},
		{name: "attributes only empty values", attrs: m("subject", "", "region", ""), mod: noSubject, want: pass},
		{name: "attributes time ISO_INSTANT", attrs: m("time", "2026-01-02T02:04:05.120Z"), want: pass},
		{name: "attributes time not RFC 3339 as written", attrs: m("time", "2026-01-02T03:04:05.12+01:00"), want: drop},
		{name: "attributes dataschema", attrs: m("dataschema", "https://type.googleapis.com/nova.events.v1.PostCreated"), want: pass},
		{name: "attributes specversion and id", attrs: m("specversion", "1.0", "id", "0193-1"), want: pass},
		{name: "attributes subject absent fails", attrs: m("subject", "post-1"), mod: noSubject, want: fail},
		{name: "attributes datacontenttype", attrs: m("datacontenttype", "application/protobuf"), want: pass},
		{name: "attributes datacontenttype absent fails", attrs: m("datacontenttype", "x"), mod: noContentType, want: fail},

		// A non-empty filters wins over filter.
		{name: "filters win over attributes", attrs: m("type", "nope"), filters: []S{{Exact: m("type", "com.nova.content.post.created")}}, want: pass},
		{name: "empty filters leaves attributes", attrs: m("type", "nope"), filters: []S{}, want: drop},

		// Top-level list is AND.
		{name: "filters AND", filters: []S{{Prefix: m("type", "com.nova.")}, {Suffix: m("type", ".created")}}, want: pass},
		{name: "filters AND one false", filters: []S{{Prefix: m("type", "com.nova.")}, {Suffix: m("type", ".deleted")}}, want: drop},

		// exact, prefix, suffix.
		{name: "exact", filters: []S{{Exact: m("type", "com.nova.content.post.created")}}, want: pass},
		{name: "exact empty value ignored", filters: []S{{Exact: m("region", "")}}, want: pass},
		{name: "prefix", filters: []S{{Prefix: m("type", "com.nova.content.")}}, want: pass},
		{name: "prefix case-sensitive", filters: []S{{Prefix: m("type", "Com.nova")}}, want: drop},
		{name: "prefix AND entries", filters: []S{{Prefix: m("type", "com.nova.", "source", "/nova/")}}, want: pass},
		{name: "prefix absent extension", filters: []S{{Prefix: m("region", "e")}}, want: drop},
		{name: "prefix empty value ignored", filters: []S{{Prefix: m("region", "")}}, want: pass},
		{name: "prefix absent subject fails", filters: []S{{Prefix: m("subject", "post")}}, mod: noSubject, want: fail},
		{name: "suffix", filters: []S{{Suffix: m("source", "#content-events")}}, mod: plainRecord, want: pass},
		{name: "suffix other topic", filters: []S{{Suffix: m("source", "#user-events")}}, mod: plainRecord, want: drop},
		{name: "suffix absent datacontenttype fails", filters: []S{{Suffix: m("datacontenttype", "json")}}, mod: noContentType, want: fail},

		// all, any, not.
		{name: "all", filters: []S{{All: []S{{Exact: m("type", "dev.knative.kafka.event")}, {Suffix: m("source", "#content-events")}}}}, mod: plainRecord, want: pass},
		{name: "all one false", filters: []S{{All: []S{{Exact: m("type", "dev.knative.kafka.event")}, {Suffix: m("source", "#user-events")}}}}, mod: plainRecord, want: drop},
		{name: "all single", filters: []S{{All: []S{{Exact: m("type", "com.nova.content.post.created")}}}}, want: pass},
		{name: "any first", filters: []S{{Any: []S{{Exact: m("type", "com.nova.content.post.created")}, {Exact: m("type", "x")}}}}, want: pass},
		{name: "any last", filters: []S{{Any: []S{{Exact: m("type", "x")}, {Exact: m("type", "com.nova.content.post.created")}}}}, want: pass},
		{name: "any none", filters: []S{{Any: []S{{Exact: m("type", "x")}, {Exact: m("type", "y")}}}}, want: drop},
		{name: "any match before a failure", filters: []S{{Any: []S{{Exact: m("type", "com.nova.content.post.created")}, {Exact: m("subject", "p")}}}}, mod: noSubject, want: pass},
		{name: "any failure before a match", filters: []S{{Any: []S{{Exact: m("subject", "p")}, {Exact: m("type", "com.nova.content.post.created")}}}}, mod: noSubject, want: fail},
		{name: "not", filters: []S{{Not: &S{Exact: m("type", "x")}}}, want: pass},
		{name: "not match", filters: []S{{Not: &S{Exact: m("type", "com.nova.content.post.created")}}}, want: drop},
		{name: "not empty element", filters: []S{{Not: &S{}}}, want: drop},
		// The data plane's null subject: not does not turn the failure
		// into a match.
		{name: "not prefix absent subject fails", filters: []S{{Not: &S{Prefix: m("subject", "x")}}}, mod: noSubject, want: fail},
		{name: "nested", filters: []S{{Any: []S{
			{Exact: m("type", "com.nova.content.post.deleted")},
			{All: []S{{Prefix: m("type", "com.nova.content.")}, {Not: &S{Suffix: m("type", ".updated")}}}},
		}}}, want: pass},

		// cesql: the result decides; any evaluation error is false, and
		// a not around it matches.
		{name: "cesql true", filters: []S{{CESQL: "type = 'com.nova.content.post.created' AND source LIKE '/nova/%'"}}, want: pass},
		{name: "cesql false", filters: []S{{CESQL: "type = 'x'"}}, want: drop},
		{name: "cesql extension", filters: []S{{CESQL: "partitionkey = 'user-1'"}}, want: pass},
		{name: "cesql missing attribute", filters: []S{{CESQL: "region = 'eu'"}}, want: drop},
		{name: "cesql missing attribute under not", filters: []S{{Not: &S{CESQL: "region = 'eu'"}}}, want: pass},
		{name: "cesql EXISTS", filters: []S{{CESQL: "EXISTS subject"}}, mod: noSubject, want: drop},
		{name: "cesql non-boolean cast", filters: []S{{CESQL: "'true'"}}, want: pass},
		{name: "cesql integer cast", filters: []S{{CESQL: "1 + 1"}}, want: pass},
		{name: "cesql zero cast", filters: []S{{CESQL: "1 - 1"}}, want: drop},
		{name: "cesql string not a boolean", filters: []S{{CESQL: "'yes'"}}, want: drop},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := eventbroker.NewFilter(c.attrs, c.filters)
			if err != nil {
				t.Fatalf("NewFilter: %v", err)
			}
			ok, err := f.Match(event(c.mod))
			got := drop
			switch {
			case err != nil:
				got = fail
				if !errors.Is(err, eventbroker.ErrAbsentAttribute) {
					t.Errorf("failure %v does not match ErrAbsentAttribute", err)
				}
			case ok:
				got = pass
			}
			if got != c.want {
				t.Fatalf("filter %s: %s (err %v), want %s", f, got, err, c.want)
			}
		})
	}
}

func TestNewFilterRefusesBadCESQL(t *testing.T) {
	if _, err := eventbroker.NewFilter(nil, []eventbroker.FilterSpec{{CESQL: "type = "}}); err == nil {
		t.Fatal("an unparsable CESQL expression was accepted")
	}
}

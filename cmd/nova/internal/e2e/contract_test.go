package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/nova-social/nova/cmd/nova/internal/manifests"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/envelope/roundtrip"
	"github.com/nova-social/nova/shared/event/eventfunc/eventfunctest"
	"github.com/nova-social/nova/shared/event/sender"
)

// contractCase is one event of the agreement corpus.
type contractCase struct {
	name  string
	event cloudevents.Event
	// valid says whether the event keeps its type's contract: no consumer
	// may refuse it for its form; otherwise every consumer must refuse it
	// with a 400 and the same reason.
	valid bool
}

// TestConsumersAgreeOnEveryEvent sends the same corpus of good and bad
// events to every function whose KafkaSource reads the event's topic, as
// that source's dispatcher would (its token, its extensions), and requires
// one verdict per event: every consumer applies a good event, and every
// consumer refuses a bad one with the same status and the same reason,
// before any function logic (no database error can be the validator).
func TestConsumersAgreeOnEveryEvent(t *testing.T) {
	r := start(t)
	set, err := manifests.Load(filepath.Join(r.sys.Root(), "eventing"))
	if err != nil {
		t.Fatal(err)
	}
	type consumer struct {
		fn, url, token string
		ext            map[string]string
	}
	byTopic := map[string][]consumer{}
	for _, s := range set.Sources {
		if s.Sink.Ref == nil {
			continue
		}
		fn := s.Sink.Ref.Name
		url, ok := r.sys.FunctionURL(fn)
		if !ok {
			t.Fatalf("KafkaSource %s delivers to %s, which is not running", s.Name, fn)
		}
		tok, err := r.sys.Issuer().Tokens.Token(context.Background(), s.Namespace,
			sender.Ref{Kind: sender.KindKafkaSource, Name: s.Name}.ServiceAccount(), s.Sink.Audience)
		if err != nil {
			t.Fatal(err)
		}
		for _, topic := range s.Topics {
			byTopic[topic] = append(byTopic[topic], consumer{fn, url, "Bearer " + tok, s.Extensions})
		}
	}

	codec := envelope.NewCodec(catalog.Default())
	var cases []contractCase
	for i, et := range codec.Catalog().Events() {
		cases = append(cases, contractCorpus(t, codec, et, i)...)
	}

	checked := 0
	for _, tc := range cases {
		et, _ := codec.Catalog().ByType(tc.event.Type())
		consumers := byTopic[et.Topic]
		if len(consumers) == 0 {
			continue // a topic no function reads (feed-updates, notification-events)
		}
		verdicts := map[string][]string{}
		for _, c := range consumers {
			h := http.Header{"Authorization": {c.token}}
			e := tc.event.Clone()
			for k, v := range c.ext {
				e.SetExtension(k, v)
			}
			code, body := eventfunctest.SendWith(t, c.url, h, e)
			verdict := fmt.Sprintf("%d %s", code, strings.TrimSpace(body))
			verdicts[verdict] = append(verdicts[verdict], c.fn)
			switch {
			case tc.valid && code/100 != 2 && (code != http.StatusBadRequest || strings.Contains(body, "envelope:")):
				// A consumer may refuse a valid event for what it holds
				// (chat-persist: a sender outside the conversation), never
				// for its form, and never with a 5xx.
				t.Errorf("%s (%s): %s answered %d %s, want it applied", tc.name, et.Type, c.fn, code, body)
			case !tc.valid && code != http.StatusBadRequest:
				t.Errorf("%s (%s): %s answered %d %s, want 400 with the contract's reason", tc.name, et.Type, c.fn, code, body)
			}
		}
		if len(verdicts) > 1 {
			var lines []string
			for v, fns := range verdicts {
				lines = append(lines, fmt.Sprintf("  %s: %s", strings.Join(fns, ", "), v))
			}
			slices.Sort(lines)
			t.Errorf("%s (%s): the consumers of %s disagree:\n%s", tc.name, et.Type, et.Topic, strings.Join(lines, "\n"))
		}
		checked += len(consumers)
	}
	t.Logf("%d events, %d deliveries: every consumer of each topic gave the same verdict", len(cases), checked)
	if checked < 100 {
		t.Fatalf("only %d deliveries checked", checked)
	}
}

// contractCorpus builds, for one event type, a good event in each data
// encoding and in forms a newer or hand-writing producer sends, and a bad
// event for each way the contract can be broken.
func contractCorpus(t *testing.T, codec *envelope.Codec, et catalog.EventType, n int) []contractCase {
	t.Helper()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	build := func(msg proto.Message, asJSON bool) cloudevents.Event {
		opts := []envelope.Option{envelope.WithTime(at)}
		if asJSON {
			opts = append(opts, envelope.WithJSON())
		}
		e, err := codec.New(msg, opts...)
		if err != nil {
			t.Fatalf("build %s: %v", et.Type, err)
		}
		return e
	}
	sample := func() proto.Message {
		m := roundtrip.Sample(et, 1000+n)
		// Beyond the contract, chat-persist (realtime-chat's one consumer)
		// stores a message only when its type agrees with its media.
		if c, ok := m.(*eventsv1.ChatMessageSubmitted); ok {
			c.Type = eventsv1.MessageType_MESSAGE_TYPE_IMAGE
		}
		return m
	}
	// jsonWith is the sample as JSON data with edit applied to its object.
	jsonWith := func(edit func(obj map[string]any)) cloudevents.Event {
		e := build(sample(), true)
		obj := map[string]any{}
		dec := json.NewDecoder(bytes.NewReader(e.Data()))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			t.Fatal(err)
		}
		edit(obj)
		data, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.SetData(envelope.ContentTypeJSON, data); err != nil {
			t.Fatal(err)
		}
		return e
	}
	md := et.Message.ProtoReflect().Descriptor()
	key := md.Fields().ByName(et.KeyField)

	cases := []contractCase{
		{"protobuf", build(sample(), false), true},
		{"JSON", build(sample(), true), true},
		{"JSON with a field this version does not know", jsonWith(func(o map[string]any) { o["colour"] = "teal" }), true},
	}
	// A hand-written event may leave its time in the data out: the
	// CloudEvent's time stands for it.
	for _, f := range fieldsWhere(md, func(r ruleSet) bool { return r.eventTime }) {
		cases = append(cases, contractCase{"JSON without " + string(f.Name()) + " (the event's time says it)",
			jsonWith(func(o map[string]any) { delete(o, f.JSONName()) }), true})
		noTime := jsonWith(func(o map[string]any) { delete(o, f.JSONName()) })
		noTime.SetTime(time.Time{})
		cases = append(cases, contractCase{"no " + string(f.Name()) + " and no time", noTime, false})
	}
	for _, f := range fieldsWhere(md, func(r ruleSet) bool { return r.id != "" }) {
		bad := "post-123"
		if f.IsList() {
			cases = append(cases, contractCase{string(f.Name()) + " holding a non-UUID",
				jsonWith(func(o map[string]any) { o[f.JSONName()] = []any{bad} }), false})
			continue
		}
		e := jsonWith(func(o map[string]any) { o[f.JSONName()] = bad })
		if f == key {
			e.SetExtension(envelope.PartitionKeyExtension, bad)
		}
		cases = append(cases, contractCase{string(f.Name()) + " not a UUID", e, false})
		cases = append(cases, contractCase{string(f.Name()) + " in upper case",
			jsonWith(func(o map[string]any) {
				s, _ := o[f.JSONName()].(string)
				o[f.JSONName()] = strings.ToUpper(s)
			}), false})
	}
	for _, f := range fieldsWhere(md, func(r ruleSet) bool { return r.required && !r.eventTime }) {
		e := jsonWith(func(o map[string]any) { delete(o, f.JSONName()) })
		if f == key {
			continue // without its key an event is undecodable, tested below
		}
		cases = append(cases, contractCase{"no " + string(f.Name()), e, false})
	}
	for _, f := range fieldsWhere(md, func(r ruleSet) bool { return r.definedOnly }) {
		cases = append(cases, contractCase{string(f.Name()) + " a number its enum lacks",
			jsonWith(func(o map[string]any) { o[f.JSONName()] = 97 }), false})
		cases = append(cases, contractCase{string(f.Name()) + " a name its enum lacks",
			jsonWith(func(o map[string]any) { o[f.JSONName()] = "NOT_A_VALUE" }), false})
	}
	other := build(sample(), true)
	other.SetExtension(envelope.PartitionKeyExtension, "0190f1c2-7a3b-7c4d-8e5f-00000000ffff")
	cases = append(cases,
		contractCase{"partitionkey other than its " + string(et.KeyField), other, false},
		contractCase{"no " + string(et.KeyField), jsonWith(func(o map[string]any) { delete(o, key.JSONName()) }), false},
	)
	broken := build(sample(), true)
	if err := broken.SetData(envelope.ContentTypeJSON, []byte(`{"`+key.JSONName()+`":`)); err != nil {
		t.Fatal(err)
	}
	cases = append(cases, contractCase{"malformed JSON", broken, false})
	for i := range cases {
		cases[i].event.SetID(fmt.Sprintf("%s-%d-%d", et.MessageName().Name(), n, i))
	}
	return cases
}

// ruleSet is a field's contract rules, as envelope reads them.
type ruleSet struct {
	required, definedOnly, eventTime bool
	id                               string
}

func fieldsWhere(md protoreflect.MessageDescriptor, keep func(ruleSet) bool) []protoreflect.FieldDescriptor {
	var out []protoreflect.FieldDescriptor
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		r := envelope.Rules(fd)
		if r == nil {
			continue
		}
		if keep(ruleSet{r.GetRequired(), r.GetDefinedOnly(), r.GetEventTime(), envelope.IDKind(r)}) {
			out = append(out, fd)
		}
	}
	return out
}

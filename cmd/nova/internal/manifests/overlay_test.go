package manifests_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/nova-social/nova/cmd/nova/internal/eventbroker"
	"github.com/nova-social/nova/cmd/nova/internal/manifests"
	"github.com/nova-social/nova/cmd/nova/internal/source"
	"github.com/nova-social/nova/shared/event/catalog"
)

const (
	functionLabel   = "app.kubernetes.io/component"
	functionSource  = "function-source"
	brokerAPI       = eventbroker.APIVersion
	knativeKafkaEvt = "dev.knative.kafka.event"
)

var brokerOverlay = filepath.Join(eventing, "overlays", "broker")

// brokerOverlayObjects builds the broker overlay as kubectl would and
// returns its Brokers, Triggers and KafkaSources (the base's function
// sources are deleted by the overlay, so only its ingest source is left).
func brokerOverlayObjects(t *testing.T) ([]eventbroker.Broker, []eventbroker.Trigger, []source.KafkaSource) {
	t.Helper()
	set, err := manifests.Load(brokerOverlay)
	if err != nil {
		t.Fatal(err)
	}
	return set.Brokers, set.Triggers, set.Sources
}

// probe is an event a topic carries, and the topic.
type probe struct {
	topic string
	event cloudevents.Event
}

func (p probe) String() string {
	if p.event.Type() == knativeKafkaEvt {
		return "plain records of " + p.topic
	}
	return p.event.Type()
}

// probes are an event of every catalogue type, as Nova's producers write
// it, and a plain record of every topic as the ingest source wraps it.
func probes(cat *catalog.Catalog, ingest source.KafkaSource) []probe {
	var out []probe
	for _, et := range cat.Events() {
		e := cloudevents.NewEvent()
		e.SetID("probe")
		e.SetSource(et.Source())
		e.SetType(et.Type)
		e.SetSubject("subject")
		e.SetDataSchema(et.DataSchema())
		_ = e.SetData("application/protobuf", []byte{1})
		e.SetExtension("partitionkey", "key")
		out = append(out, probe{et.Topic, e})
	}
	for _, tp := range cat.Topics() {
		e := cloudevents.NewEvent()
		e.SetID("partition:0/offset:0")
		e.SetType(knativeKafkaEvt)
		e.SetSource(ingest.CESource(tp.Name))
		e.SetSubject("partition:0#0")
		e.SetExtension("partitionkey", "key")
		e.SetExtension("key", "key")
		e.DataEncoded = []byte(`{}`)
		out = append(out, probe{tp.Name, e})
	}
	return out
}

// checkBrokerOverlay compares the broker overlay with the base: one Kafka
// Broker fed by an ordered ingest source from every topic a function
// reads, and for every function's KafkaSource one Trigger to the same
// function that lets through exactly the events that source reads (every
// catalogue type of its topics, and their plain records), with the same
// effective delivery and ordering. It returns what disagrees.
func checkBrokerOverlay(cat *catalog.Catalog, base []source.KafkaSource, brokers []eventbroker.Broker,
	triggers []eventbroker.Trigger, ingest []source.KafkaSource) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if len(brokers) != 1 {
		bad("the overlay has %d Brokers, want one", len(brokers))
		return problems
	}
	b := brokers[0]
	if len(ingest) != 1 {
		bad("the overlay has %d KafkaSources, want one ingest source", len(ingest))
		return problems
	}
	in := ingest[0]
	if r := in.Sink.Ref; r == nil || r.Kind != eventbroker.BrokerKind || r.APIVersion != brokerAPI || r.Name != b.Name || r.Namespace != b.Namespace {
		bad("%s: ingest source %s posts to %s, not Broker %s", in.File, in.Ref(), in.Sink, b.Ref())
	}
	if in.Ordering != source.Ordered {
		bad("%s: ingest source %s is %s: per-key order would not survive into the Broker", in.File, in.Ref(), in.Ordering)
	}
	if in.Delivery.DeadLetterSink == nil {
		bad("%s: ingest source %s has no dead-letter sink", in.File, in.Ref())
	}

	byFunction := map[string][]eventbroker.Trigger{}
	for _, tr := range triggers {
		if tr.Subscriber.Ref == nil {
			bad("%s: Trigger %s posts to a URI, not to a function", tr.File, tr.Ref())
			continue
		}
		if tr.Broker != b.Name || tr.Namespace != b.Namespace {
			bad("%s: Trigger %s is on Broker %s/%s, not %s", tr.File, tr.Ref(), tr.Namespace, tr.Broker, b.Ref())
		}
		byFunction[tr.Subscriber.Ref.Name] = append(byFunction[tr.Subscriber.Ref.Name], tr)
	}
	all := probes(cat, in)
	for _, src := range base {
		if src.Sink.Ref == nil {
			continue
		}
		fn := src.Sink.Ref.Name
		for _, t := range src.Topics {
			if !slices.Contains(in.Topics, t) {
				bad("%s: ingest source %s does not read %s, which KafkaSource %s does", in.File, in.Ref(), t, src.Ref())
			}
		}
		trs := byFunction[fn]
		delete(byFunction, fn)
		if len(trs) != 1 {
			bad("function %s: %d Triggers in the overlay, want one in place of KafkaSource %s", fn, len(trs), src.Ref())
			continue
		}
		tr := trs[0]
		for _, p := range all {
			want := slices.Contains(src.Topics, p.topic)
			got, err := tr.Filter.Match(p.event)
			got = got && err == nil
			switch {
			case want && !got:
				bad("%s: Trigger %s does not let %s through; KafkaSource %s delivers them", tr.File, tr.Ref(), p, src.Ref())
			case got && !want:
				bad("%s: Trigger %s lets %s through; KafkaSource %s does not read %s", tr.File, tr.Ref(), p, src.Ref(), p.topic)
			}
		}
		if tr.Ordering != src.Ordering {
			bad("%s: Trigger %s is %s, KafkaSource %s is %s", tr.File, tr.Ref(), tr.Ordering, src.Ref(), src.Ordering)
		}
		if got, want := describeDelivery(tr.DeliveryWith(b)), describeDelivery(src.Delivery); got != want {
			bad("%s: Trigger %s delivers with %s, KafkaSource %s with %s", tr.File, tr.Ref(), got, src.Ref(), want)
		}
	}
	for fn, trs := range byFunction {
		for _, tr := range trs {
			bad("%s: Trigger %s posts to %s, which no KafkaSource of the base feeds", tr.File, tr.Ref(), fn)
		}
	}
	sort.Strings(problems)
	return problems
}

func describeDelivery(d source.Delivery) string {
	dls := "no dead-letter sink"
	if d.DeadLetterSink != nil {
		dls = "dead-letter sink " + d.DeadLetterSink.String()
	}
	return fmt.Sprintf("retry %d, %s backoff from %s, timeout %s, %s", d.Retry, d.BackoffPolicy, d.BackoffDelay, d.Timeout, dls)
}

// baseFunctionSources are the base's KafkaSources, every one of which must
// carry the label the overlay deletes them by.
func baseFunctionSources(t *testing.T) []source.KafkaSource {
	t.Helper()
	set, err := manifests.Load(eventing)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Sources) == 0 {
		t.Fatalf("no KafkaSources in %s", eventing)
	}
	for _, s := range set.Sources {
		if s.Labels[functionLabel] != functionSource {
			t.Errorf("%s: KafkaSource %s lacks the label %s=%s: the broker overlay would keep it, and its function would get every event twice",
				s.File, s.Ref(), functionLabel, functionSource)
		}
	}
	return set.Sources
}

// TestBrokerOverlayRoutesAsTheBase: through the Broker, every function
// receives exactly the events its KafkaSource gives it in the base, with
// the same delivery and ordering.
func TestBrokerOverlayRoutesAsTheBase(t *testing.T) {
	base := baseFunctionSources(t)
	brokers, triggers, ingest := brokerOverlayObjects(t)
	for _, p := range checkBrokerOverlay(catalog.Default(), base, brokers, triggers, ingest) {
		t.Error(p)
	}
}

// The check itself fails on each way a Trigger can drift from its base
// KafkaSource.
func TestCheckBrokerOverlayCatchesDrift(t *testing.T) {
	base := baseFunctionSources(t)
	brokers, triggers, ingest := brokerOverlayObjects(t)
	cat := catalog.Default()
	at := func(name string) int {
		for i, tr := range triggers {
			if tr.Name == name {
				return i
			}
		}
		t.Fatalf("no Trigger %s in the overlay", name)
		return -1
	}
	mutated := func(mod func(ts []eventbroker.Trigger) []eventbroker.Trigger) []eventbroker.Trigger {
		return mod(slices.Clone(triggers))
	}
	filter := func(specs ...eventbroker.FilterSpec) eventbroker.Filter {
		f, err := eventbroker.NewFilter(nil, specs)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	retry := int32(1)
	cases := map[string]struct {
		triggers []eventbroker.Trigger
		want     string
	}{
		"a function without a Trigger": {mutated(func(ts []eventbroker.Trigger) []eventbroker.Trigger {
			return slices.Delete(ts, at("notifier"), at("notifier")+1)
		}), "function notifier: 0 Triggers in the overlay"},
		"a type missing": {mutated(func(ts []eventbroker.Trigger) []eventbroker.Trigger {
			ts[at("chat-push")].Filter = filter(eventbroker.FilterSpec{Exact: map[string]string{"type": "com.nova.chat.message.submitted"}})
			return ts
		}), "does not let com.nova.messaging.message.sent through"},
		"a type too many": {mutated(func(ts []eventbroker.Trigger) []eventbroker.Trigger {
			i := at("media-attach")
			ts[i].Filter = filter(eventbroker.FilterSpec{Any: []eventbroker.FilterSpec{
				{Prefix: map[string]string{"type": "com.nova.media."}},
				{Exact: map[string]string{"type": "com.nova.content.post.created"}},
				{All: []eventbroker.FilterSpec{{Exact: map[string]string{"type": knativeKafkaEvt}}, {Suffix: map[string]string{"source": "#media-events"}}}},
			}})
			return ts
		}), "lets com.nova.content.post.created through"},
		"plain records missing": {mutated(func(ts []eventbroker.Trigger) []eventbroker.Trigger {
			ts[at("chat-persist")].Filter = filter(eventbroker.FilterSpec{Exact: map[string]string{"type": "com.nova.chat.message.submitted"}})
			return ts
		}), "does not let plain records of realtime-chat through"},
		"delivery differs": {mutated(func(ts []eventbroker.Trigger) []eventbroker.Trigger {
			i := at("search-indexer")
			ts[i].Delivery = &eventbroker.DeliverySpec{Retry: &retry}
			return ts
		}), "Trigger default/search-indexer delivers with retry 1"},
		"ordering differs": {mutated(func(ts []eventbroker.Trigger) []eventbroker.Trigger {
			ts[at("feed-fanout")].Ordering = source.Unordered
			return ts
		}), "Trigger default/feed-fanout is unordered, KafkaSource default/feed-fanout is ordered"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			problems := checkBrokerOverlay(cat, base, brokers, c.triggers, ingest)
			for _, p := range problems {
				if strings.Contains(p, c.want) {
					return
				}
			}
			t.Fatalf("no problem mentions %q; got %q", c.want, problems)
		})
	}
}

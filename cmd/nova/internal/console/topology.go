package console

import (
	"slices"
	"strings"

	"github.com/nova-social/nova/cmd/nova/internal/dispatcher"
	"github.com/nova-social/nova/cmd/nova/internal/eventbroker"
	"github.com/nova-social/nova/cmd/nova/internal/manifests"
	"github.com/nova-social/nova/cmd/nova/internal/source"
	"github.com/nova-social/nova/shared/event/catalog"
)

// Topology is how events flow under the manifests nova run runs: which
// topics each KafkaSource (or Trigger) reads, the function it delivers
// to, and the topics that function writes, where the flow goes on.
type Topology struct {
	Topics []Topic
	Flows  []Flow
}

// Topic is one topic: the catalogue's, or a Kafka Broker's.
type Topic struct {
	Name       string
	Partitions int32
	Purpose    string
	// Writers are the functions that publish to it (the catalogue's
	// writers), or the Broker's ingress.
	Writers []string
	// Readers are the flows (KafkaSources, Triggers) that read it.
	Readers []string
}

// Flow is one KafkaSource or Trigger: what it reads, where it delivers,
// and where its function's events go next.
type Flow struct {
	// Kind is KafkaSource or Trigger.
	Kind      string
	Namespace string
	Name      string
	// Ref is the flow's label in the dispatcher's metrics: the source's
	// "<namespace>/<name>", a Trigger's "trigger:<namespace>/<name>".
	Ref string
	// ID names the flow in the page and in the live figures.
	ID string
	// Group is its consumer group, whose lag it shows.
	Group  string
	Topics []string
	// Filter is a Trigger's filter as text; "" for a source.
	Filter string
	// Sink is the function delivered to, or "broker <ns>/<name>", or a
	// URI.
	Sink string
	// DeadLetter is where events it gives up on go; "" for nowhere.
	DeadLetter string
	Retry      int32
	// Emits are the topics the sink writes: a function's (the catalogue's
	// writers), a Broker's topic.
	Emits []string
}

// NewTopology draws the flows of m over the topics of cat.
func NewTopology(m *manifests.Set, cat *catalog.Catalog) Topology {
	var t Topology
	brokerTopic := map[string]string{}
	for _, b := range m.Brokers {
		brokerTopic[b.Ref()] = b.Topic()
	}
	for _, src := range m.Sources {
		f := Flow{Kind: source.Kind, Namespace: src.Namespace, Name: src.Name, Ref: src.Ref(), Group: src.ConsumerGroup,
			Topics: slices.Clone(src.Topics), Retry: src.Delivery.Retry}
		f.Sink, f.Emits = sinkOf(src.Sink, src.Namespace, cat, brokerTopic)
		if d := src.Delivery.DeadLetterSink; d != nil {
			f.DeadLetter, _ = sinkOf(*d, src.Namespace, cat, brokerTopic)
		}
		t.Flows = append(t.Flows, f)
	}
	for _, tr := range m.Triggers {
		var b eventbroker.Broker
		for _, cand := range m.Brokers {
			if cand.Namespace == tr.Namespace && cand.Name == tr.Broker {
				b = cand
			}
		}
		d := tr.DeliveryWith(b)
		f := Flow{Kind: "Trigger", Namespace: tr.Namespace, Name: tr.Name, Ref: dispatcher.TriggerRef(tr), Group: tr.ConsumerGroup(),
			Retry: d.Retry}
		if topic, ok := brokerTopic[b.Ref()]; ok {
			f.Topics = []string{topic}
		}
		if tr.Filter != nil {
			f.Filter = tr.Filter.String()
		}
		f.Sink, f.Emits = sinkOf(tr.Subscriber, tr.Namespace, cat, brokerTopic)
		if d.DeadLetterSink != nil {
			f.DeadLetter, _ = sinkOf(*d.DeadLetterSink, tr.Namespace, cat, brokerTopic)
		}
		t.Flows = append(t.Flows, f)
	}
	for i := range t.Flows {
		t.Flows[i].ID = flowID(t.Flows[i])
	}

	readers := func(topic string) []string {
		var out []string
		for _, f := range t.Flows {
			if slices.Contains(f.Topics, topic) {
				out = append(out, f.Name)
			}
		}
		return out
	}
	for _, ct := range cat.Topics() {
		t.Topics = append(t.Topics, Topic{Name: ct.Name, Partitions: ct.Partitions, Purpose: ct.Purpose,
			Writers: slices.Clone(ct.Writers), Readers: readers(ct.Name)})
	}
	for _, b := range m.Brokers {
		t.Topics = append(t.Topics, Topic{Name: b.Topic(), Partitions: b.Kafka.Partitions,
			Purpose: "Kafka Broker " + b.Ref() + "'s events", Writers: []string{"broker ingress"}, Readers: readers(b.Topic())})
	}
	return t
}

// sinkOf names a destination and the topics its events go on to.
func sinkOf(d source.Destination, namespace string, cat *catalog.Catalog, brokerTopic map[string]string) (string, []string) {
	switch {
	case d.Ref == nil && d.URI != nil:
		return d.URI.String(), nil
	case d.Ref == nil:
		return "", nil
	case d.Ref.Kind == "Broker":
		ns := d.Ref.Namespace
		if ns == "" {
			ns = namespace
		}
		ref := ns + "/" + d.Ref.Name
		if topic, ok := brokerTopic[ref]; ok {
			return "broker " + ref, []string{topic}
		}
		return "broker " + ref, nil
	default:
		return d.Ref.Name, cat.WrittenBy(d.Ref.Name)
	}
}

// flowID is a name for the flow usable as an HTML id and a JSON key.
func flowID(f Flow) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(f.Kind))
	b.WriteByte('-')
	for _, r := range f.Namespace + "/" + f.Name {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r + 'a' - 'A')
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Topic finds a topic by name.
func (t Topology) Topic(name string) (Topic, bool) {
	for _, tp := range t.Topics {
		if tp.Name == name {
			return tp, true
		}
	}
	return Topic{}, false
}

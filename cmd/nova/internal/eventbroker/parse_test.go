package eventbroker_test

import (
	"errors"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"strings"
	"testing"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/eventbroker"
	"github.com/nova-social/nova/cmd/nova/internal/source"
)

const brokerYAML = `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: nova
  annotations:
    eventing.knative.dev/broker.class: Kafka
spec:
  config:
    apiVersion: v1
    kind: ConfigMap
    name: kafka-broker-config
  delivery:
    retry: 5
    backoffPolicy: exponential
    backoffDelay: PT0.2S
    timeout: PT30S
    deadLetterSink:
      ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: dead-letter}
`

const triggerYAML = `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: feed-fanout
  namespace: nova
  annotations:
    kafka.eventing.knative.dev/delivery.order: Ordered
spec:
  broker: nova
  filters:
    - any:
        - exact: {type: com.nova.content.post.created}
        - all:
            - exact: {type: dev.knative.kafka.event}
            - suffix: {source: "#content-events"}
  subscriber:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: feed-fanout}
    uri: /events
`

func TestParseBrokerAndTrigger(t *testing.T) {
	brokers, triggers, err := eventbroker.Parse("overlay.yaml", []byte(brokerYAML+"---\n# a comment\n---\n"+triggerYAML+
		"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(brokers) != 1 || len(triggers) != 1 {
		t.Fatalf("%d brokers, %d triggers", len(brokers), len(triggers))
	}
	b := brokers[0]
	if b.Ref() != "default/nova" || b.Topic() != "knative-broker-default-nova" || b.Path() != "/default/nova" {
		t.Errorf("broker %s topic %s path %s", b.Ref(), b.Topic(), b.Path())
	}
	if b.Config != (source.Reference{APIVersion: "v1", Kind: "ConfigMap", Name: "kafka-broker-config", Namespace: "default"}) {
		t.Errorf("config %+v", b.Config)
	}
	d := b.Delivery.Egress()
	if d.Retry != 5 || d.BackoffDelay != 200*time.Millisecond || d.Timeout != 30*time.Second ||
		d.DeadLetterSink == nil || d.DeadLetterSink.Ref.Name != "dead-letter" || d.DeadLetterSink.Ref.Namespace != "default" {
		t.Errorf("broker delivery %+v", d)
	}

	tr := triggers[0]
	if tr.Ref() != "nova/feed-fanout" || tr.Broker != "nova" || tr.ConsumerGroup() != "knative-trigger-nova-feed-fanout" {
		t.Errorf("trigger %s broker %s group %s", tr.Ref(), tr.Broker, tr.ConsumerGroup())
	}
	if tr.Ordering != source.Ordered {
		t.Errorf("ordering %s: the annotation is case-insensitive", tr.Ordering)
	}
	if tr.Subscriber.Ref == nil || tr.Subscriber.Ref.Namespace != "nova" || tr.Subscriber.URI.String() != "/events" {
		t.Errorf("subscriber %v", tr.Subscriber)
	}
	if tr.Delivery != nil {
		t.Errorf("delivery %+v, want none", tr.Delivery)
	}
	if ok, _ := tr.Filter.Match(event(nil)); !ok {
		t.Error("the filter refuses a PostCreated")
	}
	if ok, _ := tr.Filter.Match(event(plainRecord)); !ok {
		t.Error("the filter refuses a plain content-events record")
	}
	if ok, _ := tr.Filter.Match(event(func(e *cloudevents.Event) { e.SetType("com.nova.content.post.deleted") })); ok {
		t.Error("the filter lets a PostDeleted through")
	}
}

func TestTriggerDefaults(t *testing.T) {
	_, triggers, err := eventbroker.Parse("t.yaml", []byte(`apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: all}
spec:
  broker: default
  subscriber: {uri: "http://example.com/x"}
`))
	if err != nil {
		t.Fatal(err)
	}
	tr := triggers[0]
	if tr.Namespace != "default" || tr.Ordering != source.Unordered || tr.Delivery != nil {
		t.Errorf("defaults: %+v", tr)
	}
	if ok, err := tr.Filter.Match(event(nil)); !ok || err != nil {
		t.Errorf("a Trigger without filter refused an event: %v", err)
	}
}

// DeliveryWith is the Kafka Broker's whole-object fallback, and Egress the
// data plane's reading of a DeliverySpec.
func TestDeliveryWith(t *testing.T) {
	parse := func(doc string) eventbroker.Trigger {
		t.Helper()
		_, ts, err := eventbroker.Parse("t.yaml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return ts[0]
	}
	brokers, _, err := eventbroker.Parse("b.yaml", []byte(brokerYAML))
	if err != nil {
		t.Fatal(err)
	}
	b := brokers[0]
	head := "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t}\nspec:\n  broker: nova\n  subscriber: {uri: \"http://x.example\"}\n"

	got := parse(head).DeliveryWith(b)
	if got.Retry != 5 || got.DeadLetterSink == nil || got.Timeout != 30*time.Second {
		t.Errorf("no delivery: %+v, want the Broker's", got)
	}
	got = parse(head + "  delivery: {retry: 2}\n").DeliveryWith(b)
	if got.Retry != 2 || got.DeadLetterSink != nil || got.Timeout != eventbroker.DefaultTimeout ||
		got.BackoffPolicy != source.BackoffExponential || got.BackoffDelay != 200*time.Millisecond {
		t.Errorf("retry only: %+v, want retry 2, no dead-letter sink (no field merge), exponential from 200ms, 10m timeout", got)
	}
	got = parse(head + "  delivery: {backoffDelay: PT5S, backoffPolicy: linear}\n").DeliveryWith(b)
	if got.Retry != 0 || got.DeadLetterSink != nil || got.Timeout != eventbroker.DefaultTimeout {
		t.Errorf("backoff only: %+v, want no egress config at all", got)
	}
	got = parse(head + "  delivery: {timeout: PT3S, backoffDelay: PT5S}\n").DeliveryWith(b)
	if got.Timeout != 3*time.Second || got.Retry != 0 || got.BackoffDelay != 200*time.Millisecond {
		t.Errorf("timeout: %+v, want 3s and the backoff ignored without retry", got)
	}
	got = parse(head + "  delivery: {retry: 3, backoffPolicy: linear, backoffDelay: PT1S}\n").DeliveryWith(b)
	if got.Retry != 3 || got.BackoffPolicy != source.BackoffLinear || got.BackoffDelay != time.Second {
		t.Errorf("retry with backoff: %+v", got)
	}
	var none eventbroker.Broker
	got = parse(head).DeliveryWith(none)
	if got.Retry != 0 || got.DeadLetterSink != nil || got.Timeout != eventbroker.DefaultTimeout {
		t.Errorf("neither: %+v", got)
	}
}

func TestParseRefusesWhatKnativeRefuses(t *testing.T) {
	trig := func(spec string, annotations ...string) string {
		ann := ""
		if len(annotations) > 0 {
			ann = "\n  annotations:\n" + "    " + strings.Join(annotations, "\n    ")
		}
		return "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata:\n  name: t\n  namespace: ns" + ann + "\nspec:\n" + spec
	}
	const sub = "  subscriber: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: f}}\n"
	brk := func(class, spec string) string {
		ann := ""
		if class != "" {
			ann = "\n  annotations: {eventing.knative.dev/broker.class: " + class + "}"
		}
		return "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata:\n  name: b" + ann + "\nspec:\n" + spec
	}
	const cfg = "  config: {apiVersion: v1, kind: ConfigMap, name: kafka-broker-config}\n"
	cases := []struct {
		name, doc, field, reason string
	}{
		{"trigger apiVersion", strings.Replace(trig("  broker: b\n"+sub), "eventing.knative.dev/v1", "eventing.knative.dev/v1beta1", 1), "apiVersion", "is not eventing.knative.dev/v1"},
		{"no broker", trig(sub), "spec.broker", "missing field(s)"},
		{"broker and brokerRef", trig("  broker: b\n  brokerRef: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: b}\n" + sub), "spec.broker, spec.brokerRef", "expected exactly one, got both"},
		{"brokerRef namespace", trig("  brokerRef: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: b, namespace: other}\n" + sub), "spec.brokerRef.namespace", "must not set the field(s)"},
		{"attribute key upper-case", trig("  broker: b\n  filter: {attributes: {Type: x}}\n" + sub), "spec.filter.attributes[Type]", `invalid key name "Type"`},
		{"attribute key with a dash", trig("  broker: b\n  filter: {attributes: {my-ext: x}}\n" + sub), "spec.filter.attributes[my-ext]", "invalid key name"},
		{"attribute key starting with a digit", trig("  broker: b\n  filter: {attributes: {1ext: x}}\n" + sub), "spec.filter.attributes[1ext]", "invalid key name"},
		{"two dialects", trig("  broker: b\n  filters:\n    - {exact: {type: a}, prefix: {type: b}}\n" + sub), "spec.filters[0]", "multiple dialects found"},
		{"two dialects nested", trig("  broker: b\n  filters:\n    - any:\n        - {exact: {type: x}}\n        - {suffix: {type: a}, not: {exact: {type: b}}}\n" + sub), "spec.filters[0].any[1]", "multiple dialects found"},
		{"prefix key", trig("  broker: b\n  filters:\n    - not: {prefix: {Source: x}}\n" + sub), "spec.filters[0].not.prefix[Source]", "invalid key name"},
		{"bad cesql", trig("  broker: b\n  filters:\n    - cesql: \"type = \"\n" + sub), "spec.filters[0].cesql", "invalid value: type ="},
		{"unknown dialect", trig("  broker: b\n  filters:\n    - regex: {type: x}\n" + sub), "spec.filters[0].regex", "unknown field"},
		{"no subscriber", trig("  broker: b\n"), "spec.subscriber.ref, spec.subscriber.uri", "expected at least one, got none"},
		{"empty subscriber", trig("  broker: b\n  subscriber: {}\n"), "spec.subscriber.ref, spec.subscriber.uri", "expected at least one, got none"},
		{"ref and absolute uri", trig("  broker: b\n  subscriber: {ref: {apiVersion: v1, kind: Service, name: f}, uri: \"http://x.example/\"}\n"), "spec.subscriber.ref, spec.subscriber.uri", "Absolute URI is not allowed"},
		{"relative uri alone", trig("  broker: b\n  subscriber: {uri: /x}\n"), "spec.subscriber.uri", "absolute URI with a host"},
		{"ref without kind", trig("  broker: b\n  subscriber: {ref: {apiVersion: v1, name: f}}\n"), "spec.subscriber.ref.kind", "missing field(s)"},
		{"ref in another namespace", trig("  broker: b\n  subscriber: {ref: {apiVersion: v1, kind: Service, name: f, namespace: other}}\n"), "spec.subscriber.ref.namespace", "mismatched namespaces"},
		{"ref group", trig("  broker: b\n  subscriber: {ref: {apiVersion: v1, kind: Service, name: f, group: serving.knative.dev}}\n"), "spec.subscriber.ref.group", "must not set the field(s)"},
		{"bad CACerts", trig("  broker: b\n  subscriber: {uri: \"https://x.example\", CACerts: nope}\n"), "spec.subscriber.CACerts", "PEM CERTIFICATE"},
		{"negative retry", trig("  broker: b\n" + sub + "  delivery: {retry: -1}\n"), "spec.delivery.retry", "must not be negative"},
		{"backoff policy", trig("  broker: b\n" + sub + "  delivery: {retry: 1, backoffPolicy: quadratic}\n"), "spec.delivery.backoffPolicy", "invalid value: quadratic"},
		{"backoff delay", trig("  broker: b\n" + sub + "  delivery: {retry: 1, backoffDelay: 2s}\n"), "spec.delivery.backoffDelay", "invalid value: 2s"},
		{"zero timeout", trig("  broker: b\n" + sub + "  delivery: {timeout: PT0S}\n"), "spec.delivery.timeout", "more than zero"},
		{"retryAfterMax", trig("  broker: b\n" + sub + "  delivery: {retryAfterMax: PT1S}\n"), "spec.delivery.retryAfterMax", "must not set the field(s)"},
		{"format", trig("  broker: b\n" + sub + "  delivery: {format: xml}\n"), "spec.delivery.format", "invalid value: xml"},
		{"dead-letter sink", trig("  broker: b\n" + sub + "  delivery: {deadLetterSink: {uri: /relative}}\n"), "spec.delivery.deadLetterSink.uri", "absolute URI"},
		{"unknown spec field", trig("  broker: b\n  filtre: {}\n" + sub), "spec.filtre", "unknown field"},
		{"delivery order", trig("  broker: b\n"+sub, "kafka.eventing.knative.dev/delivery.order: sorted"), "metadata.annotations.kafka.eventing.knative.dev/delivery.order", `allowed values [ "ordered" | "unordered" ]`},
		{"dependency not JSON", trig("  broker: b\n"+sub, "knative.dev/dependency: nope"), "metadata.annotations.knative.dev/dependency", "not a JSON object reference"},
		{"dependency without kind", trig("  broker: b\n"+sub, `knative.dev/dependency: '{"name":"x","apiVersion":"v1"}'`), "metadata.annotations.knative.dev/dependency.kind", "missing field(s)"},
		{"dependency namespace", trig("  broker: b\n"+sub, `knative.dev/dependency: '{"kind":"K","name":"x","apiVersion":"v1","namespace":"other"}'`), "metadata.annotations.knative.dev/dependency.namespace", "equal to the trigger namespace"},
		{"injection value", trig("  broker: default\n"+sub, "eventing.knative.dev/injection: yes-please"), "metadata.annotations.eventing.knative.dev/injection", "invalid value: yes-please"},
		{"injection broker", trig("  broker: b\n"+sub, "eventing.knative.dev/injection: enabled"), "metadata.annotations.eventing.knative.dev/injection", `spec.broker "default"`},
		{"trigger name", strings.Replace(trig("  broker: b\n"+sub), "name: t", "name: T_1", 1), "metadata.name", "not a valid name"},

		{"broker without class", brk("", cfg), "metadata.annotations.eventing.knative.dev/broker.class", "missing field(s)"},
		{"broker of another class", brk("MTChannelBasedBroker", cfg), "metadata.annotations.eventing.knative.dev/broker.class", "not emulated locally"},
		{"broker without config", brk("Kafka", "  delivery: {retry: 1}\n"), "spec.config", "is required"},
		{"broker config kind", brk("Kafka", "  config: {apiVersion: v1, kind: Secret, name: x}\n"), "spec.config.kind", "invalid value: Secret (Expected ConfigMap)"},
		{"broker config without name", brk("Kafka", "  config: {apiVersion: v1, kind: ConfigMap}\n"), "spec.config.name", "missing field(s)"},
		{"broker delivery", brk("Kafka", cfg+"  delivery: {backoffPolicy: fast}\n"), "spec.delivery.backoffPolicy", "invalid value: fast"},
		{"broker unknown field", brk("Kafka", cfg+"  channel: x\n"), "spec.channel", "unknown field"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := eventbroker.Parse("bad.yaml", []byte(c.doc))
			var pe *eventbroker.Error
			if !errors.As(err, &pe) || !errors.Is(err, eventbroker.ErrInvalid) {
				t.Fatalf("accepted or wrong error type: %v\n%s", err, c.doc)
			}
			if pe.Field != c.field || !strings.Contains(pe.Reason, c.reason) {
				t.Fatalf("error %q: field %q reason %q, want field %q reason containing %q", err, pe.Field, pe.Reason, c.field, c.reason)
			}
			if pe.File != "bad.yaml" || !(strings.HasPrefix(pe.Object, "Trigger") || strings.HasPrefix(pe.Object, "Broker")) {
				t.Fatalf("error %q does not name the file and object", err)
			}
		})
	}
}

// Every refused object is reported, each with its name.
func TestParseNamesEveryRefusedObject(t *testing.T) {
	doc := "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: one}\nspec: {subscriber: {uri: \"http://x.example\"}}\n---\n" +
		"apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: two}\nspec: {}\n"
	_, _, err := eventbroker.Parse("f.yaml", []byte(doc))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"f.yaml: Trigger default/one: spec.broker: missing field(s)", "f.yaml (document 2): Broker default/two: metadata.annotations"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestParseTopicConfig(t *testing.T) {
	c, err := eventbroker.ParseTopicConfig(map[string]string{
		"bootstrap.servers":                 " a:9092, ,b:9092 ",
		"default.topic.partitions":          "6",
		"default.topic.replication.factor":  "1",
		"default.topic.config.retention.ms": "604800000",
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.BootstrapServers, ",") != "a:9092,b:9092" || c.Partitions != 6 || c.Replication != 1 ||
		c.TopicConfig["retention.ms"] != "604800000" {
		t.Fatalf("config %+v", c)
	}
	for name, data := range map[string]map[string]string{
		"no servers":        {"default.topic.partitions": "1", "default.topic.replication.factor": "1"},
		"zero partitions":   {"bootstrap.servers": "a:1", "default.topic.partitions": "0", "default.topic.replication.factor": "1"},
		"no replication":    {"bootstrap.servers": "a:1", "default.topic.partitions": "1"},
		"words, not number": {"bootstrap.servers": "a:1", "default.topic.partitions": "six", "default.topic.replication.factor": "1"},
	} {
		if _, err := eventbroker.ParseTopicConfig(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestResolve(t *testing.T) {
	brokers, triggers, err := eventbroker.Parse("o.yaml", []byte(brokerYAML+"---\n"+strings.Replace(triggerYAML, "namespace: nova", "namespace: default", 1)))
	if err != nil {
		t.Fatal(err)
	}
	cms := map[string]map[string]string{"kafka-broker-config": {
		"bootstrap.servers": "k:9092", "default.topic.partitions": "6", "default.topic.replication.factor": "1"}}
	got, err := eventbroker.Resolve(brokers, triggers, cms)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Kafka.Partitions != 6 {
		t.Fatalf("topic config not read: %+v", got[0].Kafka)
	}
	if b, ok := eventbroker.BrokerOf(triggers[0], got); !ok || b.Name != "nova" {
		t.Fatal("BrokerOf does not find the trigger's broker")
	}

	if _, err := eventbroker.Resolve(brokers, triggers, nil); err == nil || !strings.Contains(err.Error(), "Broker default/nova: spec.config: ConfigMap default/kafka-broker-config is not in the manifests") {
		t.Errorf("missing ConfigMap: %v", err)
	}
	bad := map[string]map[string]string{"kafka-broker-config": {"bootstrap.servers": "k:9092"}}
	if _, err := eventbroker.Resolve(brokers, triggers, bad); err == nil || !strings.Contains(err.Error(), "default.topic.partitions") {
		t.Errorf("invalid ConfigMap: %v", err)
	}
	orphan := triggers[0]
	orphan.Broker = "elsewhere"
	if _, err := eventbroker.Resolve(brokers, []eventbroker.Trigger{orphan}, cms); err == nil || !strings.Contains(err.Error(), "Trigger default/feed-fanout: spec.broker: Broker default/elsewhere is not in the manifests") {
		t.Errorf("missing broker: %v", err)
	}
	if _, err := eventbroker.Resolve(brokers, append(triggers, triggers[0]), cms); err == nil || !strings.Contains(err.Error(), "also defined in") {
		t.Errorf("duplicate trigger: %v", err)
	}
}

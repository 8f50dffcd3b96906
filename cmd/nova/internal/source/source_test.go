package source

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadDirReadsKafkaSourcesAndSkipsOtherKinds(t *testing.T) {
	srcs, err := LoadDir("testdata/valid")
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	var names []string
	for _, s := range srcs {
		names = append(names, s.Ref())
	}
	// Lexical file order, document order within a file.
	want := []string{"nova/feed-fanout", "default/search-indexer", "default/analytics"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("sources = %v, want %v", names, want)
	}

	ff := srcs[0]
	if ff.File != filepath.Join("testdata", "valid", "sources", "feed-fanout.yaml") {
		t.Errorf("File = %q", ff.File)
	}
	if ff.ConsumerGroup != "feed-service-group" || ff.InitialOffset != OffsetEarliest || ff.Ordering != Ordered {
		t.Errorf("group/offset/ordering = %q %q %q", ff.ConsumerGroup, ff.InitialOffset, ff.Ordering)
	}
	if strings.Join(ff.Topics, ",") != "content-events,ranking-updates,user-events" {
		t.Errorf("Topics = %v", ff.Topics)
	}
	if strings.Join(ff.BootstrapServers, ",") != "my-cluster-kafka-bootstrap.kafka:9092" {
		t.Errorf("BootstrapServers = %v", ff.BootstrapServers)
	}
	if ff.Consumers != 2 || ff.Extensions["novasource"] != "feed" || ff.Labels["app.kubernetes.io/part-of"] != "nova" {
		t.Errorf("consumers/extensions/labels = %d %v %v", ff.Consumers, ff.Extensions, ff.Labels)
	}
	d := ff.Delivery
	if d.Retry != 5 || d.BackoffPolicy != BackoffExponential || d.BackoffDelay != 200*time.Millisecond || d.Timeout != 30*time.Second {
		t.Errorf("delivery = %+v", d)
	}
	if d.DeadLetterSink == nil || d.DeadLetterSink.Ref == nil ||
		*d.DeadLetterSink.Ref != (Reference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: "dead-letter", Namespace: "nova"}) {
		t.Errorf("deadLetterSink = %+v (ref namespace defaults to the source's)", d.DeadLetterSink)
	}
	if ff.Sink.Ref == nil || ff.Sink.Ref.Name != "feed-fanout" || ff.Sink.URI != nil {
		t.Errorf("sink = %v", ff.Sink)
	}

	si := srcs[1]
	if strings.Join(si.BootstrapServers, ",") != "a:9092,b:9092" {
		t.Errorf("comma-separated bootstrapServers = %v", si.BootstrapServers)
	}
	if si.Ordering != Unordered || si.Delivery.BackoffPolicy != BackoffLinear || si.Delivery.BackoffDelay != time.Second {
		t.Errorf("search-indexer = %+v", si)
	}
	if si.Sink.Ref == nil || si.Sink.URI == nil || si.Sink.URI.String() != "/index" {
		t.Errorf("sink ref+relative uri = %v", si.Sink)
	}
	if si.Delivery.DeadLetterSink == nil || si.Delivery.DeadLetterSink.URI.String() != "http://dead-letter.nova.svc.cluster.local/events" {
		t.Errorf("dls uri = %v", si.Delivery.DeadLetterSink)
	}

	// Every default, as Knative applies them.
	an := srcs[2]
	if an.Namespace != "default" || an.InitialOffset != OffsetLatest || an.Ordering != Ordered ||
		an.ConsumerGroup != "knative-kafka-source-default-analytics" {
		t.Errorf("defaults = %+v", an)
	}
	if an.Delivery.Retry != 0 || an.Delivery.BackoffPolicy != BackoffExponential ||
		an.Delivery.BackoffDelay != DefaultBackoffDelay || an.Delivery.Timeout != DefaultTimeout || an.Delivery.DeadLetterSink != nil {
		t.Errorf("delivery defaults = %+v", an.Delivery)
	}
	if an.CESource("analytics-events") != "/apis/v1/namespaces/default/kafkasources/analytics#analytics-events" {
		t.Errorf("CESource = %q", an.CESource("analytics-events"))
	}
}

func TestParseRefusesMalformedWithFileAndField(t *testing.T) {
	cases := map[string]string{
		"bad-delay.yaml":        `testdata/invalid/bad-delay.yaml: spec.delivery.backoffDelay: invalid value: soon (is not an ISO-8601 duration)`,
		"bad-offset.yaml":       `spec.initialOffset: invalid value: oldest (one of earliest, latest)`,
		"bad-ordering.yaml":     `spec.ordering: invalid value: random (one of ordered, unordered)`,
		"bad-policy.yaml":       `spec.delivery.backoffPolicy: invalid value: fibonacci (one of linear, exponential)`,
		"bad-timeout.yaml":      `spec.delivery.timeout: invalid value: 30s (is not an ISO-8601 duration)`,
		"no-topics.yaml":        `spec.topics: missing field(s): the list must not be empty`,
		"topics-string.yaml":    `spec.topics: must be a list of strings, not "content-events"`,
		"no-sink.yaml":          `spec.sink: missing field(s)`,
		"sink-empty.yaml":       `spec.sink: needs a ref or a uri`,
		"relative-uri.yaml":     `spec.sink.uri: "/events" must be an absolute URI when no ref is given`,
		"ref-no-name.yaml":      `spec.delivery.deadLetterSink.ref.name: missing field(s)`,
		"negative-retry.yaml":   `spec.delivery.retry: invalid value: -1 (must be at least 0)`,
		"fractional-retry.yaml": `spec.delivery.retry: must be an integer, not 2.5`,
		"typo.yaml":             `spec.initalOffset: unknown field`,
		"no-name.yaml":          `metadata.name: missing field(s)`,
		"wrong-version.yaml":    `apiVersion: "sources.knative.dev/v1alpha1" is not sources.knative.dev/v1beta1`,
		"second-document.yaml":  `testdata/invalid/second-document.yaml (document 2): spec.sink.uri: "http://localhost:8081" must be relative when a ref is given`,
		"bad-yaml.yaml":         `testdata/invalid/bad-yaml.yaml: invalid YAML`,
		"bad-extension.yaml":    `spec.ceOverrides.extensions.Bad-Name: "Bad-Name" is not a CloudEvents extension name`,
	}
	entries, err := os.ReadDir("testdata/invalid")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(cases) {
		t.Errorf("%d files in testdata/invalid, %d cases: every file needs a case", len(entries), len(cases))
	}
	for file, want := range cases {
		t.Run(file, func(t *testing.T) {
			path := "testdata/invalid/" + file
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			srcs, err := Parse(path, data)
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", srcs)
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q\n does not contain %q", err, want)
			}
			var e *Error
			if !errors.As(err, &e) || e.File != path || !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %#v is not a *Error for %s matching ErrMalformed", err, path)
			}
		})
	}
}

func TestLoadDirRefusesTheWholeSetAndNamesEveryFault(t *testing.T) {
	_, err := LoadDir("testdata/invalid")
	if err == nil {
		t.Fatal("LoadDir accepted testdata/invalid")
	}
	for _, f := range []string{"bad-delay.yaml", "typo.yaml", "no-sink.yaml"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error does not name %s:\n%v", f, err)
		}
	}
}

func TestLoadDirRefusesDuplicates(t *testing.T) {
	dir := t.TempDir()
	doc := "apiVersion: sources.knative.dev/v1beta1\nkind: KafkaSource\nmetadata: {name: a}\n" +
		"spec: {bootstrapServers: [k:9092], topics: [t], sink: {uri: 'http://x'}}\n"
	for _, f := range []string{"one.yaml", "two.yml"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := LoadDir(dir)
	if err == nil || !strings.Contains(err.Error(), "two.yml: metadata.name: KafkaSource default/a is also defined in") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadDirMissing(t *testing.T) {
	if _, err := LoadDir(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Fatal("LoadDir of a missing directory succeeded")
	}
}

func TestBackoffFollowsKnativeFormula(t *testing.T) {
	lin := Delivery{BackoffPolicy: BackoffLinear, BackoffDelay: 10 * time.Millisecond}
	exp := Delivery{BackoffPolicy: BackoffExponential, BackoffDelay: 10 * time.Millisecond}
	for n, want := range map[int][2]time.Duration{
		0: {0, 0},
		1: {10 * time.Millisecond, 20 * time.Millisecond},
		2: {20 * time.Millisecond, 40 * time.Millisecond},
		3: {30 * time.Millisecond, 80 * time.Millisecond},
	} {
		if got := lin.Backoff(n); got != want[0] {
			t.Errorf("linear Backoff(%d) = %v, want %v", n, got, want[0])
		}
		if got := exp.Backoff(n); got != want[1] {
			t.Errorf("exponential Backoff(%d) = %v, want %v", n, got, want[1])
		}
	}
	if exp.Backoff(1000) <= 0 {
		t.Error("exponential backoff overflowed")
	}
}

package manifests_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nova-social/nova/cmd/nova/internal/manifests"
	"github.com/nova-social/nova/cmd/nova/internal/source"
)

const eventing = "../../../../eventing"

func TestLoadBase(t *testing.T) {
	set, err := manifests.Load(eventing)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Sources) != 11 || len(set.Brokers) != 0 || len(set.Triggers) != 0 {
		t.Fatalf("%d KafkaSources, %d Brokers, %d Triggers; want the eleven function sources alone",
			len(set.Sources), len(set.Brokers), len(set.Triggers))
	}
	kafkaBrokers := set.ConfigMaps["nova-config"]["KAFKA_BROKERS"]
	if kafkaBrokers == "" {
		t.Fatalf("nova-config not read: %v", set.ConfigMaps)
	}
	for _, s := range set.Sources {
		if want := filepath.Join(eventing, "sources", s.Name+".yaml"); s.File != want {
			t.Errorf("KafkaSource %s read from %q, want its file %s", s.Ref(), s.File, want)
		}
		// The kustomization's replacement, applied as kubectl would.
		if strings.Join(s.BootstrapServers, ",") != kafkaBrokers {
			t.Errorf("KafkaSource %s: bootstrapServers %v, want KAFKA_BROKERS %s", s.Ref(), s.BootstrapServers, kafkaBrokers)
		}
	}
}

func TestLoadBrokerOverlay(t *testing.T) {
	set, err := manifests.Load(filepath.Join(eventing, "overlays", "broker"))
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Sources) != 1 || set.Sources[0].Name != "nova-ingest" {
		t.Fatalf("KafkaSources %v, want the ingest source alone (the function sources deleted)", set.Sources)
	}
	if len(set.Brokers) != 1 || len(set.Triggers) != 11 {
		t.Fatalf("%d Brokers, %d Triggers; want 1 and 11", len(set.Brokers), len(set.Triggers))
	}
	b := set.Brokers[0]
	kafkaBrokers := set.ConfigMaps["nova-config"]["KAFKA_BROKERS"]
	if b.Ref() != "default/nova" || b.Kafka.Partitions != 6 || strings.Join(b.Kafka.BootstrapServers, ",") != kafkaBrokers ||
		b.Kafka.TopicConfig["retention.ms"] == "" {
		t.Errorf("Broker %s with %+v; want default/nova on KAFKA_BROKERS with 6 partitions and a retention", b.Ref(), b.Kafka)
	}
	if got := strings.Join(set.Sources[0].BootstrapServers, ","); got != kafkaBrokers {
		t.Errorf("ingest source bootstrapServers %s, want KAFKA_BROKERS %s", got, kafkaBrokers)
	}
	var names []string
	for _, tr := range set.Triggers {
		names = append(names, tr.Name)
		if !strings.HasSuffix(tr.File, filepath.Join("triggers", tr.Name+".yaml")) {
			t.Errorf("Trigger %s read from %q", tr.Ref(), tr.File)
		}
	}
	slices.Sort(names)
	if !slices.Contains(names, "feed-fanout") || !slices.Contains(names, "chat-persist") {
		t.Errorf("Triggers %v", names)
	}
}

// write makes a kustomization directory of files.
func write(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const goodSource = `apiVersion: sources.knative.dev/v1beta1
kind: KafkaSource
metadata: {name: good}
spec:
  bootstrapServers: [k:9092]
  topics: [t]
  sink: {uri: "http://x.example"}
`

func TestLoadReadsOnlyWhatTheKustomizationApplies(t *testing.T) {
	dir := write(t, map[string]string{
		"kustomization.yaml": "resources:\n  - good.yaml\n",
		"good.yaml":          goodSource,
		// Not listed, and broken: kubectl apply -k would never see it.
		"stray.yaml": "apiVersion: sources.knative.dev/v1beta1\nkind: KafkaSource\nmetadata: {name: stray}\nspec: {}\n",
	})
	set, err := manifests.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Sources) != 1 || set.Sources[0].Name != "good" {
		t.Fatalf("sources %v", set.Sources)
	}
}

func TestLoadNamesTheFileAndObjectAtFault(t *testing.T) {
	dir := write(t, map[string]string{
		"kustomization.yaml":     "resources:\n  - sub\n",
		"sub/kustomization.yaml": "resources:\n  - sources.yaml\n  - triggers.yaml\n",
		"sub/sources.yaml": goodSource + "---\napiVersion: sources.knative.dev/v1beta1\nkind: KafkaSource\nmetadata: {name: bad}\n" +
			"spec: {bootstrapServers: [k:9092], topics: [t], ordering: sorted, sink: {uri: \"http://x.example\"}}\n",
		"sub/triggers.yaml": "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t1}\n" +
			"spec: {broker: b, filter: {attributes: {Type: x}}, subscriber: {uri: \"http://x.example\"}}\n",
	})
	_, err := manifests.Load(dir)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"KafkaSource default/bad: " + filepath.Join(dir, "sub", "sources.yaml") + ": spec.ordering",
		filepath.Join(dir, "sub", "triggers.yaml") + ": Trigger default/t1: spec.filter.attributes[Type]",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	var se *source.Error
	if !errors.As(err, &se) {
		t.Errorf("error %v is not a source.Error underneath", err)
	}
}

func TestLoadRefusesATriggerWithoutItsBroker(t *testing.T) {
	dir := write(t, map[string]string{
		"kustomization.yaml": "resources:\n  - t.yaml\n",
		"t.yaml":             "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t1}\nspec: {broker: nova, subscriber: {uri: \"http://x.example\"}}\n",
	})
	if _, err := manifests.Load(dir); err == nil || !strings.Contains(err.Error(), "Broker default/nova is not in the manifests") {
		t.Fatalf("error %v", err)
	}
}

func TestBuildNeedsAKustomization(t *testing.T) {
	dir := write(t, map[string]string{"good.yaml": goodSource})
	if _, err := manifests.Build(dir); !errors.Is(err, manifests.ErrNotKustomization) {
		t.Fatalf("error %v, want ErrNotKustomization", err)
	}
	// A kustomization that asks for origins itself keeps them, and the
	// file on disk is never changed.
	k := "buildMetadata: [originAnnotations]\nresources:\n  - good.yaml\n"
	dir = write(t, map[string]string{"kustomization.yaml": k, "good.yaml": goodSource})
	objs, err := manifests.Build(dir)
	if err != nil || len(objs) != 1 || objs[0].Origin != filepath.Join(dir, "good.yaml") {
		t.Fatalf("objects %v, %v", objs, err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "kustomization.yaml")); string(got) != k {
		t.Fatalf("the kustomization was rewritten: %q", got)
	}
	if !strings.Contains(string(objs[0].YAML), "config.kubernetes.io/origin") {
		t.Errorf("the origin annotation the kustomization asks for is gone:\n%s", objs[0].YAML)
	}
	// Asked for here only, it is not left on the objects.
	objs, err = manifests.Build(eventing)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if strings.Contains(string(o.YAML), "config.kubernetes.io/origin") {
			t.Errorf("%s keeps the origin annotation:\n%s", o, o.YAML)
		}
	}
}

// Each function's senders are declared once, in its EventPolicy; the line
// the function reads from nova-event-senders, and every delivery to it,
// must agree, or Load (and so nova run and deploy-check) refuses the
// manifests, naming what disagrees.
func TestLoadHoldsPoliciesAndSendersTogether(t *testing.T) {
	for _, dir := range []string{eventing, filepath.Join(eventing, "overlays", "broker")} {
		set, err := manifests.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		functions := 0
		for _, p := range set.Policies {
			if p.Function != "" {
				functions++
			}
		}
		if functions != 12 {
			t.Fatalf("%s: %d EventPolicies of functions, want one per event function (12)", dir, functions)
		}
	}
	for _, c := range []struct {
		name, file, old, new, want string
	}{
		{"mirror drifts", "policies/senders.yaml", `feed-fanout: "KafkaSource/feed-fanout"`, `feed-fanout: "KafkaSource/feed-fanout,KafkaSource/ranking"`,
			"key feed-fanout says"},
		{"a source the policy does not admit", "policies/search-indexer.yaml", "kind: KafkaSource\n        name: search-indexer\n", "kind: KafkaSource\n        name: search-indexer-old\n",
			"delivers to search-indexer"},
		{"no audience", "sources/ranking.yaml", "    audience: nova/ranking\n", "",
			`spec.sink: audience "", want "nova/ranking"`},
		{"admitted by sub", "policies/notifier.yaml", "    - ref:\n        apiVersion: sources.knative.dev/v1beta1\n        kind: KafkaSource\n        name: notifier\n",
			"    - sub: system:serviceaccount:nova:notifier\n", "a sub cannot be mirrored"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(eventing)); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, c.file)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), c.old) {
				t.Fatalf("%s does not contain %q", c.file, c.old)
			}
			if err := os.WriteFile(p, []byte(strings.Replace(string(b), c.old, c.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := manifests.Load(dir); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Load = %v, want an error containing %q", err, c.want)
			}
		})
	}
}

package console_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/nova-social/nova/cmd/nova/internal/console"
	"github.com/nova-social/nova/cmd/nova/internal/manifests"
	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/shared/event/catalog"
)

func loadManifests(t *testing.T, dir ...string) *manifests.Set {
	t.Helper()
	root, err := system.FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifests.Load(filepath.Join(append([]string{root}, dir...)...))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func flowNamed(t *testing.T, topo console.Topology, kind, name string) console.Flow {
	t.Helper()
	for _, f := range topo.Flows {
		if f.Kind == kind && f.Name == name {
			return f
		}
	}
	t.Fatalf("no %s %s in %+v", kind, name, topo.Flows)
	return console.Flow{}
}

// The topology is eventing/ as nova run runs it: feed-fanout's source
// reads its three topics, delivers to feed-fanout, which writes
// feed-updates, and gives up to dead-letter.
func TestTopologyOfTheSources(t *testing.T) {
	topo := console.NewTopology(loadManifests(t, "eventing"), catalog.Default())
	f := flowNamed(t, topo, "KafkaSource", "feed-fanout")
	if f.Ref != f.Namespace+"/feed-fanout" || f.Group != "feed-service-group" || f.Sink != "feed-fanout" || f.DeadLetter != "dead-letter" ||
		!slices.Equal(f.Emits, []string{catalog.FeedUpdates}) {
		t.Errorf("feed-fanout's flow: %+v", f)
	}
	for _, topic := range []string{catalog.ContentEvents, catalog.RankingUpdates, catalog.UserEvents} {
		if !slices.Contains(f.Topics, topic) {
			t.Errorf("feed-fanout's flow reads %v, want %s among them", f.Topics, topic)
		}
	}
	ce, ok := topo.Topic(catalog.ContentEvents)
	if !ok || !slices.Contains(ce.Readers, "feed-fanout") || !slices.Contains(ce.Writers, catalog.NovaAPI) || ce.Partitions != 6 {
		t.Errorf("content-events: %+v", ce)
	}
	if len(topo.Topics) != len(catalog.Default().Topics()) {
		t.Errorf("%d topics, want the catalogue's %d", len(topo.Topics), len(catalog.Default().Topics()))
	}
	seen := map[string]bool{}
	for _, f := range topo.Flows {
		if seen[f.ID] {
			t.Errorf("two flows have the id %s", f.ID)
		}
		seen[f.ID] = true
	}
}

// Under the Kafka Broker overlay, the ingest source feeds the Broker's
// topic and each Trigger reads it with its filter.
func TestTopologyOfTheBrokerOverlay(t *testing.T) {
	m := loadManifests(t, "eventing", "overlays", "broker")
	topo := console.NewTopology(m, catalog.Default())
	if len(m.Brokers) == 0 || len(m.Triggers) == 0 {
		t.Fatalf("the overlay holds %d Brokers, %d Triggers", len(m.Brokers), len(m.Triggers))
	}
	brokerTopic := m.Brokers[0].Topic()
	tr := flowNamed(t, topo, "Trigger", "feed-fanout")
	if tr.Ref != "trigger:"+tr.Namespace+"/feed-fanout" || !slices.Equal(tr.Topics, []string{brokerTopic}) || tr.Sink != "feed-fanout" ||
		tr.Filter == "" || tr.Group != "knative-trigger-"+tr.Namespace+"-feed-fanout" {
		t.Errorf("feed-fanout's Trigger: %+v", tr)
	}
	var ingest *console.Flow
	for _, f := range topo.Flows {
		if f.Kind == "KafkaSource" && slices.Equal(f.Emits, []string{brokerTopic}) {
			ingest = &f
		}
	}
	if ingest == nil {
		t.Fatalf("no source delivers to the Broker: %+v", topo.Flows)
	}
	bt, ok := topo.Topic(brokerTopic)
	if !ok || !slices.Contains(bt.Readers, "feed-fanout") {
		t.Errorf("the Broker's topic: %+v", bt)
	}
}

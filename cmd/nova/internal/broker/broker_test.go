package broker_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/kafka"
)

func open(t *testing.T, dir string) *broker.Broker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := broker.Open(ctx, broker.Config{DataDir: dir})
	if err != nil {
		t.Fatalf("open broker: %v", err)
	}
	return b
}

func admin(t *testing.T, addrs []string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func TestEmbeddedHasCatalogueTopics(t *testing.T) {
	b := open(t, t.TempDir())
	defer b.Close()
	if !b.Embedded() {
		t.Fatal("no brokers given, yet not embedded")
	}
	if got := len(b.CreatedTopics()); got != len(catalog.Default().Topics()) {
		t.Fatalf("first start created %d topics, want %d", got, len(catalog.Default().Topics()))
	}
	details, err := admin(t, b.Addrs()).ListTopics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range catalog.Default().Topics() {
		d, ok := details[tp.Name]
		if !ok {
			t.Errorf("topic %s missing", tp.Name)
			continue
		}
		if int32(len(d.Partitions)) != tp.Partitions {
			t.Errorf("topic %s has %d partitions, want %d", tp.Name, len(d.Partitions), tp.Partitions)
		}
	}
}

// A restart on the same folder keeps the records and the committed group
// offsets, and creates no topic twice.
func TestEmbeddedRestartKeepsRecordsAndOffsets(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	const group, topic, n = "restart-group", catalog.ContentEvents, 20

	b := open(t, dir)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		r := &kgo.Record{Key: []byte(fmt.Sprintf("k%d", i%3)), Value: []byte(fmt.Sprintf("v%d", i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	// Commit the half-way point of every partition, as a consumer that had
	// got that far would.
	commit := kadm.Offsets{}
	ends.Each(func(o kadm.ListedOffset) { commit.AddOffset(o.Topic, o.Partition, o.Offset/2, -1) })
	if err := kadm.NewClient(cl).CommitAllOffsets(ctx, group, commit); err != nil {
		t.Fatalf("commit: %v", err)
	}
	cl.Close()
	b.Close()

	b = open(t, dir)
	defer b.Close()
	if c := b.CreatedTopics(); len(c) != 0 {
		t.Errorf("restart created topics again: %v", c)
	}
	adm := admin(t, b.Addrs())
	ends2, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends2.Each(func(o kadm.ListedOffset) {
		total += o.Offset
		if was, _ := ends.Lookup(o.Topic, o.Partition); was.Offset != o.Offset {
			t.Errorf("partition %d end offset %d after restart, was %d", o.Partition, o.Offset, was.Offset)
		}
	})
	if total != n {
		t.Errorf("%d records after restart, want %d", total, n)
	}
	fetched, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetch offsets: %v", err)
	}
	commit.Each(func(o kadm.Offset) {
		got, ok := fetched.Lookup(o.Topic, o.Partition)
		if !ok || got.At != o.At {
			t.Errorf("partition %d committed %d after restart, want %d", o.Partition, got.At, o.At)
		}
	})

	// The records themselves are readable, from the committed offsets on.
	cons, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumerGroup(group), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	want := total
	commit.Each(func(o kadm.Offset) { want -= o.At })
	var got int64
	fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for got < want {
		fs := cons.PollFetches(fctx)
		if err := fctx.Err(); err != nil {
			t.Fatalf("read %d of %d records after restart: %v", got, want, err)
		}
		fs.EachRecord(func(*kgo.Record) { got++ })
	}
}

func TestEnsureTopicsOnExternalCluster(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// One topic present but short of partitions, the rest missing.
	if err := c.CreateTopic(catalog.ContentEvents, 2, nil); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cat := catalog.Default()

	_, err = broker.Open(ctx, broker.Config{Brokers: c.ListenAddrs()})
	var te *broker.TopicsError
	if !errors.Is(err, broker.ErrTopics) || !errors.As(err, &te) {
		t.Fatalf("check without create: got %v, want a TopicsError", err)
	}
	if len(te.Missing) != len(cat.Topics())-1 || te.Short[catalog.ContentEvents] == "" {
		t.Fatalf("TopicsError = %+v", te)
	}

	b, err := broker.Open(ctx, broker.Config{Brokers: c.ListenAddrs(), CreateTopics: true})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if b.Embedded() || len(b.CreatedTopics()) != len(cat.Topics()) {
		t.Fatalf("embedded=%v created=%v", b.Embedded(), b.CreatedTopics())
	}
	b.Close()
	if _, err := broker.EnsureTopics(ctx, c.ListenAddrs(), kafka.Security{}, cat, false); err != nil {
		t.Fatalf("check after create: %v", err)
	}
	if n := len(c.PartitionInfos(catalog.ContentEvents)); n != 6 {
		t.Fatalf("content-events has %d partitions after growing, want 6", n)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []broker.Config{
		{Port: 9092},                       // no data folder
		{Port: 70000, DataDir: "x"},        // port out of range
		{Brokers: []string{"a:9092", " "}}, // blank broker
		{Nodes: 6, InMemory: true},         // more nodes than the embedded cluster runs
		{Nodes: -1, InMemory: true},
		{Nodes: 3, Port: 65534, InMemory: true},                   // the third node's port is out of range
		{Nodes: 3, NodePorts: []int{9092, 9093}, InMemory: true},  // a port short
		{Nodes: 2, NodePorts: []int{9092, 70000}, InMemory: true}, // a node port out of range
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v validated", c)
		}
	}
	for _, c := range []broker.Config{
		{InMemory: true},
		{Nodes: 3, Port: 65533, InMemory: true},
		{Nodes: 3, NodePorts: []int{9092, 0, 9094}, DataDir: "x"},
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// A Knative Broker's topic is created like the catalogue's, at its own
// partitions and configs, and an existing one is taken as it is; an
// external topic is never created.
func TestExtraTopics(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	retention := "3600000"
	brokerTopic := broker.Topic{Name: "knative-broker-default-nova", Partitions: 4, Replication: 1,
		Config: map[string]string{"retention.ms": retention}}
	b, err := broker.Open(ctx, broker.Config{DataDir: dir, Topics: []broker.Topic{brokerTopic}})
	if err != nil {
		t.Fatal(err)
	}
	details, err := admin(t, b.Addrs()).ListTopics(ctx, brokerTopic.Name)
	if err != nil || len(details[brokerTopic.Name].Partitions) != 4 {
		t.Fatalf("broker topic: %+v, %v", details[brokerTopic.Name], err)
	}
	cfgs, err := admin(t, b.Addrs()).DescribeTopicConfigs(ctx, brokerTopic.Name)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfgs.On(brokerTopic.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range rc.Configs {
		if c.Key == "retention.ms" && c.Value != nil && *c.Value == retention {
			found = true
		}
	}
	if !found {
		t.Errorf("retention.ms not set on the broker topic: %+v", rc.Configs)
	}
	b.Close()

	// Again on the same folder: nothing to create. Fewer partitions asked
	// for than it has are not a reason to touch it.
	brokerTopic.Partitions = 2
	ext := broker.Topic{Name: "existing", External: true}
	_, err = broker.Open(ctx, broker.Config{DataDir: dir, Topics: []broker.Topic{brokerTopic, ext}})
	var te *broker.TopicsError
	if !errors.As(err, &te) || len(te.Missing) != 1 {
		t.Fatalf("missing external topic: %v, want a TopicsError naming it", err)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.CreateTopic("existing", 1, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := broker.EnsureExtraTopics(ctx, c.ListenAddrs(), kafka.Security{}, []broker.Topic{ext, brokerTopic}, false); !errors.As(err, &te) ||
		len(te.Missing) != 1 || te.Missing[0] != brokerTopic.Name {
		t.Fatalf("external cluster without create: %v, want the broker topic missing", err)
	}
	created, err := broker.EnsureExtraTopics(ctx, c.ListenAddrs(), kafka.Security{}, []broker.Topic{ext, brokerTopic}, true)
	if err != nil || len(created) != 1 || created[0] != brokerTopic.Name {
		t.Fatalf("with create: %v %v", created, err)
	}
}

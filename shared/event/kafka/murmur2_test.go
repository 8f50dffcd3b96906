package kafka_test

import (
	"testing"

	"github.com/IBM/sarama"

	"github.com/nova-social/nova/shared/event/kafka"
)

// Vectors of Kafka's own UtilsTest.testMurmur2 (the Java client).
var javaMurmur2 = []struct {
	key  string
	hash int32
}{
	{"21", -973932308},
	{"foobar", -790332482},
	{"a-little-bit-long-string", -985981536},
	{"a-little-bit-longer-string", -1486304829},
	{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
	{"abc", 479470107},
}

func TestMurmur2MatchesTheJavaClient(t *testing.T) {
	for _, v := range javaMurmur2 {
		if got := kafka.Murmur2([]byte(v.key)); got != v.hash {
			t.Errorf("Murmur2(%q) = %d, want %d", v.key, got, v.hash)
		}
	}
}

func TestPartitionFor(t *testing.T) {
	// Utils.toPositive(murmur2(key)) % n, worked out by hand from the hashes:
	// toPositive(h) = h & 0x7fffffff.
	cases := []struct {
		key  string
		n    int32
		want int32
	}{
		{"21", 6, (-973932308 & 0x7fffffff) % 6},
		{"foobar", 6, (-790332482 & 0x7fffffff) % 6},
		{"abc", 3, 479470107 % 3},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 12, (-58897971 & 0x7fffffff) % 12},
		{"a-little-bit-long-string", 2, (-985981536 & 0x7fffffff) % 2},
	}
	for _, c := range cases {
		if got := kafka.PartitionFor([]byte(c.key), c.n); got != c.want {
			t.Errorf("PartitionFor(%q, %d) = %d, want %d", c.key, c.n, got, c.want)
		}
		p := kafka.NewMurmur2Partitioner("t")
		for _, enc := range []sarama.Encoder{sarama.StringEncoder(c.key), sarama.ByteEncoder(c.key)} {
			got, err := p.Partition(&sarama.ProducerMessage{Key: enc}, c.n)
			if err != nil || got != c.want {
				t.Errorf("partitioner(%q, %d) = %d, %v; want %d", c.key, c.n, got, err, c.want)
			}
		}
	}
}

func TestMurmur2PartitionerSpreadsUnkeyedRecords(t *testing.T) {
	p := kafka.NewMurmur2Partitioner("t")
	seen := map[int32]bool{}
	for i := 0; i < 200; i++ {
		got, err := p.Partition(&sarama.ProducerMessage{}, 6)
		if err != nil || got < 0 || got >= 6 {
			t.Fatalf("partition %d, %v", got, err)
		}
		seen[got] = true
	}
	if len(seen) < 2 {
		t.Errorf("unkeyed records all went to %v", seen)
	}
	if !p.RequiresConsistency() {
		t.Error("keyed partitioning must require consistency")
	}
}

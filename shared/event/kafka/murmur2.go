package kafka

import (
	"encoding/binary"
	"fmt"

	"github.com/IBM/sarama"
)

// Murmur2 is the 32-bit murmur2 hash exactly as Kafka's Java client
// (org.apache.kafka.common.utils.Utils.murmur2) and librdkafka compute it,
// returned as the Java int.
func Murmur2(data []byte) int32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	n := len(data)
	h := seed ^ uint32(n)
	for i := 0; i+4 <= n; i += 4 {
		k := binary.LittleEndian.Uint32(data[i:])
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[n&^3:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// PartitionFor is the partition the Java client's default partitioner and
// librdkafka's murmur2_random give a non-null key among n partitions.
func PartitionFor(key []byte, n int32) int32 {
	return int32(uint32(Murmur2(key))&0x7fffffff) % n
}

// murmur2Partitioner places keyed records like the rest of the Kafka
// ecosystem does; Sarama's default FNV hash would put the same key on
// another partition than a Java or librdkafka producer.
type murmur2Partitioner struct {
	random sarama.Partitioner
}

// NewMurmur2Partitioner is a sarama.PartitionerConstructor for murmur2
// partitioning: keyed records go to PartitionFor(key), records without a key
// to a random partition (librdkafka's murmur2_random).
func NewMurmur2Partitioner(topic string) sarama.Partitioner {
	return &murmur2Partitioner{random: sarama.NewRandomPartitioner(topic)}
}

func (p *murmur2Partitioner) Partition(msg *sarama.ProducerMessage, n int32) (int32, error) {
	if msg.Key == nil {
		return p.random.Partition(msg, n)
	}
	if n < 1 {
		return 0, fmt.Errorf("kafka: topic %s has no partitions", msg.Topic)
	}
	if k, ok := msg.Key.(sarama.StringEncoder); ok {
		// The conversion does not escape, so short keys are hashed
		// without an allocation.
		return PartitionFor([]byte(k), n), nil
	}
	key, err := msg.Key.Encode()
	if err != nil {
		return 0, fmt.Errorf("kafka: encode key: %w", err)
	}
	return PartitionFor(key, n), nil
}

// RequiresConsistency is true: a key must always land on one partition.
func (p *murmur2Partitioner) RequiresConsistency() bool { return true }

// MessageRequiresConsistency lets unkeyed records go to any available
// partition while keyed ones wait for theirs.
func (p *murmur2Partitioner) MessageRequiresConsistency(msg *sarama.ProducerMessage) bool {
	return msg.Key != nil
}

var _ sarama.DynamicConsistencyPartitioner = (*murmur2Partitioner)(nil)

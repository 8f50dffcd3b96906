package testrig

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/nova-social/nova/shared/event/kafka"
)

// KafkaBroker is a Kafka broker of a test's own: `nova kafka`, the broker
// `nova run` embeds, run as a child process so that the production module
// does not carry the broker's code. Clients reach it over the Kafka
// protocol at ListenAddrs.
type KafkaBroker struct {
	c   *child
	sec kafka.Security
}

// KafkaOption configures a broker started by Kafka.
type KafkaOption func(*kafkaConfig)

type kafkaConfig struct {
	dataDir string
	port    int
	args    []string
	sec     kafka.Security
}

// KafkaDataDir keeps the broker's state in dir, so that a broker started
// again on dir resumes with its records and committed offsets. Without it
// the state is in memory.
func KafkaDataDir(dir string) KafkaOption { return func(c *kafkaConfig) { c.dataDir = dir } }

// KafkaNodes runs a cluster of n brokers, among which partition leaders
// and group coordinators are spread (and moved by MoveLeaders).
func KafkaNodes(n int) KafkaOption {
	return func(c *kafkaConfig) { c.args = append(c.args, "-nodes", strconv.Itoa(n)) }
}

// KafkaPort listens on port of 127.0.0.1 instead of a free one.
func KafkaPort(port int) KafkaOption { return func(c *kafkaConfig) { c.port = port } }

// KafkaSASL makes the broker demand SCRAM-SHA-512 logins, with user as
// the superuser (who passes every ACL); the broker's Security logs in as it.
func KafkaSASL(user, password string) KafkaOption {
	return func(c *kafkaConfig) {
		c.args = append(c.args, "-superuser", user+":"+password)
		c.sec.SASL, c.sec.Username, c.sec.Password = kafka.ScramSHA512, user, password
	}
}

// KafkaUser adds a SCRAM-SHA-512 user (with KafkaSASL) allowed acls, each
// OPERATION:TYPE:NAME as `nova kafka -acl` takes it (Write:topic:content-events).
func KafkaUser(name, password string, acls ...string) KafkaOption {
	return func(c *kafkaConfig) {
		c.args = append(c.args, "-user", name+":"+password)
		for _, a := range acls {
			c.args = append(c.args, "-acl", name+":"+a)
		}
	}
}

// KafkaACLs makes the broker enforce ACLs (with KafkaSASL).
func KafkaACLs() KafkaOption { return func(c *kafkaConfig) { c.args = append(c.args, "-acls") } }

// KafkaTLS makes the broker listen with TLS on files' server certificate,
// and with clientCerts demand client certificates signed by files' CA.
// The broker's Security trusts the CA (and presents the client certificate).
func KafkaTLS(files TLSFiles, clientCerts bool) KafkaOption {
	return func(c *kafkaConfig) {
		c.args = append(c.args, "-tls-cert", files.ServerCert, "-tls-key", files.ServerKey, "-tls-ca", files.CA)
		c.sec.TLS, c.sec.CAFile = true, files.CA
		if clientCerts {
			c.args = append(c.args, "-tls-client-ca", files.CA)
			c.sec.CertFile, c.sec.KeyFile = files.ClientCert, files.ClientKey
		}
	}
}

// Kafka starts a broker holding the catalogue's topics at their partition
// counts, stopped when the test ends.
func Kafka(t testing.TB, opts ...KafkaOption) *KafkaBroker {
	t.Helper()
	var cfg kafkaConfig
	for _, o := range opts {
		o(&cfg)
	}
	args := append([]string{"kafka", "-port", strconv.Itoa(cfg.port), "-data-dir", cfg.dataDir}, cfg.args...)
	return &KafkaBroker{c: startChild(t, args...), sec: cfg.sec}
}

// ListenAddrs are the broker's bootstrap addresses.
func (k *KafkaBroker) ListenAddrs() []string { return append([]string(nil), k.c.addrs...) }

// Security logs in as the broker's superuser (over TLS when it listens
// with TLS); the zero value for a plaintext broker without logins.
func (k *KafkaBroker) Security() kafka.Security { return k.sec }

// Close stops the broker, writing its state to its data folder first, and
// waits until its port is free. It is safe to call twice.
func (k *KafkaBroker) Close() { k.c.stop() }

// Kill ends the broker with SIGKILL: no state is written on the way out.
// A broker started again on the same KafkaDataDir shows what survived.
func (k *KafkaBroker) Kill() { k.c.kill() }

// CreateTopic creates a topic of partitions partitions.
func (k *KafkaBroker) CreateTopic(t testing.TB, name string, partitions int32) {
	t.Helper()
	k.c.command(t, fmt.Sprintf("create-topic %s %d", name, partitions))
}

// RefuseWrites makes the broker answer every produce to one of topics with
// TOPIC_AUTHORIZATION_FAILED until the test ends (or RefuseWrites is
// called again); other topics are written as usual.
func (k *KafkaBroker) RefuseWrites(t testing.TB, topics ...string) {
	t.Helper()
	k.c.command(t, "refuse-writes "+strings.Join(topics, " "))
}

// MoveLeaders elects new partition leaders at random among the nodes and
// moves every group coordinator, as a rolling restart does.
func (k *KafkaBroker) MoveLeaders(t testing.TB) {
	t.Helper()
	k.c.command(t, "move-leaders")
}

// DropProduce, while on, makes the broker drop the connection of every
// produce request, as an unreachable broker does.
func (k *KafkaBroker) DropProduce(t testing.TB, on bool) {
	t.Helper()
	arg := "off"
	if on {
		arg = "on"
	}
	k.c.command(t, "drop-produce "+arg)
}

// Dropped counts the produce requests dropped while DropProduce was on.
func (k *KafkaBroker) Dropped(t testing.TB) int64 {
	t.Helper()
	n, err := strconv.ParseInt(k.c.command(t, "dropped"), 10, 64)
	if err != nil {
		t.Fatalf("nova kafka: dropped: %v", err)
	}
	return n
}

// Written counts the records ever written to topic: the sum of its
// partitions' end offsets.
func (k *KafkaBroker) Written(t testing.TB, topic string) int64 {
	t.Helper()
	n, err := endOffsets(k.c.addrs, k.sec, topic)
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	return n
}

func endOffsets(addrs []string, sec kafka.Security, topic string) (int64, error) {
	cfg := sarama.NewConfig()
	cfg.Net.DialTimeout = 5 * time.Second
	if err := sec.Apply(cfg); err != nil {
		return 0, err
	}
	cl, err := sarama.NewClient(addrs, cfg)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	parts, err := cl.Partitions(topic)
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, p := range parts {
		off, err := cl.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return 0, fmt.Errorf("partition %d: %w", p, err)
		}
		sum += off
	}
	return sum, nil
}

// Consumer reads topics from their start, every partition, as records
// arrive; within a partition they keep their offset order.
type Consumer struct {
	c    sarama.Consumer
	mu   sync.Mutex
	recs []*sarama.ConsumerMessage
	more chan struct{} // signalled when records arrive
}

// Consume starts reading topics from their first offsets; it stops when
// the test ends.
func (k *KafkaBroker) Consume(t testing.TB, topics ...string) *Consumer {
	t.Helper()
	scfg := sarama.NewConfig()
	if err := k.sec.Apply(scfg); err != nil {
		t.Fatal(err)
	}
	sc, err := sarama.NewConsumer(k.c.addrs, scfg)
	if err != nil {
		t.Fatalf("kafka consumer: %v", err)
	}
	t.Cleanup(func() { _ = sc.Close() })
	c := &Consumer{c: sc, more: make(chan struct{}, 1)}
	for _, topic := range topics {
		parts, err := sc.Partitions(topic)
		if err != nil {
			t.Fatalf("partitions of %s: %v", topic, err)
		}
		for _, p := range parts {
			pc, err := sc.ConsumePartition(topic, p, sarama.OffsetOldest)
			if err != nil {
				t.Fatalf("consume %s/%d: %v", topic, p, err)
			}
			go func() {
				for m := range pc.Messages() {
					c.mu.Lock()
					c.recs = append(c.recs, m)
					c.mu.Unlock()
					select {
					case c.more <- struct{}{}:
					default:
					}
				}
			}()
		}
	}
	return c
}

// Until waits until at least n records have been read, failing the test
// after timeout, and returns every record read so far.
func (c *Consumer) Until(t testing.TB, n int, timeout time.Duration) []*sarama.ConsumerMessage {
	t.Helper()
	deadline := time.After(timeout)
	for {
		c.mu.Lock()
		got := slices.Clone(c.recs)
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-c.more:
		case <-deadline:
			t.Fatalf("read %d of %d records in %s", len(got), n, timeout)
		}
	}
}

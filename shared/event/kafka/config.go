package kafka

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/IBM/sarama"
)

// Encoding is the CloudEvents content mode of the records a Producer writes.
type Encoding int

const (
	// Binary puts the attributes in ce_ headers and the data in the value;
	// Nova's producers use it.
	Binary Encoding = iota
	// Structured writes the whole event as application/cloudevents+json,
	// for tests and tools that want self-contained records.
	Structured
)

func (e Encoding) String() string {
	switch e {
	case Binary:
		return "binary"
	case Structured:
		return "structured"
	}
	return fmt.Sprintf("Encoding(%d)", int(e))
}

// ProducerConfig configures a Producer. Zero fields take the defaults of
// DefaultProducerConfig.
type ProducerConfig struct {
	// Brokers are the bootstrap servers (KAFKA_BROKERS). Required.
	Brokers []string
	// ClientID names the producer to the brokers.
	ClientID string
	// KafkaVersion is the protocol version spoken, at least 0.11.0 (the
	// idempotent producer needs it).
	KafkaVersion string
	// Encoding is the CloudEvents content mode of the records.
	Encoding Encoding
	// Linger is how long a batch may wait for more records; 0 sends as soon
	// as the previous request to the broker is answered.
	Linger time.Duration
	// BatchMessages and BatchBytes make a batch go out once it holds that
	// many records or bytes; 0 means no such trigger.
	BatchMessages int
	BatchBytes    int
	// MaxMessageBytes is the largest record accepted.
	MaxMessageBytes int
	// Compression of record batches.
	Compression sarama.CompressionCodec
	// RetryMax and RetryBackoff govern retries of retriable broker errors
	// before a record fails; the wait doubles from RetryBackoff up to
	// MaxRetryBackoff. The default retries for about half an hour of an
	// unreachable broker (Send still returns when its ctx ends; Sarama keeps
	// one retry slot per attempt, so the count cannot be unbounded): a record whose
	// retries run out fails while later records of its partition, held
	// behind it, are then written — Kafka would hold them out of order. A
	// caller that needs order bounds Send with its context instead.
	RetryMax        int
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
	// DialTimeout bounds connecting to a broker.
	DialTimeout time.Duration
	// Buffer is the number of records queued inside the producer.
	Buffer int
	// Security is TLS and SASL (KAFKA_TLS*, KAFKA_SASL_*); the zero value
	// is plaintext without credentials.
	Security Security
	// Logger receives the producer's own log lines.
	Logger *slog.Logger
}

// DefaultProducerConfig returns the defaults for brokers.
func DefaultProducerConfig(brokers ...string) ProducerConfig {
	return ProducerConfig{
		Brokers:         brokers,
		ClientID:        "nova",
		KafkaVersion:    "3.6.0",
		Encoding:        Binary,
		MaxMessageBytes: 1 << 20,
		Compression:     sarama.CompressionNone,
		RetryMax:        1000, // with the backoff capped at 2s, about half an hour
		RetryBackoff:    100 * time.Millisecond,
		MaxRetryBackoff: 2 * time.Second,
		DialTimeout:     10 * time.Second,
		Buffer:          4096,
		Logger:          slog.Default(),
	}
}

// Defaults returns c with every unset field at DefaultProducerConfig's value.
func (c ProducerConfig) Defaults() ProducerConfig {
	d := DefaultProducerConfig(c.Brokers...)
	if c.ClientID == "" {
		c.ClientID = d.ClientID
	}
	if c.KafkaVersion == "" {
		c.KafkaVersion = d.KafkaVersion
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = d.MaxMessageBytes
	}
	if c.RetryMax == 0 {
		c.RetryMax = d.RetryMax
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = d.RetryBackoff
	}
	if c.MaxRetryBackoff == 0 {
		c.MaxRetryBackoff = max(d.MaxRetryBackoff, c.RetryBackoff)
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = d.DialTimeout
	}
	if c.Buffer == 0 {
		c.Buffer = d.Buffer
	}
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	return c
}

// Validate reports what is wrong with the configuration after defaults.
func (c ProducerConfig) Validate() error {
	c = c.Defaults()
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("no brokers"))
	}
	for _, b := range c.Brokers {
		if b == "" {
			errs = append(errs, errors.New("empty broker address"))
		}
	}
	if v, err := sarama.ParseKafkaVersion(c.KafkaVersion); err != nil {
		errs = append(errs, fmt.Errorf("kafka version: %w", err))
	} else if !v.IsAtLeast(sarama.V0_11_0_0) {
		errs = append(errs, fmt.Errorf("kafka version %s: the idempotent producer needs 0.11.0 or later", v))
	}
	if c.Encoding != Binary && c.Encoding != Structured {
		errs = append(errs, fmt.Errorf("unknown encoding %d", int(c.Encoding)))
	}
	if c.Linger < 0 || c.BatchMessages < 0 || c.BatchBytes < 0 {
		errs = append(errs, errors.New("linger and batch sizes must not be negative"))
	}
	if c.MaxMessageBytes < 0 || c.RetryMax < 0 || c.RetryBackoff < 0 || c.MaxRetryBackoff < 0 || c.DialTimeout < 0 || c.Buffer < 0 {
		errs = append(errs, errors.New("sizes, retries and timeouts must not be negative"))
	}
	if err := c.Security.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kafka: producer config: %w", err)
	}
	return nil
}

// SaramaConfig is the Sarama configuration a Producer runs with: an
// idempotent producer, which needs acks from all in-sync replicas, one open
// request per broker and at least one retry, so a retried batch is never
// written twice or out of order; murmur2 partitioning; successes and errors
// returned.
func (c ProducerConfig) SaramaConfig() (*sarama.Config, error) {
	c = c.Defaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	v, _ := sarama.ParseKafkaVersion(c.KafkaVersion)
	sc := sarama.NewConfig()
	sc.ClientID = c.ClientID
	sc.Version = v
	sc.ChannelBufferSize = c.Buffer
	sc.Net.DialTimeout = c.DialTimeout
	sc.Net.MaxOpenRequests = 1
	sc.Producer.Idempotent = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Producer.Retry.Max = max(c.RetryMax, 1)
	sc.Producer.Retry.BackoffFunc = func(retries, _ int) time.Duration {
		d := c.RetryBackoff
		for range min(retries, 16) {
			if d >= c.MaxRetryBackoff {
				break
			}
			d *= 2
		}
		return min(d, c.MaxRetryBackoff)
	}
	sc.Producer.Return.Successes = true
	sc.Producer.Return.Errors = true
	sc.Producer.Partitioner = NewMurmur2Partitioner
	sc.Producer.Flush.Frequency = c.Linger
	sc.Producer.Flush.Messages = c.BatchMessages
	sc.Producer.Flush.Bytes = c.BatchBytes
	sc.Producer.MaxMessageBytes = c.MaxMessageBytes
	sc.Producer.Compression = c.Compression
	// Metadata retries stay bounded so that starting against a broker that
	// is not there fails instead of hanging.
	sc.Metadata.Retry.Max = max(min(c.RetryMax, 10), 1)
	sc.Metadata.Retry.Backoff = c.RetryBackoff
	if err := c.Security.Apply(sc); err != nil {
		return nil, err
	}
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("kafka: sarama config: %w", err)
	}
	return sc, nil
}

// ParseBrokers reads a bootstrap list as KAFKA_BROKERS holds it:
// comma-separated addresses, blanks and empty entries ignored.
func ParseBrokers(list string) []string {
	var out []string
	for _, b := range strings.Split(list, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/nova-social/nova/cmd/nova/internal/source"
	"github.com/nova-social/nova/shared/event/kafka"
)

// Config tunes the dispatcher. The zero value is usable: Defaults fills
// every unset field.
type Config struct {
	// Brokers, when set, replace every source's spec.bootstrapServers: the
	// manifests name the cluster's bootstrap service, which a developer's
	// machine reaches under another address (the embedded broker, or
	// KAFKA_BROKERS).
	Brokers []string
	// Secrets reads the Secret keys a KafkaSource's spec.net names, in the
	// source's namespace, as Knative's data plane reads them. A source with
	// spec.net and no Secrets fails to start: it is never quietly run
	// without the login its manifest asks for.
	Secrets func(namespace string, ref source.SecretKeyRef) (string, error)
	// BrokerSecurity is how the runners of Triggers log in: the Kafka
	// Broker's data plane's own login (kafka-broker-config's auth secret).
	BrokerSecurity kafka.Security
	// ClientID identifies the dispatcher's Kafka connections.
	ClientID string
	// MaxInFlight bounds the events of one unordered source being delivered
	// at once (Knative's default is 50).
	MaxInFlight int
	// CommitInterval is how often marked offsets are committed.
	CommitInterval time.Duration
	// LagInterval is how often kafka_consumer_lag is refreshed.
	LagInterval time.Duration
	// DeadLetterBackoffMax caps the wait between attempts at a dead-letter
	// sink that keeps failing once the source's retries are spent: the
	// dispatcher never gives up on it, since the event's offset cannot be
	// committed until it is either delivered or dead-lettered.
	DeadLetterBackoffMax time.Duration
	// SessionTimeout and HeartbeatInterval are the consumer group's.
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration
	// KafkaVersion is the protocol version spoken to the brokers.
	KafkaVersion sarama.KafkaVersion
	// HTTPClient sends events; its Timeout is left alone and each attempt is
	// bounded by the source's delivery timeout instead.
	HTTPClient *http.Client
	// Registry receives the dispatcher's metrics. When nil a private
	// registry is made; either way Handler serves it.
	Registry *prometheus.Registry
	// Logger logs delivery failures and consumer group trouble.
	Logger *slog.Logger
	// Tokens, when set, gives each delivery to a destination with an
	// audience the bearer token of its sender's OIDC service account, as
	// Knative's dispatchers do with authentication-oidc on; nil sends none
	// (the feature off).
	Tokens TokenSource
	// Convert turns a record into the CloudEvent sent to the sink. Nil means
	// DefaultConverter (Knative's reading: CloudEvents pass through, plain
	// records are wrapped).
	Convert Converter
	// Tracer starts a span per delivery, continuing the trace of the
	// record's traceparent header, and sends its context to the sink in
	// the request's traceparent, as Knative's dispatchers do with tracing
	// on. Nil: no spans, and the records' own headers are passed on as
	// they are.
	Tracer trace.TracerProvider
}

// TokenSource gives the token service account sa of namespace ns presents
// to audience aud: in a cluster, the API server's TokenRequest;
// locally, *issuer.Tokens.
type TokenSource interface {
	Token(ctx context.Context, ns, sa, aud string) (string, error)
}

// Defaults.
const (
	DefaultClientID             = "nova-dispatcher"
	DefaultMaxInFlight          = 50
	DefaultCommitInterval       = time.Second
	DefaultLagInterval          = 5 * time.Second
	DefaultDeadLetterBackoffMax = 30 * time.Second
	DefaultSessionTimeout       = 10 * time.Second
	DefaultHeartbeatInterval    = 3 * time.Second
)

// DefaultKafkaVersion is recent enough for every request the dispatcher
// makes and spoken by Kafka 2.8+ and the embedded broker.
var DefaultKafkaVersion = sarama.V2_8_0_0

// Defaults returns c with every unset field at its default.
func (c Config) Defaults() Config {
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.CommitInterval == 0 {
		c.CommitInterval = DefaultCommitInterval
	}
	if c.LagInterval == 0 {
		c.LagInterval = DefaultLagInterval
	}
	if c.DeadLetterBackoffMax == 0 {
		c.DeadLetterBackoffMax = DefaultDeadLetterBackoffMax
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.KafkaVersion == (sarama.KafkaVersion{}) {
		c.KafkaVersion = DefaultKafkaVersion
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Transport: &http.Transport{
			Proxy:               nil, // sinks are local or in-cluster; never through a proxy
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Convert == nil {
		c.Convert = DefaultConverter
	}
	return c
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.MaxInFlight < 1 {
		errs = append(errs, fmt.Errorf("MaxInFlight must be at least 1, not %d", c.MaxInFlight))
	}
	for name, d := range map[string]time.Duration{
		"CommitInterval": c.CommitInterval, "LagInterval": c.LagInterval,
		"DeadLetterBackoffMax": c.DeadLetterBackoffMax, "SessionTimeout": c.SessionTimeout,
		"HeartbeatInterval": c.HeartbeatInterval,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, not %v", name, d))
		}
	}
	if c.HeartbeatInterval >= c.SessionTimeout {
		errs = append(errs, fmt.Errorf("HeartbeatInterval (%v) must be below SessionTimeout (%v)", c.HeartbeatInterval, c.SessionTimeout))
	}
	for i, b := range c.Brokers {
		if b == "" {
			errs = append(errs, fmt.Errorf("Brokers[%d] is empty", i))
		}
	}
	if c.ClientID == "" {
		errs = append(errs, errors.New("ClientID is empty"))
	}
	return errors.Join(errs...)
}

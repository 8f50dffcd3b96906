// Package source reads Knative KafkaSource manifests (sources.knative.dev/v1beta1),
// the objects in eventing/ that decide which function receives which events.
// The same files are applied to a cluster with kubectl and run locally by the
// dispatcher, so the reader applies Knative's defaults and refuses what
// Knative would refuse, naming the file and the field at fault.
package source

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/nova-social/nova/shared/event/kafka"
)

// APIVersion and Kind identify a KafkaSource document.
const (
	APIVersion = "sources.knative.dev/v1beta1"
	Kind       = "KafkaSource"
)

// InitialOffset is where a consumer group without a committed offset starts.
type InitialOffset string

// Initial offsets Knative accepts.
const (
	OffsetEarliest InitialOffset = "earliest"
	OffsetLatest   InitialOffset = "latest"
)

// Ordering says how many events of a partition may be in flight at once.
type Ordering string

// Orderings Knative accepts.
const (
	// Ordered delivers one event at a time per partition, in offset order.
	Ordered Ordering = "ordered"
	// Unordered delivers up to a bounded number of events concurrently.
	Unordered Ordering = "unordered"
)

// BackoffPolicy is how the delay between retries grows.
type BackoffPolicy string

// Backoff policies Knative accepts.
const (
	// BackoffLinear waits backoffDelay*n before retry n (n = 1, 2, …).
	BackoffLinear BackoffPolicy = "linear"
	// BackoffExponential waits backoffDelay*2^n before retry n (n = 1, 2, …).
	BackoffExponential BackoffPolicy = "exponential"
)

// Defaults applied where a manifest leaves a field out, as Knative's
// KafkaSource controller and data plane do.
const (
	DefaultNamespace     = "default"
	DefaultInitialOffset = OffsetLatest
	DefaultOrdering      = Ordered
	DefaultBackoffPolicy = BackoffExponential
	// DefaultBackoffDelay is the Kafka data plane's default (1000 ms).
	DefaultBackoffDelay = time.Second
	// DefaultTimeout is the Kafka data plane's per-request timeout when the
	// manifest gives none (600 000 ms).
	DefaultTimeout = 10 * time.Minute
)

// KafkaSource is one KafkaSource object with Knative's defaults applied.
type KafkaSource struct {
	// File is the manifest the object was read from, for messages.
	File      string
	Name      string
	Namespace string
	Labels    map[string]string

	BootstrapServers []string
	Topics           []string
	// ConsumerGroup is spec.consumerGroup, or a stable name derived from the
	// namespace and name when the manifest leaves it out (Knative derives one
	// from the object's UID, which does not exist outside a cluster).
	ConsumerGroup string
	InitialOffset InitialOffset
	Ordering      Ordering
	// Consumers is spec.consumers, the number of consumers Knative would
	// schedule; informative here.
	Consumers int32
	// Extensions are spec.ceOverrides.extensions, set on every event sent.
	Extensions map[string]string

	Delivery Delivery
	Sink     Destination
	// Net is spec.net: how the source logs in to Kafka.
	Net Net
}

// SecretKeyRef names one key of a Secret in the source's namespace.
type SecretKeyRef struct{ Name, Key string }

// Net is a KafkaSource's spec.net: SASL and TLS, every value taken from a
// Secret as the CRD has it (a zero SecretKeyRef is unset).
type Net struct {
	SASL bool
	// SASLType holds PLAIN (Knative's default when unset), SCRAM-SHA-256
	// or SCRAM-SHA-512.
	SASLUser, SASLPassword, SASLType SecretKeyRef
	TLS                              bool
	// CACert, when unset, trusts the system's roots; Cert and Key are a
	// client certificate (mTLS).
	CACert, Cert, Key SecretKeyRef
}

// Refs are the Secret keys Net reads, in a fixed order.
func (n Net) Refs() []SecretKeyRef {
	var out []SecretKeyRef
	for _, r := range []SecretKeyRef{n.SASLUser, n.SASLPassword, n.SASLType, n.CACert, n.Cert, n.Key} {
		if r.Name != "" {
			out = append(out, r)
		}
	}
	return out
}

// Ref is "<namespace>/<name>", the source's identity in logs and metrics.
func (s KafkaSource) Ref() string { return s.Namespace + "/" + s.Name }

// CESource is the CloudEvents source Knative gives events it wraps from plain
// records of topic: /apis/v1/namespaces/<ns>/kafkasources/<name>#<topic>.
func (s KafkaSource) CESource(topic string) string {
	return "/apis/v1/namespaces/" + s.Namespace + "/kafkasources/" + s.Name + "#" + topic
}

// Delivery is spec.delivery with defaults applied.
type Delivery struct {
	// Retry is how many times a failed delivery is retried (0 = never).
	Retry         int32
	BackoffPolicy BackoffPolicy
	BackoffDelay  time.Duration
	// Timeout bounds each attempt.
	Timeout time.Duration
	// DeadLetterSink receives events whose delivery failed for good; nil when
	// the manifest names none (and such failures are then dropped, as Knative
	// drops them).
	DeadLetterSink *Destination
}

// Backoff is the wait before retry n (n = 1 for the first retry), the formula
// of Knative's Kafka data plane: linear delay*n, exponential delay*2^n.
func (d Delivery) Backoff(n int) time.Duration {
	if n < 1 {
		return 0
	}
	switch d.BackoffPolicy {
	case BackoffLinear:
		return d.BackoffDelay * time.Duration(n)
	default:
		if n > 30 { // beyond any sensible retry count; keep clear of overflow
			n = 30
		}
		return d.BackoffDelay * time.Duration(int64(1)<<n)
	}
}

// Destination is a Knative duck Destination: an object reference, a URI, or
// both (the URI is then resolved against the reference's address).
type Destination struct {
	Ref *Reference
	URI *url.URL
	// Audience is the OIDC audience of the token the dispatcher sends
	// with each event (Knative's authentication-oidc); "" sends none. A
	// Knative Service publishes no audience of its own, so Nova's
	// manifests name it: sender.AudiencePrefix and the function's name.
	Audience string
}

// String names the destination for messages.
func (d Destination) String() string {
	switch {
	case d.Ref != nil && d.URI != nil:
		return d.Ref.String() + " + " + d.URI.String()
	case d.Ref != nil:
		return d.Ref.String()
	case d.URI != nil:
		return d.URI.String()
	}
	return "<none>"
}

// Reference is a Knative KReference: the object a sink or dead-letter sink
// names, typically a Knative Service (serving.knative.dev/v1, Service) whose
// name is a function's name.
type Reference struct {
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
}

func (r Reference) String() string {
	return fmt.Sprintf("%s %s/%s", r.Kind, r.Namespace, r.Name)
}

// Security is how the source logs in, its Secrets' values read with
// lookup: the dispatcher's side of spec.net. An unset sasl.type is PLAIN,
// Knative's default.
func (n Net) Security(lookup func(SecretKeyRef) (string, error)) (kafka.Security, error) {
	var sec kafka.Security
	get := func(r SecretKeyRef, into *string) error {
		if r.Name == "" {
			return nil
		}
		v, err := lookup(r)
		if err != nil {
			return fmt.Errorf("secret %s key %s: %w", r.Name, r.Key, err)
		}
		*into = v
		return nil
	}
	var errs []error
	if n.SASL {
		var typ string
		errs = append(errs, get(n.SASLUser, &sec.Username), get(n.SASLPassword, &sec.Password), get(n.SASLType, &typ))
		if typ == "" {
			typ = string(kafka.Plain)
		}
		m, err := kafka.ParseMechanism(typ)
		errs = append(errs, err)
		sec.SASL = m
	}
	if n.TLS {
		sec.TLS = true
		errs = append(errs, get(n.CACert, &sec.CAPEM), get(n.Cert, &sec.CertPEM), get(n.Key, &sec.KeyPEM))
	}
	if err := errors.Join(errs...); err != nil {
		return kafka.Security{}, err
	}
	return sec, sec.Validate()
}

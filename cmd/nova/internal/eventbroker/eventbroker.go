// Package eventbroker reads Knative Brokers and Triggers
// (eventing.knative.dev/v1) of the Kafka Broker class and holds what the
// local runtime needs to run them as Knative's Kafka Broker does: the topic
// a Broker stores events in, its HTTP ingress, which events a Trigger's
// filter lets through, and which delivery settings apply to a Trigger.
//
// The reader applies the defaults of Knative's webhooks and controllers
// and refuses what the eventing webhook refuses (and what would leave a
// Broker or Trigger never ready), naming the file, the object and the
// field at fault, so a manifest that runs locally is one a cluster accepts.
package eventbroker

import (
	"strings"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/source"
)

// APIVersion and the kinds read.
const (
	APIVersion  = "eventing.knative.dev/v1"
	BrokerKind  = "Broker"
	TriggerKind = "Trigger"
)

// Annotations Knative reads on Brokers and Triggers.
const (
	// ClassAnnotation names a Broker's implementation.
	ClassAnnotation = "eventing.knative.dev/broker.class"
	// ExternalTopicAnnotation makes a Kafka Broker use an existing topic
	// instead of creating its own.
	ExternalTopicAnnotation = "kafka.eventing.knative.dev/external.topic"
	// DeliveryOrderAnnotation is a Trigger's ordering on a Kafka Broker:
	// ordered or unordered (the default).
	DeliveryOrderAnnotation = "kafka.eventing.knative.dev/delivery.order"
	// DependencyAnnotation and InjectionAnnotation are checked by the
	// eventing webhook.
	DependencyAnnotation = "knative.dev/dependency"
	InjectionAnnotation  = "eventing.knative.dev/injection"
)

// KafkaClass is the class of the Kafka Broker, the only one emulated.
const KafkaClass = "Kafka"

// Defaults of the Kafka Broker's control and data planes (Knative Eventing
// Kafka Broker 1.20, which pins eventing v0.47).
const (
	DefaultNamespace = source.DefaultNamespace
	// DefaultOrdering is a Trigger's delivery order without the annotation
	// (a KafkaSource's default is ordered).
	DefaultOrdering = source.Unordered
	// DefaultBackoffPolicy and DefaultBackoffDelay apply when a delivery
	// sets retry without them (EgressConfigFromDelivery's 200 ms).
	DefaultBackoffPolicy = source.BackoffExponential
	DefaultBackoffDelay  = 200 * time.Millisecond
	// DefaultTimeout bounds each attempt when the delivery sets none
	// (the data plane's DEFAULT_TIMEOUT_MS).
	DefaultTimeout = 10 * time.Minute
)

// Broker is one Broker object of class Kafka with Knative's defaults
// applied.
type Broker struct {
	// File is the manifest the object was read from, for messages.
	File      string
	Name      string
	Namespace string
	// ExternalTopic is the kafka.eventing.knative.dev/external.topic
	// annotation: the existing topic the Broker uses, or "".
	ExternalTopic string
	// Config is spec.config, the kafka-broker-config ConfigMap.
	Config source.Reference
	// Delivery is spec.delivery, nil when absent. Triggers without a
	// delivery of their own use it.
	Delivery *DeliverySpec

	// Kafka is the topic configuration read from Config by Resolve.
	Kafka TopicConfig
}

// Ref is "<namespace>/<name>".
func (b Broker) Ref() string { return b.Namespace + "/" + b.Name }

// Topic is where the Broker stores its events: the external topic, or
// knative-broker-<namespace>-<name> (the default brokers-topic-template).
func (b Broker) Topic() string {
	if b.ExternalTopic != "" {
		return b.ExternalTopic
	}
	return "knative-broker-" + b.Namespace + "-" + b.Name
}

// Path is the ingress path of the Broker, /<namespace>/<name>; its
// status.address.url is the ingress service's address with this path.
func (b Broker) Path() string { return "/" + b.Namespace + "/" + b.Name }

// Audience is the OIDC audience the Broker publishes (status.address.audience)
// and its ingress accepts tokens for: Knative's group/kind/namespace/name,
// lower-cased.
func (b Broker) Audience() string {
	return strings.ToLower("eventing.knative.dev/broker/" + b.Namespace + "/" + b.Name)
}

// Trigger is one Trigger object with Knative's defaults applied.
type Trigger struct {
	// File is the manifest the object was read from, for messages.
	File      string
	Name      string
	Namespace string
	// Broker is the name of the Broker (in the Trigger's namespace).
	Broker string
	// Filter decides which events are delivered: spec.filters when it is
	// not empty, else spec.filter.attributes, else every event.
	Filter Filter
	// Ordering is the kafka.eventing.knative.dev/delivery.order annotation.
	Ordering   source.Ordering
	Subscriber source.Destination
	// Delivery is spec.delivery, nil when absent.
	Delivery *DeliverySpec
}

// Ref is "<namespace>/<name>".
func (t Trigger) Ref() string { return t.Namespace + "/" + t.Name }

// ConsumerGroup is the Trigger's consumer group on its Broker's topic,
// knative-trigger-<namespace>-<name> (the default
// triggers-consumergroup-template).
func (t Trigger) ConsumerGroup() string {
	return "knative-trigger-" + t.Namespace + "-" + t.Name
}

// DeliveryWith is the delivery the Kafka Broker's dispatcher applies to
// the Trigger's events: the Trigger's spec.delivery when it has one,
// otherwise the Broker's, as a whole object (class Kafka does not merge
// field by field: a Trigger that sets only retry has no dead-letter sink
// even if its Broker names one).
func (t Trigger) DeliveryWith(b Broker) source.Delivery {
	if t.Delivery != nil {
		return t.Delivery.Egress()
	}
	return b.Delivery.Egress()
}

// DeliverySpec is a Knative duck DeliverySpec as written: nil fields were
// not set.
type DeliverySpec struct {
	DeadLetterSink *source.Destination
	Retry          *int32
	BackoffPolicy  *source.BackoffPolicy
	BackoffDelay   *time.Duration
	Timeout        *time.Duration
}

// Egress is the delivery the Kafka data plane runs for d
// (EgressConfigFromDelivery): without any of deadLetterSink, retry and
// timeout there is no egress config at all (one attempt, no dead-letter
// sink, the default timeout); the backoff settings count only when retry
// is set. A nil d gives the same as an empty one.
func (d *DeliverySpec) Egress() source.Delivery {
	out := source.Delivery{
		BackoffPolicy: DefaultBackoffPolicy,
		BackoffDelay:  DefaultBackoffDelay,
		Timeout:       DefaultTimeout,
	}
	if d == nil || (d.DeadLetterSink == nil && d.Retry == nil && d.Timeout == nil) {
		return out
	}
	if d.DeadLetterSink != nil {
		dls := *d.DeadLetterSink
		out.DeadLetterSink = &dls
	}
	if d.Retry != nil {
		out.Retry = *d.Retry
		if d.BackoffPolicy != nil {
			out.BackoffPolicy = *d.BackoffPolicy
		}
		if d.BackoffDelay != nil {
			out.BackoffDelay = *d.BackoffDelay
		}
	}
	if d.Timeout != nil {
		out.Timeout = *d.Timeout
	}
	return out
}

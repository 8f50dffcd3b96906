package eventbroker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/event/sender"
)

// Appender writes records to Kafka; *kafka.Producer is one.
type Appender interface {
	Send(ctx context.Context, recs ...kafka.Record) error
}

// Store writes events into Broker topics as the Kafka Broker's data plane
// does, for its ingress and for the replies of Triggers' subscribers:
// binary mode whatever mode the event came in (attributes as ce_ headers,
// datacontenttype as content-type, the data as the value), with the
// partitionkey extension as the record key and no key without one.
type Store struct{ out Appender }

// NewStore returns a Store writing through out.
func NewStore(out Appender) Store { return Store{out: out} }

// Append writes e into topic and returns once Kafka has acknowledged it.
func (s Store) Append(ctx context.Context, topic string, e cloudevents.Event) error {
	return s.out.Send(ctx, kafka.Record{Topic: topic, Event: e, KeyOptional: true})
}

// Ingress defaults.
const (
	// DefaultMaxEventBytes is Kafka's default max.request.size: the
	// ingress's producer fails on anything larger.
	DefaultMaxEventBytes = 1 << 20
	// DefaultIngressTimeout is the ingress producer's delivery.timeout.ms
	// (120000): how long it waits for Kafka before answering 503.
	DefaultIngressTimeout = 2 * time.Minute
)

// IngressConfig configures an Ingress.
type IngressConfig struct {
	// Store is where accepted events go. Required.
	Store Store
	// MaxEventBytes bounds a request's body; 0 means DefaultMaxEventBytes.
	MaxEventBytes int64
	// Timeout bounds storing one event; 0 means DefaultIngressTimeout.
	Timeout time.Duration
	// Logger logs refused requests and storage failures.
	Logger *slog.Logger
	// Senders, when set, checks who posts to each Broker (by its Ref), as
	// the data plane's receiver does with authentication-oidc on: a
	// missing or invalid token is a 401, a sender no EventPolicy of the
	// Broker admits a 403, both before the body is read. A Broker
	// without an entry admits anyone.
	Senders map[string]sender.Authenticator
}

// Ingress is the Kafka Broker's ingress (the kafka-broker-ingress service):
// one HTTP handler for every Broker, routed by path /<namespace>/<name>. It
// answers as the data plane's receiver does: 405 to anything but POST, 404
// for a path that is no Broker's, 400 for a request that is not a
// CloudEvent (structured, by a CloudEvents content type, or binary, by its
// ce-specversion header) or lacks a required attribute, 202 with an empty
// body once Kafka has acknowledged the event, 503 when storing it failed.
// Nothing else is checked, and nothing is added to the event.
type Ingress struct {
	routes  map[string]string               // path -> topic
	senders map[string]sender.Authenticator // path -> the Broker's sender check
	store   Store
	max     int64
	timeout time.Duration
	log     *slog.Logger
	// refusals keeps a flood of forged requests out of the log.
	refusals *sender.RefusalLog
}

// NewIngress serves the given Brokers.
func NewIngress(cfg IngressConfig, brokers []Broker) (*Ingress, error) {
	if cfg.Store.out == nil {
		return nil, errors.New("eventbroker: ingress needs a store")
	}
	if cfg.MaxEventBytes <= 0 {
		cfg.MaxEventBytes = DefaultMaxEventBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultIngressTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	in := &Ingress{routes: map[string]string{}, senders: map[string]sender.Authenticator{}, store: cfg.Store, max: cfg.MaxEventBytes, timeout: cfg.Timeout, log: cfg.Logger,
		refusals: sender.NewRefusalLog(cfg.Logger, 0)}
	for _, b := range brokers {
		if _, dup := in.routes[b.Path()]; dup {
			return nil, fmt.Errorf("eventbroker: Broker %s is listed twice", b.Ref())
		}
		in.routes[b.Path()] = b.Topic()
		if a := cfg.Senders[b.Ref()]; a != nil {
			in.senders[b.Path()] = a
		}
	}
	return in, nil
}

// ServeHTTP takes one event.
func (in *Ingress) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	path := r.URL.Path
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	topic, ok := in.routes[path]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if a := in.senders[path]; a != nil {
		if _, err := a.Authenticate(r); err != nil {
			status := sender.Status(err)
			in.refusals.Refused(r.Context(), "broker ingress: sender refused", "path", path, "status", status, "error", err)
			w.WriteHeader(status)
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, in.max+1))
	if err != nil {
		in.log.Debug("broker ingress: request body unreadable", "path", path, "error", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if int64(len(body)) > in.max {
		// The data plane's producer refuses a record above
		// max.request.size, which it answers as any storage failure.
		in.log.Warn("broker ingress: event larger than a Kafka record may be", "path", path, "limit", in.max)
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	e, err := readEvent(r.Context(), r.Header, body)
	if err != nil {
		in.log.Debug("broker ingress: not a CloudEvent", "path", path, "error", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	// Once handed to Kafka the event is stored whether or not the sender
	// is still waiting, as the data plane's producer stores it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), in.timeout)
	defer cancel()
	if err := in.store.Append(ctx, topic, e); err != nil {
		in.log.Error("broker ingress: storing the event failed", "path", path, "topic", topic,
			"id", e.ID(), "source", e.Source(), "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// ErrNotCloudEvent is returned by ReadResponse for a non-empty body that
// is no CloudEvent.
var ErrNotCloudEvent = errors.New("unknown encoding and non empty response")

// readEvent reads a CloudEvent from an HTTP message as the data plane's
// receiver does: structured when the content type is a CloudEvents format,
// else binary when ce-specversion is there (1.0 or 0.3), else not an event
// (a batch included).
func readEvent(ctx context.Context, h http.Header, body []byte) (cloudevents.Event, error) {
	m := cehttp.NewMessage(h, io.NopCloser(bytes.NewReader(body)))
	switch enc := m.ReadEncoding(); enc {
	case binding.EncodingBinary, binding.EncodingStructured:
	default:
		return cloudevents.Event{}, fmt.Errorf("%w (%s)", ErrNotCloudEvent, enc)
	}
	e, err := binding.ToEvent(ctx, m)
	if err != nil {
		return cloudevents.Event{}, err
	}
	if err := e.Validate(); err != nil {
		return cloudevents.Event{}, err
	}
	return *e, nil
}

// ReadReply reads a subscriber's 2xx response as the Kafka Broker's
// dispatcher does: a CloudEvent (structured or binary) is a reply; an
// empty body without CloudEvents headers is no reply (nil, nil); anything
// else fails, with ErrNotCloudEvent for a body that is not an event.
func ReadReply(ctx context.Context, h http.Header, body []byte) (*cloudevents.Event, error) {
	m := cehttp.NewMessage(h, io.NopCloser(bytes.NewReader(body)))
	if enc := m.ReadEncoding(); enc != binding.EncodingBinary && enc != binding.EncodingStructured {
		if len(body) == 0 {
			return nil, nil
		}
		return nil, ErrNotCloudEvent
	}
	e, err := readEvent(ctx, h, body)
	if err != nil {
		return nil, fmt.Errorf("reply is not a valid CloudEvent: %w", err)
	}
	return &e, nil
}

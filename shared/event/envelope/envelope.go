package envelope

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/nova-social/nova/shared/event/catalog"
)

// Content types and attribute names of Nova's event contract.
const (
	ContentTypeProtobuf = "application/protobuf"
	ContentTypeJSON     = "application/json"
	// PartitionKeyExtension is the CloudEvents partitioning extension; its
	// value is the Kafka key.
	PartitionKeyExtension = "partitionkey"
	// KafkaEventType is the type Knative's KafkaSource gives a record that
	// is not a CloudEvent.
	KafkaEventType = "dev.knative.kafka.event"
)

// Codec builds and reads the CloudEvents of one catalogue. It is safe for
// concurrent use.
type Codec struct {
	cat *catalog.Catalog
	// consumer, when set, is the function decoding: plain records are then
	// taken only from the topics the catalogue lets it take them from.
	consumer string
	// byName resolves a plain record's "type" field: CE type, message name
	// and full message name.
	byName  map[string]catalog.EventType
	byTopic map[string][]catalog.EventType
	// contracts are the compiled rules of each event's message; contractErr
	// a mistake in those rules, which every New and Decode then reports.
	contracts   map[protoreflect.FullName]*contract
	contractErr error
}

// NewCodec returns a codec for the events of cat.
func NewCodec(cat *catalog.Catalog) *Codec {
	c := &Codec{
		cat:     cat,
		byName:  make(map[string]catalog.EventType),
		byTopic: make(map[string][]catalog.EventType),
	}
	for _, et := range cat.Events() {
		c.byName[et.Type] = et
		c.byName[string(et.MessageName())] = et
		c.byName[string(et.MessageName().Name())] = et
		c.byTopic[et.Topic] = append(c.byTopic[et.Topic], et)
	}
	mds := make([]protoreflect.MessageDescriptor, 0, len(cat.Events()))
	for _, et := range cat.Events() {
		mds = append(mds, et.Message.ProtoReflect().Descriptor())
	}
	c.contracts, c.contractErr = contracts(mds)
	return c
}

// Check returns the first rule of its event type's contract msg breaks, as
// a *DecodeError matching ErrContract; nil when msg keeps them all.
func (c *Codec) Check(msg proto.Message) error {
	ct, err := c.contractOf(msg)
	if err != nil {
		return err
	}
	if err := ct.check(msg.ProtoReflect(), ""); err != nil {
		return &DecodeError{Kind: ErrContract, Reason: err.Error()}
	}
	return nil
}

// contractOf returns the compiled rules of msg's event type.
func (c *Codec) contractOf(msg proto.Message) (*contract, error) {
	if c.contractErr != nil {
		return nil, c.contractErr
	}
	md := msg.ProtoReflect().Descriptor()
	ct, ok := c.contracts[md.FullName()]
	if !ok {
		return nil, &DecodeError{Kind: ErrUnknownType, Reason: fmt.Sprintf("message %s is not in the catalogue", md.FullName())}
	}
	return ct, nil
}

// ForConsumer returns a codec that decodes as the function named consumer
// receives: typed events as every codec does, plain records only from a
// topic whose catalogue entry names consumer in PlainRecordsFor.
func (c *Codec) ForConsumer(consumer string) *Codec {
	cc := *c
	cc.consumer = consumer
	return &cc
}

// Consumer is the function the codec decodes for ("" for tools).
func (c *Codec) Consumer() string { return c.consumer }

// Catalog returns the catalogue the codec was built from.
func (c *Codec) Catalog() *catalog.Catalog { return c.cat }

// Option adjusts an event built by Codec.New.
type Option func(*options)

type options struct {
	id     string
	source string
	at     time.Time
	json   bool
}

// WithTime sets the event's time instead of now.
func WithTime(t time.Time) Option { return func(o *options) { o.at = t } }

// WithID sets the event's id instead of a fresh UUIDv7, for events whose id
// was fixed earlier (an outbox row that is published again).
func WithID(id string) Option { return func(o *options) { o.id = id } }

// WithSource names a producer other than the catalogue's. A bare service
// name ("search-service") becomes "/nova/search-service"; a value starting
// with "/" or holding a scheme is used as it is.
func WithSource(source string) Option { return func(o *options) { o.source = source } }

// WithJSON writes the data as protojson with datacontenttype
// "application/json" instead of protobuf, for tools and tests that post
// events by hand.
func WithJSON() Option { return func(o *options) { o.json = true } }

// New wraps msg in a CloudEvent with every attribute of Nova's event
// contract. msg must be a message of the catalogue with its key field set.
func (c *Codec) New(msg proto.Message, opts ...Option) (cloudevents.Event, error) {
	if msg == nil {
		return cloudevents.Event{}, &DecodeError{Kind: ErrUnknownType, Reason: "nil message"}
	}
	et, ok := c.cat.ByMessage(msg)
	if !ok {
		return cloudevents.Event{}, &DecodeError{Kind: ErrUnknownType,
			Reason: fmt.Sprintf("message %s is not in the catalogue", msg.ProtoReflect().Descriptor().FullName())}
	}
	key := et.Key(msg)
	if key == "" {
		// An unkeyed event would land on a random partition and lose its
		// order relative to the entity's other events.
		return cloudevents.Event{}, fmt.Errorf("envelope: %s: key field %s is empty", et.Type, et.KeyField)
	}
	// A producer is held to the contract its consumers enforce: an event
	// they would refuse is never written.
	if err := c.Check(msg); err != nil {
		var de *DecodeError
		if errors.As(err, &de) {
			de.Type = et.Type
		}
		return cloudevents.Event{}, err
	}
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.id == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return cloudevents.Event{}, fmt.Errorf("envelope: new event id: %w", err)
		}
		o.id = id.String()
	}
	source := et.Source()
	if o.source != "" {
		source = o.source
		if !strings.HasPrefix(source, "/") && !strings.Contains(source, ":") {
			source = "/nova/" + source
		}
	}
	if o.at.IsZero() {
		o.at = time.Now()
	}
	var (
		data []byte
		err  error
		ct   = ContentTypeProtobuf
	)
	if o.json {
		ct = ContentTypeJSON
		data, err = protojson.Marshal(msg)
	} else {
		data, err = proto.Marshal(msg)
	}
	if err != nil {
		return cloudevents.Event{}, fmt.Errorf("envelope: marshal %s: %w", et.MessageName(), err)
	}

	e := cloudevents.NewEvent()
	e.SetID(o.id)
	e.SetSource(source)
	e.SetType(et.Type)
	if s := et.Subject(msg); s != "" {
		e.SetSubject(s)
	}
	e.SetTime(o.at)
	e.SetDataSchema(et.DataSchema())
	e.SetExtension(PartitionKeyExtension, key)
	if err := e.SetData(ct, data); err != nil {
		return cloudevents.Event{}, fmt.Errorf("envelope: set data: %w", err)
	}
	if err := e.Validate(); err != nil {
		return cloudevents.Event{}, fmt.Errorf("envelope: %s: %w", et.Type, err)
	}
	return e, nil
}

// Decoded is an event read by Codec.Decode.
type Decoded struct {
	// Event is the CloudEvent as received.
	Event cloudevents.Event
	// Type is the catalogue entry the event was recognised as.
	Type catalog.EventType
	// Message is the event's data, a new message of Type's kind.
	Message proto.Message
}

// ErrUnknownType means no catalogue event fits the CloudEvent.
var ErrUnknownType = errors.New("unknown event type")

// ErrUndecodable means the event is of a known type (or a plain record) but
// its data cannot be read as the message of that type.
var ErrUndecodable = errors.New("undecodable event data")

// ErrForeignSource means the event names a source that does not produce
// it: every event type comes from one service (its catalogue producer), and
// an event claiming that type from anywhere else is refused.
var ErrForeignSource = errors.New("event from a source that does not produce it")

// ErrPlainRefused means a plain record reached a consumer that does not
// take plain records from its topic (catalog.Topic.PlainRecordsFor).
var ErrPlainRefused = errors.New("plain record refused")

// DecodeError is why an event cannot be handled. It matches its Kind
// (ErrUnknownType, ErrUndecodable, ErrForeignSource or ErrPlainRefused)
// with errors.Is.
type DecodeError struct {
	// Kind is ErrUnknownType, ErrUndecodable, ErrForeignSource or
	// ErrPlainRefused.
	Kind error
	// ID, Source and Type identify the event, when known.
	ID, Source, Type string
	// Reason says what is wrong, for the dead-letter sink and the logs.
	Reason string
	// Err is the underlying parse error, if any.
	Err error
}

func (e *DecodeError) Error() string {
	var b strings.Builder
	b.WriteString("envelope: ")
	if e.Kind != nil {
		b.WriteString(e.Kind.Error())
	} else {
		b.WriteString("cannot decode event")
	}
	if e.Type != "" || e.ID != "" {
		fmt.Fprintf(&b, " (type %q, id %q, source %q)", e.Type, e.ID, e.Source)
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap exposes both the kind and the cause to errors.Is and errors.As.
func (e *DecodeError) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Reason returns the reason of the *DecodeError in err's chain, or err's
// text when there is none; "" for nil.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	var de *DecodeError
	if errors.As(err, &de) {
		if de.Err != nil {
			return de.Reason + ": " + de.Err.Error()
		}
		return de.Reason
	}
	return err.Error()
}

func newMessage(et catalog.EventType) proto.Message {
	return et.Message.ProtoReflect().New().Interface()
}

// keyFieldSet reports whether m's partition key field holds a value.
func keyFieldSet(et catalog.EventType, m proto.Message) bool {
	return et.Key(m) != ""
}

// DedupeKey is what a consumer remembers to recognise an event it already
// handled: the CloudEvents (source, id) pair. A plain record that
// KafkaSource wrapped has an id made of its partition and offset, which a
// topic that is deleted and created again hands out a second time; its
// record time is added so such a new event is not taken for an old one,
// while a redelivery of the same record still matches.
func DedupeKey(e cloudevents.Event) (source, id string) {
	if e.Type() == KafkaEventType && !e.Time().IsZero() {
		return e.Source(), e.ID() + "@" + strconv.FormatInt(e.Time().UnixNano(), 10)
	}
	return e.Source(), e.ID()
}

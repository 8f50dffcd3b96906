package kafka

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/IBM/sarama"
	kafkasarama "github.com/cloudevents/sdk-go/protocol/kafka_sarama/v2"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
)

// Header names of the Kafka protocol binding of CloudEvents.
const (
	headerPrefix      = "ce_"
	contentTypeHeader = "content-type"
)

// Header keys are shared by every record: Sarama only reads them.
var (
	hSpecVersion     = []byte("ce_specversion")
	hID              = []byte("ce_id")
	hSource          = []byte("ce_source")
	hType            = []byte("ce_type")
	hDataContentType = []byte(contentTypeHeader)
	hDataSchema      = []byte("ce_dataschema")
	hSubject         = []byte("ce_subject")
	hTime            = []byte("ce_time")
	hPartitionKey    = []byte("ce_partitionkey")
	vSpecVersion     = []byte(event.CloudEventsVersionV1)
)

// appendHeaders appends e's attributes as the headers the sdk's
// kafka_sarama binding (WriteProducerMessage in binary mode) writes: the
// same names, the same canonical string forms, the same attributes left out
// when unset. It reads the v1 context directly instead of going through
// binding.Write, whose per-attribute reflection and io.Reader copies cost
// more than the rest of a publish, and takes the header values from a
// per-Send arena rather than allocating each one;
// TestSendWritesBinaryRecords holds the two to the same output.
func appendHeaders(h []sarama.RecordHeader, a *arena, ec *event.EventContextV1) ([]sarama.RecordHeader, error) {
	h = append(h,
		sarama.RecordHeader{Key: hSpecVersion, Value: vSpecVersion},
		sarama.RecordHeader{Key: hID, Value: a.str(ec.ID)},
		sarama.RecordHeader{Key: hSource, Value: a.uri(&ec.Source.URL)},
		sarama.RecordHeader{Key: hType, Value: a.str(ec.Type)},
	)
	if ec.DataContentType != nil {
		h = append(h, sarama.RecordHeader{Key: hDataContentType, Value: a.str(*ec.DataContentType)})
	}
	if ec.DataSchema != nil {
		h = append(h, sarama.RecordHeader{Key: hDataSchema, Value: a.uri(&ec.DataSchema.URL)})
	}
	if ec.Subject != nil {
		h = append(h, sarama.RecordHeader{Key: hSubject, Value: a.str(*ec.Subject)})
	}
	if ec.Time != nil {
		h = append(h, sarama.RecordHeader{Key: hTime, Value: a.time(ec.Time.Time)})
	}
	for name, v := range ec.Extensions {
		if v == nil {
			continue
		}
		var value []byte
		if s, ok := v.(string); ok {
			value = a.str(s)
		} else {
			s, err := types.Format(v)
			if err != nil {
				return nil, fmt.Errorf("extension %s: %w", name, err)
			}
			value = a.str(s)
		}
		key := hPartitionKey
		if name != partitionKeyExtension {
			key = []byte(headerPrefix + name)
		}
		h = append(h, sarama.RecordHeader{Key: key, Value: value})
	}
	return h, nil
}

// arena hands out the byte slices of one Send's header values from a few
// large blocks: one allocation per block instead of one per value keeps the
// garbage collector out of the publish path. Slices are capped so that
// nothing appends into a neighbour.
type arena struct {
	buf   []byte
	block int // size of the next block; sized to the Send, at most arenaBlock
}

const (
	arenaBlock = 32 << 10
	// recordHeaderBytes is about what one record's header values take (id,
	// source, type, time, schema, key...): a one-record Send then allocates
	// a few hundred bytes, not a whole block.
	recordHeaderBytes = 320
)

func newArena(records int) arena {
	return arena{block: min(max(records, 1)*recordHeaderBytes, arenaBlock)}
}

func (a *arena) grow(n int) {
	if a.block == 0 {
		a.block = arenaBlock
	}
	a.buf = make([]byte, 0, max(n, a.block))
}

func (a *arena) alloc(n int) []byte {
	if cap(a.buf)-len(a.buf) < n {
		a.grow(n)
	}
	start := len(a.buf)
	a.buf = a.buf[:start+n]
	return a.buf[start : start+n : start+n]
}

func (a *arena) str(s string) []byte {
	b := a.alloc(len(s))
	copy(b, s)
	return b
}

func (a *arena) time(t time.Time) []byte {
	const width = len("2006-01-02T15:04:05.999999999Z07:00")
	if cap(a.buf)-len(a.buf) < width {
		a.grow(width)
	}
	start := len(a.buf)
	a.buf = t.UTC().AppendFormat(a.buf, time.RFC3339Nano)
	return a.buf[start:len(a.buf):len(a.buf)]
}

// uri writes u as url.URL.String does. The common shapes of Nova's
// sources and dataschemas ("/nova/content-service",
// "https://type.googleapis.com/nova.events.v1.PostCreated") need no
// escaping and are copied directly; anything else goes through String.
func (a *arena) uri(u *url.URL) []byte {
	if u.Opaque == "" && u.User == nil && u.RawPath == "" && u.RawQuery == "" && u.Fragment == "" &&
		!u.ForceQuery && !u.OmitHost && plainURIPart(u.Host) && plainURIPart(u.Path) && plainURIPart(u.Scheme) &&
		(u.Host == "" || strings.HasPrefix(u.Path, "/") || u.Path == "") &&
		(u.Scheme != "" || u.Host != "" || strings.HasPrefix(u.Path, "/")) &&
		(u.Scheme == "" || u.Host != "") {
		n := len(u.Path)
		if u.Scheme != "" {
			n += len(u.Scheme) + 1
		}
		if u.Host != "" || u.Scheme != "" {
			n += 2 + len(u.Host)
		}
		b := a.alloc(n)[:0]
		if u.Scheme != "" {
			b = append(append(b, u.Scheme...), ':')
		}
		if u.Host != "" || u.Scheme != "" {
			b = append(append(b, "//"...), u.Host...)
		}
		return append(b, u.Path...)
	}
	return a.str(u.String())
}

// plainURIPart reports whether s is made only of characters that url.URL
// never escapes in any component.
func plainURIPart(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '/':
		default:
			return false
		}
	}
	return true
}

// contextV1 returns e's context as CloudEvents 1.0, converting older ones.
func contextV1(e *cloudevents.Event) (*event.EventContextV1, error) {
	if e.Context == nil {
		return nil, errors.New("event has no context")
	}
	if ec, ok := e.Context.(*event.EventContextV1); ok {
		return ec, nil
	}
	ec := e.Context.AsV1()
	if ec == nil {
		return nil, fmt.Errorf("cannot convert a CloudEvents %s context to 1.0", e.SpecVersion())
	}
	return ec, nil
}

// eventKey is the partitionkey extension of e, or "".
func eventKey(ec *event.EventContextV1) (string, error) {
	v, ok := ec.Extensions[partitionKeyExtension]
	if !ok || v == nil {
		return "", nil
	}
	s, err := types.ToString(v)
	if err != nil {
		return "", fmt.Errorf("partitionkey: %w", err)
	}
	return s, nil
}

const partitionKeyExtension = "partitionkey"

// encoder writes the records of one Send, sharing its allocations.
type encoder struct {
	enc     Encoding
	arena   arena
	headers []sarama.RecordHeader
}

func newEncoder(enc Encoding, records int) *encoder {
	return &encoder{enc: enc, arena: newArena(records), headers: make([]sarama.RecordHeader, 0, 9*records)}
}

// fill writes rec into msg and returns the record's key (rec.Key, or the
// event's partitionkey when that is empty). rec is not modified: it is the
// caller's.
func (w *encoder) fill(ctx context.Context, rec *Record, msg *sarama.ProducerMessage) (string, error) {
	key := rec.Key
	if rec.Topic == "" {
		return key, errors.New("record has no topic")
	}
	ec, err := contextV1(&rec.Event)
	if err != nil {
		return key, err
	}
	// The attributes every reader needs; the sdk would only notice their
	// absence on the consuming side.
	if ec.ID == "" || ec.Type == "" || (ec.Source.Path == "" && ec.Source.Host == "" && ec.Source.Opaque == "") {
		return key, errors.New("event lacks id, source or type")
	}
	pk, err := eventKey(ec)
	if err != nil {
		return key, err
	}
	switch {
	case key == "" && pk == "" && !rec.KeyOptional:
		return key, errors.New("record has neither a key nor a partitionkey extension")
	case key == "" && pk == "":
		// Left nil: the partitioner then picks a random partition.
	case key == "":
		key = pk
	case pk != "" && pk != key:
		return key, fmt.Errorf("record key %q differs from the event's partitionkey %q", key, pk)
	}
	msg.Topic = rec.Topic
	if w.enc == Structured {
		if err := kafkasarama.WriteProducerMessage(binding.WithForceStructured(ctx), binding.ToMessage(&rec.Event), msg); err != nil {
			return key, fmt.Errorf("write structured record: %w", err)
		}
		msg.Key = recordKey(key)
		if rec.Trace.IsValid() {
			// Beside the content-type header the binding wrote.
			msg.Headers = appendTrace(msg.Headers, &w.arena, rec.Trace)
		}
		return key, nil
	}
	msg.Key = recordKey(key)
	from := len(w.headers)
	h, err := appendHeaders(w.headers, &w.arena, ec)
	if err != nil {
		return key, err
	}
	h = appendTrace(h, &w.arena, rec.Trace)
	w.headers = h
	// Cap the record's headers so Sarama can never append into the next
	// record's.
	msg.Headers = h[from:len(h):len(h)]
	if data := rec.Event.Data(); len(data) > 0 {
		msg.Value = sarama.ByteEncoder(data)
	}
	return key, nil
}

// recordKey is the record key for key; "" (allowed only with KeyOptional)
// is no key at all, not an empty one.
func recordKey(key string) sarama.Encoder {
	if key == "" {
		return nil
	}
	return sarama.StringEncoder(key)
}

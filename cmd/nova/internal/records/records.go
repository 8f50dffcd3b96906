// Package records reads the records of Nova's topics as a KafkaSource
// would deliver them and decodes each into its typed message, for the
// tools that show events to a person: nova tail and the console.
package records

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
)

// Source is the KafkaSource name plain records are wrapped under, as a
// source named nova-tail in namespace nova would wrap them.
var Source = kafka.SourceRef{Namespace: "nova", Name: "nova-tail"}

// Line is one record as tail prints it.
type Line struct {
	Topic       string     `json:"topic"`
	Partition   int32      `json:"partition"`
	Offset      int64      `json:"offset"`
	Key         string     `json:"key,omitempty"`
	ID          string     `json:"id,omitempty"`
	Type        string     `json:"type,omitempty"`
	Source      string     `json:"source,omitempty"`
	Subject     string     `json:"subject,omitempty"`
	Time        *time.Time `json:"time,omitempty"`
	ContentType string     `json:"datacontenttype,omitempty"`
	// Extensions are the event's CloudEvents extensions (partitionkey,
	// traceparent, …) as text.
	Extensions map[string]string `json:"extensions,omitempty"`
	Data       json.RawMessage   `json:"data,omitempty"`
	// Error says why the record is not a Nova event; Raw is then its value.
	Error string `json:"error,omitempty"`
	Raw   string `json:"raw,omitempty"`
	// Timestamp is the record's own time, by which Latest orders records
	// of different partitions.
	Timestamp time.Time `json:"-"`
}

// DataJSON is how a decoded message is shown: protojson with the proto
// field names, as the schemas and docs/events.md spell them.
var DataJSON = protojson.MarshalOptions{UseProtoNames: true}

// Describe reads a record as a KafkaSource would deliver it and decodes it
// into its typed message.
func Describe(codec *envelope.Codec, msg *sarama.ConsumerMessage) Line {
	l := Line{Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset, Key: string(msg.Key), Timestamp: msg.Timestamp}
	e, err := kafka.EventFromRecord(msg, Source)
	if err != nil {
		l.Error, l.Raw = envelope.Reason(err), string(msg.Value)
		return l
	}
	l.ID, l.Type, l.Source, l.Subject, l.ContentType = e.ID(), e.Type(), e.Source(), e.Subject(), e.DataContentType()
	if t := e.Time(); !t.IsZero() {
		l.Time = &t
	}
	if ext := e.Extensions(); len(ext) > 0 {
		l.Extensions = make(map[string]string, len(ext))
		for k, v := range ext {
			l.Extensions[k] = fmt.Sprint(v)
		}
	}
	d, err := codec.Decode(e)
	if err != nil {
		l.Error, l.Raw = envelope.Reason(err), string(e.Data())
		return l
	}
	if l.Type == envelope.KafkaEventType {
		// A plain record the codec understood: show what it holds.
		l.Type = d.Type.Type + " (plain record)"
	}
	if b, err := DataJSON.Marshal(d.Message); err == nil {
		l.Data = b
	}
	return l
}

// Message gives a franz-go record the shape EventFromRecord reads.
func Message(r *kgo.Record) *sarama.ConsumerMessage {
	m := &sarama.ConsumerMessage{
		Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
		Key: r.Key, Value: r.Value, Timestamp: r.Timestamp,
	}
	for _, h := range r.Headers {
		m.Headers = append(m.Headers, &sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
	}
	return m
}

// newestFirst orders lines of several partitions by the records' time,
// newest first. A record's timestamp has milliseconds only, so records of
// different partitions written within one are ordered by their events'
// own time (finer) when both have one; offsets order records of one
// partition.
func newestFirst(lines []Line) {
	sort.SliceStable(lines, func(i, j int) bool {
		a, b := lines[i], lines[j]
		if !a.Timestamp.Equal(b.Timestamp) {
			return a.Timestamp.After(b.Timestamp)
		}
		if a.Partition == b.Partition {
			return a.Offset > b.Offset
		}
		if a.Time != nil && b.Time != nil && !a.Time.Equal(*b.Time) {
			return a.Time.After(*b.Time)
		}
		return a.Partition < b.Partition
	})
}

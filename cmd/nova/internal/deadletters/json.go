package deadletters

import (
	"encoding/base64"
	"encoding/json"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nova-social/nova/cmd/nova/internal/records"
	"github.com/nova-social/nova/functions/dead-letter/store"
	"github.com/nova-social/nova/shared/event/envelope"
)

// JSON is one entry as nova dead-letters --json prints it: the reason
// whole, and the stored record value decoded.
type JSON struct {
	// Record is where the failed record was read (topic/partition/offset),
	// the same for every consumer that failed it; empty when unknown.
	Record string `json:"record,omitempty"`
	// Consumer is who failed it: a function's name where one is known
	// (Names.Consumer), else the address delivery failed to (ErrorDest).
	Consumer   string     `json:"consumer"`
	Source     string     `json:"source"`
	ID         string     `json:"id"`
	Type       string     `json:"type"`
	Subject    string     `json:"subject,omitempty"`
	Time       *time.Time `json:"time,omitempty"`
	Topic      string     `json:"topic,omitempty"`
	Partition  *int32     `json:"partition,omitempty"`
	Offset     *int64     `json:"offset,omitempty"`
	Key        string     `json:"key,omitempty"`
	ErrorDest  string     `json:"error_dest,omitempty"`
	ErrorCode  int        `json:"error_code,omitempty"`
	Reason     string     `json:"reason"`
	ReceivedAt time.Time  `json:"received_at"`
	ReplayedAt *time.Time `json:"replayed_at,omitempty"`
	// ContentType is the event's datacontenttype.
	ContentType string `json:"datacontenttype,omitempty"`
	// Value is the record's value: a JSON value when it is JSON, a string
	// when it is text, base64 when it is binary; ValueEncoding says which
	// ("json", "text", "base64", or "none" for no value).
	Value         any    `json:"value,omitempty"`
	ValueEncoding string `json:"value_encoding"`
	// Message is a binary value read as its catalogue message, when it is
	// one (protobuf), in protojson.
	Message json.RawMessage `json:"message,omitempty"`
}

// AsJSON is e as --json prints it, its consumer named by names.
func AsJSON(codec *envelope.Codec, names Names, e store.Entry) JSON {
	j := JSON{
		Consumer: names.Consumer(e), Source: e.Source, ID: e.ID, Type: e.Type, Subject: e.Subject,
		Topic: e.Topic, Partition: e.Partition, Offset: e.Offset,
		ErrorDest: e.ErrorDest, ErrorCode: e.ErrorCode, Reason: e.ErrorData,
		ReceivedAt: e.ReceivedAt, ReplayedAt: e.ReplayedAt, ContentType: e.Event.DataContentType(),
	}
	if e.Topic != "" && e.Partition != nil && e.Offset != nil {
		j.Record = RecordOf(e)
	}
	if !e.EventTime.IsZero() {
		t := e.EventTime
		j.Time = &t
	}
	if k := Key(e); k != "-" {
		j.Key = k
	}
	data := e.Event.Data()
	switch {
	case len(data) == 0:
		j.ValueEncoding = "none"
	case json.Valid(data):
		j.Value, j.ValueEncoding = json.RawMessage(data), "json"
	case isText(data):
		j.Value, j.ValueEncoding = string(data), "text"
	default:
		j.Value, j.ValueEncoding = base64.StdEncoding.EncodeToString(data), "base64"
		if d, err := codec.Decode(Replayable(e.Event)); err == nil {
			if b, err := records.DataJSON.Marshal(d.Message); err == nil {
				j.Message = b
			}
		}
	}
	return j
}

// isText reports whether b reads as text: UTF-8 without control
// characters other than white space.
func isText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return false
		}
	}
	return true
}

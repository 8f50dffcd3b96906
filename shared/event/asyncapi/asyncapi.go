// Package asyncapi writes Nova's event documents from the catalogue and the
// schema: an AsyncAPI 3.1 document of the ten topics and every event type
// (schemas/asyncapi.json) and a readable catalogue of the same
// (docs/events.md). Both are generated, never edited: `make asyncapi`
// rewrites them and `go test ./shared/event/asyncapi` fails while they are
// stale, so they say what the code does.
//
// Payload schemas are the protojson form of each message, read from its
// descriptor; the contract's field rules (schemas/nova/events/v1/rules.proto)
// become JSON Schema keywords (required, format uuid, pattern, enum,
// maxLength, minimum), so a validator in any language refuses what Nova's
// consumers refuse. Descriptions are the .proto files' comments.
package asyncapi

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
)

// uuidPattern is the canonical lowercase UUID every Nova id is (shared/id).
const uuidPattern = `^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`

// Comments are the leading comments of the schema's messages and fields,
// by full name ("nova.events.v1.PostCreated", "nova.events.v1.PostCreated.post_id").
type Comments map[string]string

// Document is the AsyncAPI 3.0 document of cat, as indented JSON.
func Document(cat *catalog.Catalog, comments Comments) ([]byte, error) {
	codec := envelope.NewCodec(cat)
	d := doc{
		AsyncAPI: "3.1.0",
		ID:       "urn:nova-social:nova:events",
		Info: info{
			Title:   "Nova events",
			Version: "1.0.0",
			Description: "The events Nova's services and functions exchange over Kafka, as CloudEvents 1.0 in " +
				"binary mode: the attributes are `ce_`-prefixed record headers, the data is the record value " +
				"(protobuf by default, `application/json` accepted), the key is the event's `partitionkey`. " +
				"Every event type has one topic, one producing service (its CloudEvents `source`) and a " +
				"contract: a consumer refuses an event that breaks it with the same reason everywhere " +
				"(dead-lettered, never retried). Fields this version does not know are ignored. " +
				"Generated from the catalogue (shared/event/catalog) and the schema (schemas/nova/events/v1).",
			License: &license{Name: "Apache-2.0"},
		},
		DefaultContentType: envelope.ContentTypeProtobuf,
		Servers: map[string]server{
			"cluster": {
				Host:     "nova-kafka-kafka-bootstrap.kafka:9093",
				Protocol: "kafka-secure",
				Description: "The cluster's Strimzi Kafka: TLS with the cluster CA and SCRAM-SHA-512 logins " +
					"(a KafkaUser per function, eventing/users/, with exactly the ACLs it needs).",
				Security: []ref{{Ref: "#/components/securitySchemes/scram"}},
			},
			"local": {
				Host:     "127.0.0.1:9092",
				Protocol: "kafka-secure",
				Description: "The broker `nova run` embeds, with the same TLS, logins and ACLs; " +
					"its address and a superuser login are in .nova/env (nova env).",
				Security: []ref{{Ref: "#/components/securitySchemes/scram"}},
			},
		},
		Channels:   map[string]channel{},
		Operations: map[string]operation{},
		Components: components{
			Messages: map[string]message{},
			Schemas:  map[string]*schema{},
			SecuritySchemes: map[string]securityScheme{
				"scram": {Type: "scramSha512", Description: "SASL SCRAM-SHA-512 over TLS."},
			},
		},
	}

	schemas := map[protoreflect.FullName]bool{}
	var addSchema func(md protoreflect.MessageDescriptor)
	addSchema = func(md protoreflect.MessageDescriptor) {
		if schemas[md.FullName()] {
			return
		}
		schemas[md.FullName()] = true
		d.Components.Schemas[string(md.Name())] = messageSchema(md, comments, addSchema)
	}

	for _, t := range cat.Topics() {
		ch := channel{
			Address:     t.Name,
			Title:       t.Name,
			Description: topicDescription(cat, t),
			Messages:    map[string]ref{},
			Bindings: &channelBindings{Kafka: kafkaChannel{
				Topic: t.Name, Partitions: int(t.Partitions), Replicas: int(t.Replication), BindingVersion: "0.5.0",
			}},
		}
		var sent []ref
		receivers := map[string][]ref{}
		for _, et := range cat.Events() {
			if et.Topic != t.Name {
				continue
			}
			md := et.Message.ProtoReflect().Descriptor()
			addSchema(md)
			name := string(md.Name())
			m, err := eventMessage(codec, et, comments)
			if err != nil {
				return nil, err
			}
			d.Components.Messages[name] = m
			ch.Messages[name] = ref{Ref: "#/components/messages/" + name}
			r := ref{Ref: "#/channels/" + t.Name + "/messages/" + name}
			sent = append(sent, r)
			for _, c := range et.Consumers {
				receivers[c] = append(receivers[c], r)
			}
		}
		d.Channels[t.Name] = ch
		if len(sent) > 0 {
			d.Operations["write-"+t.Name] = operation{
				Action:   "send",
				Channel:  ref{Ref: "#/channels/" + t.Name},
				Title:    "Write " + t.Name,
				Summary:  "Written by " + strings.Join(t.Writers, ", ") + " (each through its outbox relay or emitter).",
				Messages: sent,
			}
		}
		consumers := make([]string, 0, len(receivers))
		for c := range receivers {
			consumers = append(consumers, c)
		}
		slices.Sort(consumers)
		for _, c := range consumers {
			d.Operations[c+"-reads-"+t.Name] = operation{
				Action:   "receive",
				Channel:  ref{Ref: "#/channels/" + t.Name},
				Title:    c + " reads " + t.Name,
				Summary:  "The " + c + " function's KafkaSource delivers every record of " + t.Name + " to it; it acts on these events and acknowledges the rest.",
				Messages: receivers[c],
			}
		}
	}
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("asyncapi: %w", err)
	}
	return append(out, '\n'), nil
}

func topicDescription(cat *catalog.Catalog, t catalog.Topic) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s. %d partitions.", t.Name, capitalise(t.Purpose), t.Partitions)
	if len(t.Writers) > 0 {
		fmt.Fprintf(&b, " Writers: %s.", strings.Join(t.Writers, ", "))
	}
	if len(t.PlainRecordsFor) > 0 {
		fmt.Fprintf(&b, " Plain JSON records (not CloudEvents) are taken by %s only, as KafkaSource wraps them (dev.knative.kafka.event): "+
			"a \"type\" field names the event, or the fields tell it.", strings.Join(t.PlainRecordsFor, ", "))
	}
	return b.String()
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// eventMessage is the AsyncAPI message of one event type: its CloudEvents
// headers, key, payload and an example that keeps the contract.
func eventMessage(codec *envelope.Codec, et catalog.EventType, comments Comments) (message, error) {
	md := et.Message.ProtoReflect().Descriptor()
	name := string(md.Name())
	example, err := Example(codec, et)
	if err != nil {
		return message{}, err
	}
	payload, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(example)
	if err != nil {
		return message{}, fmt.Errorf("asyncapi: example %s: %w", name, err)
	}
	e, err := codec.New(example, envelope.WithID("0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b"), envelope.WithTime(exampleTime))
	if err != nil {
		return message{}, fmt.Errorf("asyncapi: example %s: %w", name, err)
	}
	key := et.Key(example)
	headers := map[string]any{
		"ce_specversion":  "1.0",
		"ce_id":           e.ID(),
		"ce_source":       e.Source(),
		"ce_type":         e.Type(),
		"ce_time":         e.Time().UTC().Format(time.RFC3339Nano),
		"ce_dataschema":   e.DataSchema(),
		"ce_partitionkey": key,
		"content-type":    envelope.ContentTypeProtobuf,
	}
	if s := e.Subject(); s != "" {
		headers["ce_subject"] = s
	}
	var payloadObj map[string]any
	if err := json.Unmarshal(payload, &payloadObj); err != nil {
		return message{}, err
	}
	desc := comments[string(md.FullName())]
	return message{
		Name:    name,
		Title:   et.Type,
		Summary: firstSentence(desc),
		Description: desc + fmt.Sprintf("\n\nCloudEvents type `%s`, source `%s`, key and partitionkey the `%s` field, subject the `%s` field. "+
			"Data: protobuf `%s` (`application/protobuf`), or its JSON form (`application/json`) described by the payload schema.",
			et.Type, et.Source(), et.KeyField, et.SubjectField, md.FullName()),
		ContentType: envelope.ContentTypeProtobuf,
		Headers:     headerSchema(et),
		Payload:     &schema{Ref: "#/components/schemas/" + name},
		Bindings: &messageBindings{Kafka: kafkaMessage{
			Key:            &schema{Type: "string", Format: "uuid", Pattern: uuidPattern, Description: "The event's " + string(et.KeyField) + "."},
			BindingVersion: "0.5.0",
		}},
		Examples: []messageExample{{Name: "example", Headers: headers, Payload: payloadObj}},
		ExternalDocs: &externalDocs{
			Description: "The protobuf message " + string(md.FullName()),
			URL:         "https://github.com/nova-social/nova/blob/main/schemas/nova/events/v1/" + md.ParentFile().Path()[len("nova/events/v1/"):],
		},
	}, nil
}

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

// headerSchema describes the binary-mode CloudEvents headers of et.
func headerSchema(et catalog.EventType) *schema {
	str := func(desc string) *schema { return &schema{Type: "string", Description: desc} }
	constant := func(v, desc string) *schema { return &schema{Type: "string", Const: v, Description: desc} }
	return &schema{
		Type: "object",
		Properties: map[string]*schema{
			"ce_specversion":  constant("1.0", "CloudEvents version."),
			"ce_id":           str("Unique per source; consumers deduplicate on (source, id). Nova's producers write UUIDv7s."),
			"ce_source":       constant(et.Source(), "The producing service: this type from any other source is refused."),
			"ce_type":         constant(et.Type, "The event type."),
			"ce_subject":      str("The event's " + string(et.SubjectField) + "."),
			"ce_time":         {Type: "string", Format: "date-time", Description: "When the event happened; stands in for the data's event time when that is left out."},
			"ce_dataschema":   constant(et.DataSchema(), "Optional; when present it must name this message."),
			"ce_partitionkey": {Type: "string", Format: "uuid", Pattern: uuidPattern, Description: "Optional; when present it must equal the " + string(et.KeyField) + " field (and is the record key)."},
			"content-type":    {Type: "string", Enum: []any{envelope.ContentTypeProtobuf, envelope.ContentTypeJSON}, Description: "The data's encoding; absent means JSON."},
		},
		Required:             []string{"ce_specversion", "ce_id", "ce_source", "ce_type"},
		AdditionalProperties: true,
	}
}

// messageSchema is the JSON Schema of md's protojson form.
func messageSchema(md protoreflect.MessageDescriptor, comments Comments, addSchema func(protoreflect.MessageDescriptor)) *schema {
	s := &schema{
		Type:                 "object",
		Title:                string(md.FullName()),
		Description:          comments[string(md.FullName())],
		Properties:           map[string]*schema{},
		AdditionalProperties: true, // fields of a newer version are ignored
	}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		r := envelope.Rules(fd)
		fs := valueSchema(fd, addSchema)
		if fd.IsList() {
			fs = &schema{Type: "array", Items: fs}
			if r.GetRequired() {
				fs.MinItems = ptr(1)
			}
		}
		desc := comments[string(fd.FullName())]
		if r.GetEventTime() {
			desc = strings.TrimSpace(desc + " When the event happened; left out, the CloudEvent's time stands for it.")
		}
		if fs.Ref != "" {
			// A $ref's siblings are ignored by JSON Schema draft 7.
			fs = &schema{AllOf: []*schema{fs}}
		}
		fs.Description = desc
		s.Properties[string(fd.Name())] = fs
		if r.GetRequired() && !r.GetEventTime() {
			s.Required = append(s.Required, string(fd.Name()))
		}
	}
	return s
}

func valueSchema(fd protoreflect.FieldDescriptor, addSchema func(protoreflect.MessageDescriptor)) *schema {
	rules := envelope.Rules(fd)
	switch fd.Kind() {
	case protoreflect.StringKind:
		s := &schema{Type: "string"}
		if envelope.IDKind(rules) != "" {
			s.Format, s.Pattern = "uuid", uuidPattern
			s.Description = "A " + envelope.IDKind(rules) + " id."
		}
		if rules.GetRequired() {
			s.MinLength = ptr(1)
		}
		if n := rules.GetMaxLength(); n > 0 {
			s.MaxLength = ptr(int(n))
		}
		return s
	case protoreflect.BoolKind:
		return &schema{Type: "boolean"}
	case protoreflect.BytesKind:
		return &schema{Type: "string", ContentEncoding: "base64"}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return &schema{Type: "number"}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		s := &schema{Type: "integer"}
		if rules != nil && rules.Min != nil {
			s.Minimum = ptr(int(rules.GetMin()))
		}
		return s
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		// protojson writes 64-bit integers as strings and reads either.
		s := &schema{OneOf: []*schema{{Type: "string", Pattern: `^-?[0-9]+$`}, {Type: "integer"}}}
		if rules != nil && rules.Min != nil {
			s.OneOf[1].Minimum = ptr(int(rules.GetMin()))
		}
		return s
	case protoreflect.EnumKind:
		values := fd.Enum().Values()
		var names []any
		for i := range values.Len() {
			v := values.Get(i)
			if v.Number() == 0 && rules.GetRequired() {
				continue
			}
			names = append(names, string(v.Name()))
		}
		return &schema{Type: "string", Enum: names,
			Description: fmt.Sprintf("%s; the short form without the %q prefix is accepted too.", fd.Enum().Name(), envelope.EnumPrefix(fd.Enum()))}
	case protoreflect.MessageKind:
		switch fd.Message().FullName() {
		case "google.protobuf.Timestamp":
			return &schema{Type: "string", Format: "date-time"}
		case "google.protobuf.Duration":
			return &schema{Type: "string", Pattern: `^-?[0-9]+(\.[0-9]+)?s$`}
		}
		addSchema(fd.Message())
		return &schema{Ref: "#/components/schemas/" + string(fd.Message().Name())}
	}
	return &schema{}
}

func ptr[T any](v T) *T { return &v }

// exampleTime is the time of every example.
var exampleTime = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// Example is a message of et's type with believable values that keeps its
// contract: the example of the documents.
func Example(codec *envelope.Codec, et catalog.EventType) (proto.Message, error) {
	m := et.Message.ProtoReflect().New()
	fillExample(m, 0)
	msg := m.Interface()
	if err := codec.Check(msg); err != nil {
		return nil, fmt.Errorf("asyncapi: the example of %s breaks its contract: %w", et.Type, err)
	}
	return msg, nil
}

// exampleIDs are the ids examples use, by kind: one user, one post, … so
// that examples of different events tell one story.
var exampleIDs = map[string]string{
	"user":         "0193a1b2-0001-7000-8000-00000000a11c",
	"post":         "0193a1b2-0002-7000-8000-0000000b0571",
	"media":        "0193a1b2-0003-7000-8000-00000000ed1a",
	"conversation": "0193a1b2-0004-7000-8000-0000000c0a7e",
	"message":      "0193a1b2-0005-7000-8000-00000000be55",
	"notification": "0193a1b2-0006-7000-8000-00000000a1e7",
	"entity":       "0193a1b2-0007-7000-8000-00000000e717",
}

// exampleStrings are believable values for string fields without an id rule.
var exampleStrings = map[string]string{
	"content":           "First light over the harbour #sunrise",
	"comment_text":      "What a view!",
	"username":          "ada",
	"display_name":      "Ada Lovelace",
	"email":             "ada@example.com",
	"avatar_url":        "https://media.example.com/avatars/ada.jpg",
	"url":               "https://media.example.com/m/0193a1b2-0003-7000-8000-00000000ed1a.jpg",
	"thumbnail_url":     "https://media.example.com/m/0193a1b2-0003-7000-8000-00000000ed1a.thumb.jpg",
	"mime_type":         "image/jpeg",
	"text":              "ada liked your post",
	"role":              "moderator",
	"previous_role":     "user",
	"changed_by":        "ops@example.com",
	"decided_by":        "auto",
	"code":              "link_spam",
	"detail":            "3 links to one domain",
	"hidden_reason":     "link_spam",
	"client_message_id": "c-42",
	"gateway_id":        "realtime-gateway-7d9f",
	"tags":              "sunrise",
}

func fillExample(m protoreflect.Message, depth int) {
	if m.Descriptor().FullName() == "google.protobuf.Timestamp" {
		proto.Merge(m.Interface(), timestamppb.New(exampleTime))
		return
	}
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		switch {
		case fd.IsMap():
			continue
		case fd.IsList():
			l := m.Mutable(fd).List()
			if fd.Kind() == protoreflect.MessageKind {
				v := l.NewElement()
				fillExample(v.Message(), depth+1)
				l.Append(v)
			} else {
				l.Append(exampleScalar(fd))
			}
		case fd.Kind() == protoreflect.MessageKind:
			if depth < 3 {
				fillExample(m.Mutable(fd).Message(), depth+1)
			}
		default:
			m.Set(fd, exampleScalar(fd))
		}
	}
}

func exampleScalar(fd protoreflect.FieldDescriptor) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.StringKind:
		if kind := envelope.IDKind(envelope.Rules(fd)); kind != "" {
			return protoreflect.ValueOfString(exampleIDs[kind])
		}
		if s, ok := exampleStrings[string(fd.Name())]; ok {
			return protoreflect.ValueOfString(s)
		}
		return protoreflect.ValueOfString(string(fd.Name()))
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(false)
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(fd.Enum().Values().Get(1).Number())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(exampleNumber(fd))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(int64(exampleNumber(fd)))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(exampleNumber(fd)))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(exampleNumber(fd)))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(0.5)
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(0.8125)
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte("nova"))
	}
	return protoreflect.Value{}
}

var exampleNumbers = map[string]int32{
	"width": 1280, "height": 720, "size_bytes": 245760, "duration_seconds": 12,
	"sequence": 7, "count": 3, "feeds_written": 1000, "views": 120, "likes": 14, "comments": 3, "shares": 2,
}

func exampleNumber(fd protoreflect.FieldDescriptor) int32 {
	if n, ok := exampleNumbers[string(fd.Name())]; ok {
		return n
	}
	return 1
}

// Package envelope turns Nova's protobuf event messages into CloudEvents and
// back.
//
// # Writing
//
// Codec.New wraps a message of the catalogue in a CloudEvent carrying every
// attribute of Nova's event contract: a fresh UUIDv7 id, source
// "/nova/<producer>", the catalogue's type, the entity id as subject, the
// time, datacontenttype "application/protobuf", the message's type URL as
// dataschema (as an absolute URI, see catalog.EventType.DataSchema) and the Kafka key as the partitionkey extension.
//
// # Reading
//
// Codec.Decode accepts what a Knative source may deliver:
//
//   - a Nova event (binary or structured mode, the transport already undid
//     that) whose data is protobuf ("application/protobuf",
//     "application/x-protobuf", "application/octet-stream") or protojson
//     ("application/json", "text/json", any "+json" type, or no content
//     type at all). JSON is read strictly: a field the message does not
//     have is an error, not something to drop. Enum values may be spelled
//     as in the schema (POST_TYPE_TEXT) or as the design document spells
//     them (TEXT). A timestamp out of google.protobuf.Timestamp's range is
//     refused in protobuf data as protojson refuses it in JSON, so whatever
//     decodes re-encodes in either form.
//   - a plain Kafka record wrapped by Knative's KafkaSource as type
//     "dev.knative.kafka.event" with source
//     "/apis/v1/namespaces/<ns>/kafkasources/<name>#<topic>" and the raw
//     record value as data. Such a record must be a JSON object. Its event
//     type is found by this rule, in order:
//     1. if the object has a string field "type" naming a catalogue event
//     (its CloudEvents type such as "com.nova.content.post.created", its
//     message name such as "PostCreated", or its full name such as
//     "nova.events.v1.PostCreated"), that event is used and the field is
//     removed before the rest is parsed; a "type" field that names no
//     event (PostCreated's own enum field "type": "TEXT", say) is left
//     to the message;
//     2. otherwise the events of the topic after "#" in the source are
//     tried in catalogue order and the first whose message the object
//     parses into strictly, with its key field set, is used.
//
// Every decoded message must carry its partition key field: an event
// without one could not have been produced by Nova and would be handled
// out of order.
//
// # Errors
//
// Failures are *DecodeError values that match ErrUnknownType (no catalogue
// event fits) or ErrUndecodable (the event is known but its data cannot be
// read) with errors.Is, and carry a human-readable Reason, so a consumer can
// send the event to its dead-letter sink with that reason instead of
// retrying it.
package envelope

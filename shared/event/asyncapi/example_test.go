package asyncapi_test

import (
	"encoding/json"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// exampleEvent is the event a Kafka consumer reads from an example's
// headers and (JSON) payload, as the CloudEvents Kafka binding maps them.
func exampleEvent(headers map[string]string, payload json.RawMessage) (cloudevents.Event, error) {
	e := cloudevents.NewEvent()
	for k, v := range headers {
		name, ok := strings.CutPrefix(k, "ce_")
		if !ok {
			continue
		}
		switch name {
		case "specversion":
		case "id":
			e.SetID(v)
		case "source":
			e.SetSource(v)
		case "type":
			e.SetType(v)
		case "subject":
			e.SetSubject(v)
		case "dataschema":
			e.SetDataSchema(v)
		case "time":
			at, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return e, err
			}
			e.SetTime(at)
		default:
			e.SetExtension(name, v)
		}
	}
	return e, e.SetData("application/json", []byte(payload))
}

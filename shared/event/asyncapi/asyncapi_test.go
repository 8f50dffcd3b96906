package asyncapi_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/nova-social/nova/shared/event/asyncapi"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
)

var update = flag.Bool("update", false, "rewrite the generated documents")

const root = "../../.."

// The documents in the repository are what the catalogue and the schema
// generate; `make asyncapi` (go test -update) rewrites them.
func TestDocumentsAreCurrent(t *testing.T) {
	comments, err := asyncapi.ReadComments(filepath.Join(root, "schemas/nova/events/v1"))
	if err != nil {
		t.Fatal(err)
	}
	if comments["nova.events.v1.PostCreated"] == "" || comments["nova.events.v1.PostCreated.media"] == "" {
		t.Fatalf("comments of PostCreated and PostCreated.media not read: %d comments", len(comments))
	}
	doc, err := asyncapi.Document(catalog.Default(), comments)
	if err != nil {
		t.Fatal(err)
	}
	md, err := asyncapi.Catalogue(catalog.Default(), comments)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]byte{"schemas/asyncapi.json": doc, "docs/events.md": md} {
		full := filepath.Join(root, path)
		if *update {
			if err := os.WriteFile(full, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(full)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is stale or missing (%v): run make asyncapi", path, err)
		}
	}
}

// Every example in the document is an event Nova's consumers take: its
// headers and data, sent as a record, decode to the catalogue's type.
func TestExamplesDecode(t *testing.T) {
	comments, err := asyncapi.ReadComments(filepath.Join(root, "schemas/nova/events/v1"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := asyncapi.Document(catalog.Default(), comments)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Components struct {
			Messages map[string]struct {
				Title    string `json:"title"`
				Examples []struct {
					Headers map[string]string `json:"headers"`
					Payload json.RawMessage   `json:"payload"`
				} `json:"examples"`
			} `json:"messages"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	codec := envelope.NewCodec(catalog.Default())
	if len(d.Components.Messages) != len(catalog.Default().Events()) {
		t.Fatalf("%d messages, want one per event type (%d)", len(d.Components.Messages), len(catalog.Default().Events()))
	}
	for name, m := range d.Components.Messages {
		if len(m.Examples) == 0 {
			t.Errorf("%s has no example", name)
			continue
		}
		ex := m.Examples[0]
		e, err := exampleEvent(ex.Headers, ex.Payload)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		dec, err := codec.Decode(e)
		if err != nil {
			t.Errorf("%s: the example does not decode: %v", name, err)
			continue
		}
		if dec.Type.Type != m.Title {
			t.Errorf("%s: decoded as %s, want %s", name, dec.Type.Type, m.Title)
		}
	}
}

// The payload schemas refuse what the consumers refuse: each example keeps
// its schema, and each way of breaking the contract that JSON Schema can
// say is refused by the schema and by the decoder alike.
func TestSchemasAgreeWithTheDecoder(t *testing.T) {
	comments, err := asyncapi.ReadComments(filepath.Join(root, "schemas/nova/events/v1"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := asyncapi.Document(catalog.Default(), comments)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.AssertFormat()
	if err := c.AddResource("asyncapi.json", doc); err != nil {
		t.Fatal(err)
	}
	codec := envelope.NewCodec(catalog.Default())
	for _, et := range catalog.Default().Events() {
		name := string(et.MessageName().Name())
		sch, err := c.Compile("asyncapi.json#/components/schemas/" + name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ex, err := asyncapi.Example(codec, et)
		if err != nil {
			t.Fatal(err)
		}
		good, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(ex)
		if err != nil {
			t.Fatal(err)
		}
		key := string(et.KeyField)
		cases := []struct {
			name  string
			edit  func(map[string]any)
			valid bool
		}{
			{"the example", func(map[string]any) {}, true},
			{"an unknown field", func(o map[string]any) { o["colour"] = "teal" }, true},
			{key + " not a UUID", func(o map[string]any) { o[key] = "post-123" }, false},
			{key + " in upper case", func(o map[string]any) { o[key] = strings.ToUpper(o[key].(string)) }, false},
			{"no " + key, func(o map[string]any) { delete(o, key) }, false},
		}
		for _, tc := range cases {
			obj := map[string]any{}
			if err := json.Unmarshal(good, &obj); err != nil {
				t.Fatal(err)
			}
			tc.edit(obj)
			data, _ := json.Marshal(obj)
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			schemaErr := sch.Validate(inst)
			e := cloudevents.NewEvent()
			e.SetID("x")
			e.SetSource(et.Source())
			e.SetType(et.Type)
			e.SetTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
			_ = e.SetData("application/json", data)
			_, decodeErr := codec.Decode(e)
			if (schemaErr == nil) != tc.valid || (decodeErr == nil) != tc.valid {
				t.Errorf("%s, %s: schema says %v, decoder says %v; want valid=%v", name, tc.name, schemaErr, decodeErr, tc.valid)
			}
		}
	}
}

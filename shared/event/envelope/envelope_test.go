package envelope_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/uuid"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/envelope/roundtrip"
)

func codec() *envelope.Codec { return envelope.NewCodec(catalog.Default()) }

func TestNewCarriesTheEventContract(t *testing.T) {
	c := codec()
	for i, et := range catalog.Default().Events() {
		t.Run(et.Type, func(t *testing.T) {
			msg := roundtrip.Sample(et, i)
			before := time.Now()
			e, err := c.New(msg)
			if err != nil {
				t.Fatal(err)
			}
			id, err := uuid.Parse(e.ID())
			if err != nil || id.Version() != 7 {
				t.Errorf("id %q is not a UUIDv7 (%v)", e.ID(), err)
			}
			if e.SpecVersion() != "1.0" {
				t.Errorf("specversion %q", e.SpecVersion())
			}
			if want := "/nova/" + et.Producer; e.Source() != want {
				t.Errorf("source %q, want %q", e.Source(), want)
			}
			if e.Type() != et.Type {
				t.Errorf("type %q, want %q", e.Type(), et.Type)
			}
			if e.Subject() != et.Subject(msg) || e.Subject() == "" {
				t.Errorf("subject %q, want %q", e.Subject(), et.Subject(msg))
			}
			if e.Time().Before(before.Add(-time.Second)) || e.Time().After(time.Now().Add(time.Second)) {
				t.Errorf("time %s is not now", e.Time())
			}
			if e.DataContentType() != "application/protobuf" {
				t.Errorf("datacontenttype %q", e.DataContentType())
			}
			if want := "https://type.googleapis.com/" + string(msg.ProtoReflect().Descriptor().FullName()); e.DataSchema() != want {
				t.Errorf("dataschema %q, want %q", e.DataSchema(), want)
			}
			if got := e.Extensions()["partitionkey"]; got != et.Key(msg) {
				t.Errorf("partitionkey %v, want %q", got, et.Key(msg))
			}
			var back = msg.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(e.Data(), back); err != nil || !proto.Equal(back, msg) {
				t.Errorf("data does not hold the message (%v)", err)
			}
			if err := e.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestNewIDsAreUniqueAndOrdered(t *testing.T) {
	c := codec()
	msg := &eventsv1.PostDeleted{PostId: "0190f1c2-7a3b-7c4d-8e5f-000000000070", UserId: "0190f1c2-7a3b-7c4d-8e5f-000000000075", DeletedAt: timestamppb.Now()}
	prev := ""
	for i := 0; i < 100; i++ {
		e, err := c.New(msg)
		if err != nil {
			t.Fatal(err)
		}
		if e.ID() <= prev {
			t.Fatalf("id %s does not sort after %s", e.ID(), prev)
		}
		prev = e.ID()
	}
}

func TestNewOptions(t *testing.T) {
	c := codec()
	at := time.Date(2026, 2, 3, 4, 5, 6, 7, time.UTC)
	msg := &eventsv1.PostCreated{PostId: "0190f1c2-7a3b-7c4d-8e5f-000000007031", UserId: "0190f1c2-7a3b-7c4d-8e5f-000000007531", Type: eventsv1.PostType_POST_TYPE_IMAGE,
		CreatedAt: timestamppb.New(time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC))}
	e, err := c.New(msg, envelope.WithID("fixed"), envelope.WithTime(at), envelope.WithSource("moderation-service"), envelope.WithJSON())
	if err != nil {
		t.Fatal(err)
	}
	if e.ID() != "fixed" || !e.Time().Equal(at) || e.Source() != "/nova/moderation-service" {
		t.Errorf("options not applied: id %q time %s source %q", e.ID(), e.Time(), e.Source())
	}
	if e.DataContentType() != "application/json" {
		t.Errorf("datacontenttype %q", e.DataContentType())
	}
	var back eventsv1.PostCreated
	if err := protojson.Unmarshal(e.Data(), &back); err != nil || !proto.Equal(&back, msg) {
		t.Errorf("JSON data %s does not hold the message (%v)", e.Data(), err)
	}
	e, err = c.New(msg, envelope.WithSource("/custom/source"))
	if err != nil || e.Source() != "/custom/source" {
		t.Errorf("source %q (%v)", e.Source(), err)
	}
}

func TestNewRejects(t *testing.T) {
	c := codec()
	if _, err := c.New(timestamppb.Now()); !errors.Is(err, envelope.ErrUnknownType) {
		t.Errorf("message outside the catalogue: %v", err)
	}
	if _, err := c.New(nil); !errors.Is(err, envelope.ErrUnknownType) {
		t.Errorf("nil message: %v", err)
	}
	if _, err := c.New(&eventsv1.PostCreated{PostId: "0190f1c2-7a3b-7c4d-8e5f-000000007031"}); err == nil || !strings.Contains(err.Error(), "user_id") {
		t.Errorf("message without its key: %v", err)
	}
}

// transport puts e through the sdk's HTTP binding in the given mode and
// returns the event a receiver reads, as a function sees it.
func transport(t *testing.T, e cloudevents.Event, enc roundtrip.Encoding) cloudevents.Event {
	t.Helper()
	ctx := context.Background()
	if enc == roundtrip.Structured {
		ctx = binding.WithForceStructured(ctx)
	} else {
		ctx = binding.WithForceBinary(ctx)
	}
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&e), req); err != nil {
		t.Fatal(err)
	}
	isStructured := strings.HasPrefix(req.Header.Get("Content-Type"), "application/cloudevents+json")
	if isStructured != (enc == roundtrip.Structured) {
		t.Fatalf("%s mode wrote content-type %q", enc, req.Header.Get("Content-Type"))
	}
	got, err := binding.ToEvent(ctx, cehttp.NewMessageFromHttpRequest(req))
	if err != nil {
		t.Fatal(err)
	}
	return *got
}

func TestDecodeEveryType(t *testing.T) {
	c := codec()
	events, msgs := roundtrip.Events(t, c)
	for _, enc := range []roundtrip.Encoding{roundtrip.Binary, roundtrip.Structured} {
		for i, sent := range events {
			t.Run(string(enc)+"/"+sent.Type()+"/"+sent.DataContentType(), func(t *testing.T) {
				got := transport(t, sent, enc)
				d, err := c.Decode(got)
				if err != nil {
					t.Fatal(err)
				}
				roundtrip.Compare(t, sent, msgs[i], d)
			})
		}
	}
}

func TestShortEnumNamesOfEveryEnum(t *testing.T) {
	c := codec()
	for _, et := range catalog.Default().Events() {
		fields := et.Message.ProtoReflect().Descriptor().Fields()
		for i := 0; i < fields.Len(); i++ {
			fd := fields.Get(i)
			if fd.Kind() != protoreflect.EnumKind || fd.IsList() {
				continue
			}
			prefix := envelope.EnumPrefix(fd.Enum())
			values := fd.Enum().Values()
			for j := 0; j < values.Len(); j++ {
				full := string(values.Get(j).Name())
				short, ok := strings.CutPrefix(full, prefix)
				if !ok {
					t.Errorf("%s: value %s lacks the prefix %s", fd.Enum().FullName(), full, prefix)
					continue
				}
				msg := roundtrip.Sample(et, 0)
				obj := map[string]any{}
				raw, _ := protojson.Marshal(msg)
				_ = json.Unmarshal(raw, &obj)
				obj[fd.JSONName()] = short
				data, _ := json.Marshal(obj)
				e := cloudevents.NewEvent()
				e.SetID("x")
				e.SetSource(et.Source())
				e.SetType(et.Type)
				_ = e.SetData("application/json", data)
				d, err := c.Decode(e)
				if values.Get(j).Number() == 0 && envelope.Rules(fd).GetRequired() {
					if !errors.Is(err, envelope.ErrContract) {
						t.Errorf("%s %s=%s (a required enum unset): %v, want ErrContract", et.Type, fd.Name(), short, err)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s %s=%s: %v", et.Type, fd.Name(), short, err)
					continue
				}
				if got := d.Message.ProtoReflect().Get(fd).Enum(); got != values.Get(j).Number() {
					t.Errorf("%s %s=%s decoded as %d", et.Type, fd.Name(), short, got)
				}
			}
		}
	}
}

func readEvent(t testing.TB, path string) cloudevents.Event {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var e cloudevents.Event
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return e
}

func TestValidVectors(t *testing.T) {
	c := codec()
	files, _ := filepath.Glob("testdata/valid/*.json")
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".want.json") {
			continue
		}
		n++
		t.Run(filepath.Base(f), func(t *testing.T) {
			e := readEvent(t, f)
			raw, err := os.ReadFile(strings.TrimSuffix(f, ".json") + ".want.json")
			if err != nil {
				t.Fatal(err)
			}
			var want struct {
				Type    string          `json:"type"`
				Message json.RawMessage `json:"message"`
			}
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			d, err := c.Decode(e)
			if err != nil {
				t.Fatal(err)
			}
			if d.Type.Type != want.Type {
				t.Fatalf("decoded as %s, want %s", d.Type.Type, want.Type)
			}
			wantMsg := d.Type.Message.ProtoReflect().New().Interface()
			if err := protojson.Unmarshal(want.Message, wantMsg); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(d.Message, wantMsg) {
				t.Errorf("message\n got %v\nwant %v", d.Message, wantMsg)
			}
		})
	}
	if n < 5 {
		t.Fatalf("only %d valid vectors under testdata/valid", n)
	}
}

func TestInvalidVectors(t *testing.T) {
	c := codec()
	files, _ := filepath.Glob("testdata/invalid/*.json")
	if len(files) < 10 {
		t.Fatalf("only %d invalid vectors under testdata/invalid", len(files))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			want := envelope.ErrUndecodable
			switch {
			case strings.HasPrefix(name, "unknown-"):
				want = envelope.ErrUnknownType
			case strings.HasPrefix(name, "contract-"):
				want = envelope.ErrContract
			}
			_, err := c.Decode(readEvent(t, f))
			if !errors.Is(err, want) {
				t.Fatalf("error %v, want %v", err, want)
			}
			var de *envelope.DecodeError
			if !errors.As(err, &de) || de.Reason == "" {
				t.Fatalf("error %v carries no reason", err)
			}
			if !envelope.IsDecodeError(err) || envelope.Reason(err) == "" {
				t.Errorf("IsDecodeError/Reason disagree on %v", err)
			}
			t.Logf("%s", err)
		})
	}
}

func TestPlainRecordRules(t *testing.T) {
	c := codec()
	plain := func(topic, value string) cloudevents.Event {
		e := cloudevents.NewEvent()
		e.SetID("partition:0/offset:1")
		e.SetType(envelope.KafkaEventType)
		e.SetSource(envelope.KafkaSourceURI("nova", "src", topic))
		e.SetSubject("partition:0#1")
		e.SetTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) // KafkaSource sets the record's time
		_ = e.SetData("", []byte(value))
		return e
	}
	cases := []struct {
		name, topic, value, want string
	}{
		{"first event of the topic", catalog.ContentEvents, `{"post_id":"0190f1c2-7a3b-7c4d-8e5f-000000000070","user_id":"0190f1c2-7a3b-7c4d-8e5f-000000000075"}`, "com.nova.content.post.created"},
		{"type field as message name", catalog.ContentEvents, `{"type":"PostDeleted","post_id":"0190f1c2-7a3b-7c4d-8e5f-000000000070","user_id":"0190f1c2-7a3b-7c4d-8e5f-000000000075"}`, "com.nova.content.post.deleted"},
		{"type field as full name", catalog.ContentEvents, `{"type":"nova.events.v1.PostUpdated","post_id":"0190f1c2-7a3b-7c4d-8e5f-000000000070","user_id":"0190f1c2-7a3b-7c4d-8e5f-000000000075"}`, "com.nova.content.post.updated"},
		{"type field as CE type", catalog.UserEvents, `{"type":"com.nova.identity.user.followed","follower_id":"0190f1c2-7a3b-7c4d-8e5f-000000000061","followee_id":"0190f1c2-7a3b-7c4d-8e5f-000000000062"}`, "com.nova.identity.user.followed"},
		{"type field naming an enum stays the message's", catalog.ContentEvents, `{"post_id":"0190f1c2-7a3b-7c4d-8e5f-000000000070","user_id":"0190f1c2-7a3b-7c4d-8e5f-000000000075","type":"VIDEO"}`, "com.nova.content.post.created"},
		{"later event of the topic when the first does not parse", catalog.UserEvents, `{"follower_id":"0190f1c2-7a3b-7c4d-8e5f-000000000061","followee_id":"0190f1c2-7a3b-7c4d-8e5f-000000000062"}`, "com.nova.identity.user.followed"},
		{"type field picks among the topic's events", catalog.ContentEvents, `{"type":"PostDeleted","post_id":"0190f1c2-7a3b-7c4d-8e5f-000000000070","user_id":"0190f1c2-7a3b-7c4d-8e5f-000000000075"}`, "com.nova.content.post.deleted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := c.Decode(plain(tc.topic, tc.value))
			if err != nil {
				t.Fatal(err)
			}
			if d.Type.Type != tc.want {
				t.Errorf("decoded as %s, want %s", d.Type.Type, tc.want)
			}
		})
	}
	// A type field cannot carry an event onto a topic that does not carry
	// it: a record on media-events is never a content event.
	if _, err := c.Decode(plain(catalog.MediaEvents, `{"type":"PostDeleted","post_id":"0190f1c2-7a3b-7c4d-8e5f-000000000070","user_id":"0190f1c2-7a3b-7c4d-8e5f-000000000075"}`)); !errors.Is(err, envelope.ErrForeignSource) {
		t.Errorf("PostDeleted on media-events: %v, want ErrForeignSource", err)
	}
}

func TestTopicOf(t *testing.T) {
	if got := envelope.TopicOf(envelope.KafkaSourceURI("ns", "n", "content-events")); got != "content-events" {
		t.Errorf("TopicOf = %q", got)
	}
	if got := envelope.TopicOf("/nova/content-service"); got != "" {
		t.Errorf("TopicOf = %q", got)
	}
}

func FuzzDecode(f *testing.F) {
	for _, dir := range []string{"testdata/valid", "testdata/invalid"} {
		files, _ := filepath.Glob(dir + "/*.json")
		for _, p := range files {
			if strings.HasSuffix(p, ".want.json") {
				continue
			}
			e := readEvent(f, p)
			f.Add(e.Type(), e.Source(), e.DataContentType(), e.Data())
		}
	}
	c := codec()
	events, _ := roundtrip.Events(f, c)
	for _, e := range events[:4] {
		f.Add(e.Type(), e.Source(), e.DataContentType(), e.Data())
	}
	f.Fuzz(func(t *testing.T, ceType, source, contentType string, data []byte) {
		e := cloudevents.NewEvent()
		e.SetID("fuzz")
		e.SetType(ceType)
		e.SetSource(source)
		e.DataEncoded = bytes.Clone(data)
		if contentType != "" {
			e.SetDataContentType(contentType)
		}
		d, err := c.Decode(e)
		checkDecoded(t, c, e, d, err) // typed errors; what decodes round-trips (fuzz_test.go)
	})
}

func TestDedupeKey(t *testing.T) {
	e := cloudevents.NewEvent()
	e.SetSource("/nova/content-service")
	e.SetID("01a214a9-0000-7000-8000-000000000001")
	e.SetType("com.nova.content.post.created")
	e.SetTime(time.Unix(100, 0))
	if src, id := envelope.DedupeKey(e); src != e.Source() || id != e.ID() {
		t.Fatalf("a Nova event's key is (%q, %q), want its source and id", src, id)
	}
	w := cloudevents.NewEvent()
	w.SetType(envelope.KafkaEventType)
	w.SetSource("/apis/v1/namespaces/nova/kafkasources/feed-fanout#content-events")
	w.SetID("partition:0/offset:7")
	w.SetTime(time.Unix(100, 0))
	_, first := envelope.DedupeKey(w)
	_, again := envelope.DedupeKey(w)
	w.SetTime(time.Unix(200, 0)) // the same position in a topic created anew
	_, reused := envelope.DedupeKey(w)
	if first != again || first == reused {
		t.Fatalf("wrapped record keys: %q, %q, %q", first, again, reused)
	}
}

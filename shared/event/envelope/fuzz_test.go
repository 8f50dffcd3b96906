package envelope_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/envelope/roundtrip"
)

// allocBound is the most a decoder may allocate for an input of n bytes: a
// generous multiple of the input plus a constant, far below what a length
// field trusted without a check would ask for.
func allocBound(n int) uint64 { return 16<<20 + 64*uint64(n) }

// allocated runs fn and returns the bytes allocated meanwhile. The fuzz
// worker runs one input at a time, so the delta is fn's own.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// checkDecoded holds every fuzz target of this file to the same contract:
// an error is a typed *DecodeError with a reason; a success carries a
// message of its catalogue type with its key, which re-encodes (protobuf
// and JSON) into an event that decodes to an equal message.
func checkDecoded(t *testing.T, c *envelope.Codec, e cloudevents.Event, d envelope.Decoded, err error) {
	t.Helper()
	if err != nil {
		var de *envelope.DecodeError
		if !errors.As(err, &de) || !envelope.IsDecodeError(err) || de.Reason == "" {
			t.Fatalf("untyped error %v", err)
		}
		return
	}
	if d.Message == nil || d.Type.Key(d.Message) == "" {
		t.Fatalf("decoded %v without its key", d.Message)
	}
	if d.Message.ProtoReflect().Descriptor() != d.Type.Message.ProtoReflect().Descriptor() {
		t.Fatalf("decoded %s as %s", d.Type.Type, d.Message.ProtoReflect().Descriptor().FullName())
	}
	// JSON carries no unknown fields; compare what it can carry.
	want := proto.Clone(d.Message)
	discardUnknown(want.ProtoReflect())
	for _, asJSON := range []bool{false, true} {
		opts := []envelope.Option{envelope.WithID(e.ID())}
		if asJSON {
			opts = append(opts, envelope.WithJSON())
		}
		again, err := c.New(d.Message, opts...)
		if err != nil {
			t.Fatalf("decoded %s (%v) but cannot re-encode it (json %v): %v", d.Type.Type, d.Message, asJSON, err)
		}
		back, err := c.Decode(again)
		if err != nil {
			t.Fatalf("re-encoded %s (json %v) does not decode: %v\ndata %q", d.Type.Type, asJSON, err, again.Data())
		}
		got := proto.Clone(back.Message)
		discardUnknown(got.ProtoReflect())
		if !proto.Equal(got, want) {
			t.Fatalf("round trip (json %v) changed the message:\n got %v\nwant %v", asJSON, got, want)
		}
	}
}

func discardUnknown(m protoreflect.Message) {
	m.SetUnknown(nil)
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				discardUnknown(v.List().Get(i).Message())
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				discardUnknown(mv.Message())
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			discardUnknown(v.Message())
		}
		return true
	})
}

// vectors returns the committed test vectors (valid and invalid), raw.
func vectors(f *testing.F) [][]byte {
	var out [][]byte
	for _, dir := range []string{"testdata/valid", "testdata/invalid"} {
		files, _ := filepath.Glob(dir + "/*.json")
		for _, p := range files {
			if strings.HasSuffix(p, ".want.json") {
				continue
			}
			raw, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, raw)
		}
	}
	return out
}

// FuzzDecodeStructured: a structured-mode CloudEvent (the JSON format, as
// an application/cloudevents+json body or record carries it).
func FuzzDecodeStructured(f *testing.F) {
	for _, raw := range vectors(f) {
		f.Add(raw)
	}
	c := codec()
	events, _ := roundtrip.Events(f, c)
	for _, e := range events {
		raw, err := json.Marshal(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var e cloudevents.Event
		if err := json.Unmarshal(raw, &e); err != nil {
			return // the transport answers 400 before any function runs
		}
		var (
			d   envelope.Decoded
			err error
		)
		if n := allocated(func() { d, err = c.Decode(e) }); n > allocBound(len(raw)) {
			t.Fatalf("decoding %d bytes allocated %d bytes", len(raw), n)
		}
		checkDecoded(t, c, e, d, err)
	})
}

// FuzzDecodeBinary: a binary-mode CloudEvent as func-go receives it over
// HTTP: ce- headers, Content-Type and the body as data. headers holds
// "Name: value" lines.
func FuzzDecodeBinary(f *testing.F) {
	c := codec()
	events, _ := roundtrip.Events(f, c)
	for _, e := range events {
		req, _ := http.NewRequest(http.MethodPost, "http://fn/", nil)
		if err := cehttp.WriteRequest(context.Background(), binding.ToMessage(&e), req); err != nil {
			f.Fatal(err)
		}
		var hdr bytes.Buffer
		if err := req.Header.Write(&hdr); err != nil {
			f.Fatal(err)
		}
		f.Add(hdr.String(), e.Data())
	}
	f.Add("Ce-Specversion: 1.0\r\nCe-Id: 1\r\nCe-Source: /apis/v1/namespaces/nova/kafkasources/x#content-events\r\nCe-Type: dev.knative.kafka.event\r\n",
		[]byte(`{"post_id":"0190f1c2-7a3b-7c4d-8e5f-000000000070","user_id":"0190f1c2-7a3b-7c4d-8e5f-000000000075"}`))
	f.Add("Ce-Specversion: 1.0\r\nCe-Id: 1\r\nCe-Source: /s\r\nCe-Type: com.nova.content.post.created\r\nContent-Type: application/json; charset=\"\r\n",
		[]byte(`{}`))
	f.Fuzz(func(t *testing.T, headers string, body []byte) {
		tp := textproto.NewReader(bufio.NewReader(strings.NewReader(headers + "\r\n\r\n")))
		h, err := tp.ReadMIMEHeader()
		if err != nil && len(h) == 0 {
			return
		}
		m := cehttp.NewMessage(http.Header(h), nopCloser{bytes.NewReader(body)})
		if m.ReadEncoding() != binding.EncodingBinary {
			return
		}
		e, err := binding.ToEvent(context.Background(), m)
		if err != nil {
			return // refused by the transport with a 400
		}
		var d envelope.Decoded
		if n := allocated(func() { d, err = c.Decode(*e) }); n > allocBound(len(headers)+len(body)) {
			t.Fatalf("decoding %d bytes allocated %d bytes", len(headers)+len(body), n)
		}
		checkDecoded(t, c, *e, d, err)
	})
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// FuzzPayload: the data of every catalogue event, protobuf or protojson,
// under its own type (sel picks it). Whatever decodes re-encodes to an
// equal message; no length field makes the decoder allocate beyond the
// input's measure.
func FuzzPayload(f *testing.F) {
	events := catalog.Default().Events()
	for i, et := range events {
		msg := roundtrip.Sample(et, i)
		pb, err := proto.Marshal(msg)
		if err != nil {
			f.Fatal(err)
		}
		js, err := protojson.Marshal(msg)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), false, pb)
		f.Add(uint8(i), true, js)
	}
	// A length prefix claiming far more than the input holds.
	f.Add(uint8(0), false, []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 'p'})
	f.Add(uint8(1), true, []byte(`{"post_id":"0190f1c2-7a3b-7c4d-8e5f-000000000070","user_id":"0190f1c2-7a3b-7c4d-8e5f-000000000075","type":"TEXT","tags":["a"]}`))
	c := codec()
	f.Fuzz(func(t *testing.T, sel uint8, asJSON bool, data []byte) {
		et := events[int(sel)%len(events)]
		e := cloudevents.NewEvent()
		e.SetID("fuzz")
		e.SetSource(et.Source())
		e.SetType(et.Type)
		if asJSON {
			e.SetDataContentType("application/json")
		} else {
			e.SetDataContentType("application/protobuf")
		}
		e.DataEncoded = bytes.Clone(data)

		// The bare message first: the schema's own decoders, whatever the
		// key field holds.
		raw := et.Message.ProtoReflect().New().Interface()
		var rawErr error
		n := allocated(func() {
			if asJSON {
				rawErr = protojson.Unmarshal(data, raw)
			} else {
				rawErr = proto.Unmarshal(data, raw)
			}
		})
		if n > allocBound(len(data)) {
			t.Fatalf("decoding %d bytes of %s allocated %d bytes", len(data), et.MessageName(), n)
		}
		if rawErr == nil && !asJSON {
			pb, err := proto.Marshal(raw)
			if err != nil {
				t.Fatalf("decoded %s but cannot re-encode it: %v", et.MessageName(), err)
			}
			back := et.Message.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(pb, back); err != nil || !proto.Equal(back, raw) {
				t.Fatalf("protobuf round trip of %s: %v\n got %v\nwant %v", et.MessageName(), err, back, raw)
			}
		}

		var (
			d   envelope.Decoded
			err error
		)
		if n := allocated(func() { d, err = c.Decode(e) }); n > allocBound(len(data)) {
			t.Fatalf("decoding %d bytes allocated %d bytes", len(data), n)
		}
		checkDecoded(t, c, e, d, err)
	})
}

package roundtrip_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	fhttp "knative.dev/func-go/http"

	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/envelope/roundtrip"
	"github.com/nova-social/nova/shared/event/eventfunc"
)

// function is a Knative function instance of the kind every consumer is:
// it takes the event through eventfunc's handler, decodes it with the
// envelope and records it.
type function struct {
	codec *envelope.Codec
	mu    sync.Mutex
	got   []envelope.Decoded
	errs  []error
}

func newFunction() *function {
	return &function{codec: envelope.NewCodec(catalog.Default())}
}

func (f *function) receive(_ context.Context, e cloudevents.Event) error {
	d, err := f.codec.Decode(e)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		f.errs = append(f.errs, err)
		return err
	}
	f.got = append(f.got, d)
	return nil
}

func (f *function) Handle(w http.ResponseWriter, r *http.Request) {
	eventfunc.NewHandler(f.receive, eventfunc.HandlerConfig{}).ServeHTTP(w, r)
}

// TestRoundTripHTTP: sdk-go HTTP client → the function hosted by func-go's
// http runtime, as `kn func` builds it (invoke: http), for every event type
// in both modes.
func TestRoundTripHTTP(t *testing.T) {
	roundtrip.Run(t, roundtrip.Pair{
		Name: "http",
		Transfer: func(t testing.TB, enc roundtrip.Encoding, events []cloudevents.Event) []envelope.Decoded {
			f := newFunction()
			srv := httptest.NewServer(fhttp.New(f).Handler)
			t.Cleanup(srv.Close)
			c, err := cloudevents.NewClientHTTP(cloudevents.WithTarget(srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			ctx := cloudevents.WithEncodingBinary(context.Background())
			if enc == roundtrip.Structured {
				ctx = cloudevents.WithEncodingStructured(context.Background())
			}
			for _, e := range events {
				if res := c.Send(ctx, e); !cloudevents.IsACK(res) {
					t.Fatalf("send %s: %v", e.Type(), res)
				}
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			for _, err := range f.errs {
				t.Errorf("function could not decode: %v", err)
			}
			return f.got
		},
	})
}

// TestFunctionRejectsUndecodable: the same function answers an event it
// cannot decode with a 4xx, which KafkaSource dead-letters.
func TestFunctionRejectsUndecodable(t *testing.T) {
	f := newFunction()
	srv := httptest.NewServer(fhttp.New(f).Handler)
	t.Cleanup(srv.Close)
	c, err := cloudevents.NewClientHTTP(cloudevents.WithTarget(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	e := cloudevents.NewEvent()
	e.SetID("1")
	e.SetSource("/apis/v1/namespaces/nova/kafkasources/x#content-events")
	e.SetType(envelope.KafkaEventType)
	_ = e.SetData("", []byte("not json"))
	res := c.Send(context.Background(), e)
	var hr *cehttp.Result
	if !cloudevents.ResultAs(res, &hr) || hr.StatusCode != 400 {
		t.Fatalf("result %v, want 400", res)
	}
}

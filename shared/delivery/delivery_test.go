package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/catalog"
	"github.com/nova-social/nova/shared/delivery"
	"github.com/nova-social/nova/shared/envelope"
)

var errDatabaseDown = errors.New("database is down")

// receiver is a function's Handle behind the sdk's real HTTP receiver: it
// decodes the event and reacts according to the post's content.
func receiver(t *testing.T) string {
	t.Helper()
	codec := envelope.NewCodec(catalog.Default())
	handle := func(ctx context.Context, e cloudevents.Event) error {
		d, err := codec.Decode(e)
		if err != nil {
			return delivery.Result(err)
		}
		switch d.Message.(*eventsv1.PostDeleted).PostId {
		case "transient":
			return delivery.Result(fmt.Errorf("store: %w", errDatabaseDown))
		case "permanent":
			return delivery.Result(delivery.Permanent(errors.New("post belongs to a deleted account")))
		}
		return delivery.Result(nil)
	}
	p, err := cloudevents.NewHTTP()
	if err != nil {
		t.Fatal(err)
	}
	h, err := cloudevents.NewHTTPReceiveHandler(context.Background(), p, handle)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// post sends e in binary mode, as KafkaSource does, and returns the status and body.
func post(t *testing.T, url string, e cloudevents.Event) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cehttp.WriteRequest(binding.WithForceBinary(context.Background()), binding.ToMessage(&e), req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestResultOverHTTP(t *testing.T) {
	url := receiver(t)
	codec := envelope.NewCodec(catalog.Default())
	event := func(postID string) cloudevents.Event {
		e, err := codec.New(&eventsv1.PostDeleted{PostId: postID, UserId: "u"})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	unknown := event("x")
	unknown.SetType("com.example.unknown")
	garbled := event("x")
	_ = garbled.SetData("application/protobuf", []byte{0xff, 0xff, 0xff})

	cases := []struct {
		name     string
		e        cloudevents.Event
		status   int
		inBody   string
		retried  bool
		deadLtrd bool
	}{
		{"handled", event("ok"), http.StatusOK, "", false, false},
		{"transient failure", event("transient"), http.StatusInternalServerError, "database is down", true, false},
		{"permanent failure", event("permanent"), http.StatusBadRequest, "post belongs to a deleted account", false, true},
		{"unknown type", unknown, http.StatusBadRequest, `type "com.example.unknown" is not a Nova event`, false, true},
		{"undecodable data", garbled, http.StatusBadRequest, "data is not a protobuf", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, url, tc.e)
			if status != tc.status {
				t.Fatalf("status %d (%s), want %d", status, body, tc.status)
			}
			if !strings.Contains(body, tc.inBody) {
				t.Errorf("body %q lacks %q", body, tc.inBody)
			}
			if got := knativeRetries(status); got != tc.retried {
				t.Errorf("KafkaSource would retry: %v, want %v", got, tc.retried)
			}
			if got := status >= 300 && !knativeRetries(status); got != tc.deadLtrd {
				t.Errorf("KafkaSource would dead-letter at once: %v, want %v", got, tc.deadLtrd)
			}
		})
	}
}

// knativeRetries is KafkaSource's retry rule for a status.
func knativeRetries(status int) bool {
	return status >= 500 || status == 404 || status == 408 || status == 409 || status == 429
}

func TestResultThroughTheSDKClient(t *testing.T) {
	url := receiver(t)
	c, err := cloudevents.NewClientHTTP(cloudevents.WithTarget(url))
	if err != nil {
		t.Fatal(err)
	}
	codec := envelope.NewCodec(catalog.Default())
	e, _ := codec.New(&eventsv1.PostDeleted{PostId: "permanent", UserId: "u"})
	res := c.Send(context.Background(), e)
	var hr *cehttp.Result
	if !cloudevents.ResultAs(res, &hr) || hr.StatusCode != http.StatusBadRequest {
		t.Fatalf("result %v, want a 400", res)
	}
	e, _ = codec.New(&eventsv1.PostDeleted{PostId: "ok", UserId: "u"})
	if res := c.Send(context.Background(), e); !cloudevents.IsACK(res) {
		t.Fatalf("result %v, want ACK", res)
	}
}

func TestResultKeepsTheChain(t *testing.T) {
	if delivery.Result(nil) != nil || delivery.Permanent(nil) != nil {
		t.Fatal("nil must stay nil")
	}
	res := delivery.Result(fmt.Errorf("x: %w", errDatabaseDown))
	if !errors.Is(res, errDatabaseDown) {
		t.Errorf("%v lost its cause", res)
	}
	var hr *cehttp.Result
	if !errors.As(res, &hr) || hr.StatusCode != 500 {
		t.Errorf("%v is not a 500", res)
	}
	de := &envelope.DecodeError{Kind: envelope.ErrUndecodable, Reason: "bad"}
	if !delivery.IsPermanent(de) || !delivery.IsPermanent(fmt.Errorf("w: %w", delivery.Permanent(io.EOF))) {
		t.Error("decode errors and Permanent are permanent")
	}
	if delivery.IsPermanent(io.EOF) {
		t.Error("a plain error is not permanent")
	}
}

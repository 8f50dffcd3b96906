package delivery_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/catalog"
	"github.com/nova-social/nova/shared/delivery"
	"github.com/nova-social/nova/shared/envelope"
)

func status(t *testing.T, err error) int {
	t.Helper()
	if cloudevents.IsACK(err) {
		return http.StatusOK
	}
	var r *cehttp.Result
	if !cloudevents.ResultAs(err, &r) {
		t.Fatalf("%v is not an HTTP result", err)
	}
	return r.StatusCode
}

func TestHandle(t *testing.T) {
	codec := envelope.NewCodec(catalog.Default())
	good, err := codec.New(&eventsv1.UserFollowed{FollowerId: "a", FolloweeId: "b"})
	if err != nil {
		t.Fatal(err)
	}
	bad := good.Clone()
	bad.SetType("com.example.unknown")
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx := context.Background()

	var got envelope.Decoded
	ok := func(_ context.Context, d envelope.Decoded) error { got = d; return nil }
	if code := status(t, delivery.Handle(ctx, codec, good, ok, log)); code != http.StatusOK {
		t.Fatalf("applied event answered %d", code)
	}
	if m, _ := got.Message.(*eventsv1.UserFollowed); m.GetFolloweeId() != "b" {
		t.Fatalf("reaction got %v", got.Message)
	}
	called := false
	never := func(context.Context, envelope.Decoded) error { called = true; return nil }
	if code := status(t, delivery.Handle(ctx, codec, bad, never, log)); code != http.StatusBadRequest || called {
		t.Fatalf("undecodable event answered %d (reaction called: %v)", code, called)
	}
	transient := func(context.Context, envelope.Decoded) error { return errors.New("redis down") }
	if code := status(t, delivery.Handle(ctx, codec, good, transient, log)); code != http.StatusInternalServerError {
		t.Fatalf("transient failure answered %d", code)
	}
	if !strings.Contains(logs.String(), "redis down") || !strings.Contains(logs.String(), "permanent=true") {
		t.Fatalf("failures not logged: %s", logs.String())
	}
}

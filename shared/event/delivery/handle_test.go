package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/lifecycle"
)

func TestApplyDecodesThenReacts(t *testing.T) {
	codec := envelope.NewCodec(catalog.Default())
	good, err := codec.New(&eventsv1.UserFollowed{FollowerId: "a", FolloweeId: "b"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var got envelope.Decoded
	if err := delivery.Apply(ctx, codec, good, func(_ context.Context, d envelope.Decoded) error { got = d; return nil }); err != nil {
		t.Fatal(err)
	}
	if m, _ := got.Message.(*eventsv1.UserFollowed); m.GetFolloweeId() != "b" {
		t.Fatalf("reaction got %v", got.Message)
	}

	bad := good.Clone()
	bad.SetType("com.example.unknown")
	called := false
	err = delivery.Apply(ctx, codec, bad, func(context.Context, envelope.Decoded) error { called = true; return nil })
	if called || !delivery.IsPermanent(err) {
		t.Fatalf("undecodable event: reaction called %v, error %v (permanent %v)", called, err, delivery.IsPermanent(err))
	}

	down := errors.New("redis down")
	err = delivery.Apply(ctx, codec, good, func(context.Context, envelope.Decoded) error { return down })
	if !errors.Is(err, down) || delivery.IsPermanent(err) {
		t.Fatalf("reaction failure came back as %v", err)
	}
}

func TestStatus(t *testing.T) {
	codec := envelope.NewCodec(catalog.Default())
	bad, _ := codec.New(&eventsv1.UserFollowed{FollowerId: "a", FolloweeId: "b"})
	bad.SetType("com.example.unknown")
	_, decodeErr := codec.Decode(bad)
	for _, c := range []struct {
		name string
		err  error
		want int
	}{
		{"handled", nil, http.StatusOK},
		{"permanent", delivery.Permanent(errors.New("post belongs to a deleted account")), http.StatusBadRequest},
		{"permanent, wrapped", fmt.Errorf("attach: %w", delivery.Permanent(errors.New("no such post"))), http.StatusBadRequest},
		{"undecodable", decodeErr, http.StatusBadRequest},
		{"not ready", fmt.Errorf("feed-fanout: %w: attempt 2 failed: dial tcp: refused", lifecycle.ErrNotReady), http.StatusServiceUnavailable},
		{"stopped", lifecycle.ErrStopped, http.StatusServiceUnavailable},
		{"transient", errors.New("database is down"), http.StatusInternalServerError},
		{"cancelled", context.Canceled, http.StatusInternalServerError},
	} {
		if got := delivery.Status(c.err); got != c.want {
			t.Errorf("%s: Status(%v) = %d, want %d", c.name, c.err, got, c.want)
		}
	}
	if delivery.Permanent(nil) != nil {
		t.Error("Permanent(nil) is not nil")
	}
}

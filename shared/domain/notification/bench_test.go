package notification_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"

	"github.com/nova-social/nova/shared/domain/notification"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

func benchService(b *testing.B) *notification.Service {
	b.Helper()
	ctx := context.Background()
	pool := testrig.Postgres(b)
	if err := outbox.Migrate(ctx, pool); err != nil {
		b.Fatal(err)
	}
	if err := notification.Migrate(ctx, pool); err != nil {
		b.Fatal(err)
	}
	svc, err := notification.New(notification.Config{Pool: pool, Outbox: outbox.New(envelope.NewCodec(catalog.Default())),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	return svc
}

// BenchmarkRecord measures one event filed in the inbox: the baseline is a
// trigger that notifies no one (the dedup row alone), then a like that
// opens a notification, then a like that folds into an open group.
func BenchmarkRecord(b *testing.B) {
	ctx := context.Background()
	svc := benchService(b)
	run := func(b *testing.B, in func(i int) []notification.Incoming) {
		for i := 0; b.Loop(); i++ {
			if _, err := svc.Record(ctx, notification.Trigger{Source: "/bench", ID: b.Name() + strconv.Itoa(i)}, in(i)); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("baseline-trigger-only", func(b *testing.B) {
		run(b, func(int) []notification.Incoming { return nil })
	})
	b.Run("new-notification", func(b *testing.B) {
		author := id.NewUserID()
		run(b, func(int) []notification.Incoming {
			return []notification.Incoming{{Recipient: author, Kind: notification.Like, SubjectID: id.NewPostID().String(), Actor: id.NewUserID()}}
		})
	})
	b.Run("grow-group", func(b *testing.B) {
		author, post := id.NewUserID(), id.NewPostID().String()
		run(b, func(int) []notification.Incoming {
			return []notification.Incoming{{Recipient: author, Kind: notification.Like, SubjectID: post, Actor: id.NewUserID()}}
		})
	})
}

// BenchmarkList reads the first page of an inbox of 1,000 notifications.
func BenchmarkList(b *testing.B) {
	ctx := context.Background()
	svc := benchService(b)
	user := id.NewUserID()
	for i := range 1000 {
		if _, err := svc.Record(ctx, notification.Trigger{Source: "/bench", ID: strconv.Itoa(i)},
			[]notification.Incoming{{Recipient: user, Kind: notification.Follow, SubjectID: strconv.Itoa(i), Actor: id.NewUserID()}}); err != nil {
			b.Fatal(err)
		}
	}
	for _, unread := range []bool{false, true} {
		b.Run("unread="+strconv.FormatBool(unread), func(b *testing.B) {
			for b.Loop() {
				if ns, _, err := svc.List(ctx, user, notification.Query{UnreadOnly: unread, Limit: 20}); err != nil || len(ns) != 20 {
					b.Fatal(len(ns), err)
				}
			}
		})
	}
}

package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
)

// notifications returns u's inbox as GET /v1/notifications shows it.
func (r *rig) notifications(u user, query string) []map[string]any {
	r.t.Helper()
	out := r.must(http.StatusOK, "GET", "/v1/notifications"+query, u.Token, nil)
	var ns []map[string]any
	items, _ := out["items"].([]any)
	for _, it := range items {
		ns = append(ns, it.(map[string]any))
	}
	return ns
}

// A follow, two likes and a comment made through nova-api travel outbox →
// user-events/analytics-events → dispatcher → notifier → PostgreSQL, and
// the author reads them through GET /v1/notifications (the likes as one),
// marks them read, and finds each announced on notification-events.
func TestFollowAndLikesReachTheInbox(t *testing.T) {
	r := start(t)
	author, fan, friend := r.register("author"), r.register("fan"), r.register("friend")
	r.follow(fan, author)
	post := r.post(author, "notice me", "PUBLIC")
	r.must(http.StatusOK, "POST", "/v1/posts/"+post+"/likes", fan.Token, nil)
	r.must(http.StatusOK, "POST", "/v1/posts/"+post+"/likes", friend.Token, nil)
	r.must(http.StatusOK, "POST", "/v1/posts/"+post+"/likes", author.Token, nil) // one's own: nothing

	var likeID, followID string
	r.eventually("the author has a follow and two likes as one", func() (bool, string) {
		ns := r.notifications(author, "")
		likeID, followID = "", ""
		for _, n := range ns {
			switch n["kind"] {
			case "LIKE":
				if n["subject_id"] == post && n["count"] == 2.0 && fmt.Sprint(n["actor_ids"]) == fmt.Sprint([]any{friend.ID, fan.ID}) {
					likeID = n["id"].(string)
				}
			case "FOLLOW":
				if fmt.Sprint(n["actor_ids"]) == fmt.Sprint([]any{fan.ID}) {
					followID = n["id"].(string)
				}
			}
		}
		return len(ns) == 2 && likeID != "" && followID != "", fmt.Sprint(ns)
	})
	if ns := r.notifications(author, ""); ns[0]["id"] != likeID {
		t.Fatalf("newest first: %v", ns)
	}

	// Read one; only the other is unread. Others cannot touch it.
	r.must(http.StatusNotFound, "POST", "/v1/notifications/"+likeID+"/read", fan.Token, nil)
	read := r.must(http.StatusOK, "POST", "/v1/notifications/"+likeID+"/read", author.Token, nil)
	if read["read"] != true || read["read_at"] == nil {
		t.Fatalf("marked read: %v", read)
	}
	if ns := r.notifications(author, "?unread=true"); len(ns) != 1 || ns[0]["id"] != followID {
		t.Fatalf("unread after reading the likes: %v", ns)
	}
	// A comment after the likes were read is a new notification.
	r.must(http.StatusCreated, "POST", "/v1/posts/"+post+"/comments", fan.Token, map[string]any{"content": "nice"})
	r.eventually("the comment is in the inbox", func() (bool, string) {
		ns := r.notifications(author, "?unread=true")
		return len(ns) == 2 && ns[0]["kind"] == "COMMENT" && ns[0]["text"] == "New comment on your post: nice", fmt.Sprint(ns)
	})
	// The comment is keyed by the post like the likes, so every like —
	// the author's own too — was handled before it: that one changed
	// nothing, and no one else was notified.
	for _, n := range r.notifications(author, "") {
		if n["kind"] == "LIKE" && (n["count"] != 2.0 || n["read"] != true) {
			t.Fatalf("the author's own like changed the likes: %v", n)
		}
	}
	for _, u := range []user{fan, friend} {
		if ns := r.notifications(u, ""); len(ns) != 0 {
			t.Fatalf("%s was notified: %v", u.Name, ns)
		}
	}
	if out := r.must(http.StatusOK, "POST", "/v1/notifications/read", author.Token, nil); out["marked"] != 2.0 {
		t.Fatalf("mark all: %v", out)
	}
	if ns := r.notifications(author, "?unread=true"); len(ns) != 0 {
		t.Fatalf("unread after marking all: %v", ns)
	}
	if ns := r.notifications(author, ""); len(ns) != 3 {
		t.Fatalf("the inbox keeps read notifications: %v", ns)
	}

	// Each creation and growth was announced for push providers.
	want := map[string]int32{followID: 1, likeID: 2}
	got := map[string]int32{}
	cl, err := r.kafkaClient(kgo.ConsumeTopics(catalog.NotificationEvents),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	codec := envelope.NewCodec(catalog.Default())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	comments := 0
	for got[followID] < want[followID] || got[likeID] < want[likeID] || comments == 0 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatalf("NotificationCreated seen %v (+%d comments), want %v: %v", got, comments, want, err)
		}
		for _, rec := range fs.Records() {
			if string(rec.Key) != author.ID {
				continue
			}
			cm := &sarama.ConsumerMessage{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Key: rec.Key, Value: rec.Value}
			for _, h := range rec.Headers {
				cm.Headers = append(cm.Headers, &sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
			}
			e, err := kafka.EventFromRecord(cm, kafka.SourceRef{Namespace: "e2e", Name: "notify"})
			if err != nil {
				t.Fatal(err)
			}
			d, err := codec.Decode(e)
			if err != nil {
				t.Fatal(err)
			}
			nc := d.Message.(*eventsv1.NotificationCreated)
			if nc.GetKind() == eventsv1.NotificationKind_NOTIFICATION_KIND_COMMENT {
				comments++
				continue
			}
			got[nc.GetNotificationId()] = max(got[nc.GetNotificationId()], nc.GetCount())
		}
	}
	if len(got) != 2 {
		t.Fatalf("announced %v, want %v", got, want)
	}
}

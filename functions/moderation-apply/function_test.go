package function_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	function "github.com/nova-social/nova/functions/moderation-apply"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/content"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/eventfunc/eventfunctest"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

type everyoneFollows struct{}

func (everyoneFollows) Follows(context.Context, id.UserID, id.UserID) (bool, error) { return true, nil }

// A HIDE decision over HTTP hides the post (its author sees why) and its
// PostUpdated(hidden) reaches content-events through the function's relay;
// FLAG, stale and repeated decisions change nothing; a decision that can
// never apply answers 4xx.
func TestDecisionsAreAppliedToPosts(t *testing.T) {
	k := testrig.Kafka(t)
	dsn := testrig.PostgresURL(t)
	ctx := context.Background()
	fn := eventfunctest.Serve(t, function.New(), map[string]string{"DATABASE_URL": dsn, "KAFKA_BROKERS": strings.Join(k.ListenAddrs(), ",")})

	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	codec := envelope.NewCodec(catalog.Default())
	svc, err := content.New(content.Config{Pool: pool, Outbox: outbox.New(codec), Follows: everyoneFollows{}})
	if err != nil {
		t.Fatal(err)
	}
	author, reader := id.NewUserID(), id.NewUserID()
	p, err := svc.Create(ctx, author, content.NewPost{Content: "buy followers"})
	if err != nil {
		t.Fatal(err)
	}
	flagged, err := svc.Create(ctx, author, content.NewPost{Content: "five links"})
	if err != nil {
		t.Fatal(err)
	}
	decisionMsg := func(post content.Post, action eventsv1.ModerationAction, at time.Time) *eventsv1.ModerationDecision {
		return &eventsv1.ModerationDecision{DecisionId: id.NewPostID().String(), PostId: post.ID, AuthorId: post.AuthorID,
			Action: action, DecidedBy: "auto", ContentAt: timestamppb.New(at), DecidedAt: timestamppb.Now(),
			Reasons: []*eventsv1.ModerationReason{{Code: "blocked_term", Detail: "buy followers"}}}
	}
	decision := func(post content.Post, action eventsv1.ModerationAction, at time.Time) cloudevents.Event {
		e, err := codec.New(decisionMsg(post, action, at))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	hide := decision(p, eventsv1.ModerationAction_MODERATION_ACTION_HIDE, p.CreatedAt)
	for i, e := range []cloudevents.Event{
		hide, hide, // redelivered
		decision(flagged, eventsv1.ModerationAction_MODERATION_ACTION_FLAG, flagged.CreatedAt),
		decision(flagged, eventsv1.ModerationAction_MODERATION_ACTION_HIDE, flagged.CreatedAt.Add(-time.Second)), // stale
	} {
		if code := fn.Status(t, e); code != http.StatusOK {
			t.Fatalf("decision %d answered %d", i, code)
		}
	}
	// A decision without action breaks the contract, so no codec builds
	// it: its data goes in a decision event by hand.
	noAction := decisionMsg(p, eventsv1.ModerationAction_MODERATION_ACTION_UNSPECIFIED, p.CreatedAt)
	if _, err := codec.New(noAction); !errors.Is(err, envelope.ErrContract) {
		t.Fatalf("codec built a decision without action: %v", err)
	}
	withoutAction := decision(p, eventsv1.ModerationAction_MODERATION_ACTION_HIDE, p.CreatedAt)
	data, err := proto.Marshal(noAction)
	if err != nil {
		t.Fatal(err)
	}
	if err := withoutAction.SetData(withoutAction.DataContentType(), data); err != nil {
		t.Fatal(err)
	}
	if code := fn.Status(t, withoutAction); code < 400 || code >= 500 {
		t.Fatalf("a decision without action answered %d, want 4xx", code)
	}

	got, err := svc.Get(ctx, author, id.PostID(p.ID))
	if err != nil || !got.Hidden || got.HiddenReason != "blocked_term: buy followers" {
		t.Fatalf("author reads %+v (%v), want hidden with the reason", got, err)
	}
	if _, err := svc.Get(ctx, reader, id.PostID(p.ID)); err == nil {
		t.Fatal("another user reads the hidden post")
	}
	if got, _ := svc.Get(ctx, author, id.PostID(flagged.ID)); got.Hidden {
		t.Fatal("a FLAG or a stale decision hid a post")
	}

	// content-events: the two PostCreated written here (relayed by the
	// function's relay too: one outbox table) and one PostUpdated(hidden).
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.ListenAddrs()...), kgo.ConsumeTopics(catalog.ContentEvents),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var updates []*eventsv1.PostUpdated
	seen := 0
	for seen < 3 {
		fs := cl.PollFetches(rctx)
		if err := fs.Err(); err != nil {
			t.Fatalf("read content-events (saw %d): %v", seen, err)
		}
		fs.EachRecord(func(rec *kgo.Record) {
			seen++
			cm := &sarama.ConsumerMessage{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Key: rec.Key, Value: rec.Value}
			for _, h := range rec.Headers {
				cm.Headers = append(cm.Headers, &sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
			}
			e, err := kafka.EventFromRecord(cm, kafka.SourceRef{Namespace: "test", Name: "t"})
			if err != nil {
				t.Fatal(err)
			}
			d, err := codec.Decode(e)
			if err != nil {
				t.Fatal(err)
			}
			if u, ok := d.Message.(*eventsv1.PostUpdated); ok {
				updates = append(updates, u)
			}
		})
	}
	if len(updates) != 1 || updates[0].GetPostId() != p.ID || !updates[0].GetHidden() || updates[0].Hidden == nil ||
		updates[0].GetHiddenReason() != "blocked_term: buy followers" {
		t.Fatalf("updates %v, want one PostUpdated(hidden) for %s", updates, p.ID)
	}
}

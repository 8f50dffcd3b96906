package rank_test

import (
	"context"
	"io"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nova-social/nova/functions/ranking/rank"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/emitter"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/testrig"
)

type rig struct {
	t       testing.TB
	ctx     context.Context
	codec   *envelope.Codec
	ranker  *rank.Ranker
	cfg     rank.Config
	brokers []string
}

// newRig is a ranker on the test Redis (under a key prefix of its own)
// emitting through a real producer to kfake.
func newRig(t testing.TB, tune func(*rank.Config)) *rig {
	t.Helper()
	k := testrig.Kafka(t)
	p, err := kafka.NewProducer(kafka.DefaultProducerConfig(k.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	codec := envelope.NewCodec(catalog.Default())
	cfg := rank.DefaultConfig()
	cfg.Prefix = "ranking:test-" + testrig.ID() + ":"
	// Intervals far longer than a test: only explicit flushes emit.
	cfg.EmitInterval, cfg.FlushEvery, cfg.Lease = time.Hour, time.Minute, 2*time.Hour
	if tune != nil {
		tune(&cfg)
	}
	r, err := rank.NewRanker(testrig.Redis(t), emitter.NewKafka(codec, p), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, ctx: context.Background(), codec: codec, ranker: r, cfg: cfg, brokers: k.ListenAddrs()}
}

// send applies msg as an event with that id (fresh when empty).
func (r *rig) send(msg proto.Message, evID string) {
	r.t.Helper()
	opts := []envelope.Option{}
	if evID != "" {
		opts = append(opts, envelope.WithID(evID))
	}
	e, err := r.codec.New(msg, opts...)
	if err != nil {
		r.t.Fatal(err)
	}
	d, err := r.codec.Decode(e)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.ranker.React(r.ctx, d); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) flush(all bool) int {
	r.t.Helper()
	n, err := r.ranker.Flush(r.ctx, all)
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}

// scores reads every PostScoreUpdated on ranking-updates, with its event:
// everything up to the topic's end offsets, which the producer's acks
// already moved past every emitted record.
func (r *rig) scores() ([]*eventsv1.PostScoreUpdated, []cloudevents.Event) {
	r.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...), kgo.ConsumeTopics(catalog.RankingUpdates),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		r.t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(r.ctx, catalog.RankingUpdates)
	if err != nil {
		r.t.Fatal(err)
	}
	var want int64
	ends.Each(func(o kadm.ListedOffset) { want += o.Offset })
	ctx, cancel := context.WithTimeout(r.ctx, 30*time.Second)
	defer cancel()
	var msgs []*eventsv1.PostScoreUpdated
	var evs []cloudevents.Event
	for int64(len(msgs)) < want {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			r.t.Fatalf("read ranking-updates: %v", err)
		}
		fs.EachRecord(func(rec *kgo.Record) {
			cm := &sarama.ConsumerMessage{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Key: rec.Key, Value: rec.Value}
			for _, h := range rec.Headers {
				cm.Headers = append(cm.Headers, &sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
			}
			e, err := kafka.EventFromRecord(cm, kafka.SourceRef{Namespace: "test", Name: "t"})
			if err != nil {
				r.t.Fatal(err)
			}
			d, err := r.codec.Decode(e)
			if err != nil {
				r.t.Fatal(err)
			}
			msgs = append(msgs, d.Message.(*eventsv1.PostScoreUpdated))
			evs = append(evs, e)
		})
	}
	return msgs, evs
}

func engagement(post, author string, kind eventsv1.EngagementKind, at time.Time) *eventsv1.Engagement {
	return &eventsv1.Engagement{EngagementId: uuid.NewString(), PostId: post, UserId: uuid.NewString(), AuthorId: author,
		Kind: kind, OccurredAt: timestamppb.New(at)}
}

const like = eventsv1.EngagementKind_ENGAGEMENT_KIND_LIKE

func TestScoreFormula(t *testing.T) {
	cfg := rank.DefaultConfig()
	now := time.Now()
	fresh := cfg.Score(rank.Counters{}, now)
	// Twice the engagement (plus one) makes up for one half-life of age.
	older := cfg.Score(rank.Counters{Likes: 1}, now.Add(-cfg.HalfLife))
	if math.Abs(fresh-older) > 1e-9 {
		t.Fatalf("one like half a life older scores %v, a fresh post %v; want equal", older, fresh)
	}
	if cfg.Score(rank.Counters{Likes: -3}, now) != fresh {
		t.Fatal("negative likes (unlike seen before like) counted")
	}
	a := cfg.Score(rank.Counters{Comments: 1}, now)
	b := cfg.Score(rank.Counters{Likes: 1}, now)
	if a <= b {
		t.Fatalf("a comment (%v) should outweigh a like (%v)", a, b)
	}
	bad := rank.DefaultConfig()
	bad.HalfLife, bad.Weights.Like = 0, -1
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "half life") || !strings.Contains(err.Error(), "like") {
		t.Fatalf("Validate = %v", err)
	}
}

// A burst of engagement on one post is announced once per interval, with
// the newest counters; a redelivered event counts once.
func TestBurstIsCoalescedAndRedeliveryCountsOnce(t *testing.T) {
	r := newRig(t, nil)
	post, author := uuid.NewString(), uuid.NewString()
	created := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	r.send(&eventsv1.PostCreated{PostId: post, UserId: author, Content: "x", CreatedAt: timestamppb.New(created)}, "")
	for i := range 50 {
		e := engagement(post, author, like, time.Now())
		id := uuid.NewString()
		r.send(e, id)
		if i%10 == 0 {
			r.send(e, id) // a redelivery
		}
	}
	r.send(engagement(post, author, eventsv1.EngagementKind_ENGAGEMENT_KIND_COMMENT, time.Now()), "")

	// The post is due once (its first schedule); later engagement does not
	// add entries.
	if n := r.flush(false); n != 1 {
		t.Fatalf("first flush emitted %d, want 1", n)
	}
	// Not due again before the interval: nothing more until Stop's flush.
	if n := r.flush(false); n != 0 {
		t.Fatalf("second flush emitted %d, want 0", n)
	}
	msgs, _ := r.scores()
	if len(msgs) != 1 {
		t.Fatalf("%d events, want 1", len(msgs))
	}
	m := msgs[0]
	want := r.cfg.Score(rank.Counters{Likes: 50, Comments: 1}, created)
	if m.GetPostId() != post || m.GetAuthorId() != author || m.GetLikes() != 50 || m.GetComments() != 1 || math.Abs(m.GetScore()-want) > 1e-9 {
		t.Fatalf("event %v, want 50 likes, 1 comment, score %v", m, want)
	}
}

// Engagement arriving while a post is announced makes it due again one
// interval later; Stop's flush (all) sends it at once, so nothing waits.
func TestPendingScoreIsFlushedOnStop(t *testing.T) {
	r := newRig(t, nil)
	post, author := uuid.NewString(), uuid.NewString()
	r.send(engagement(post, author, like, time.Now()), "")
	if n := r.flush(false); n != 1 {
		t.Fatalf("flush emitted %d", n)
	}
	r.send(engagement(post, author, like, time.Now()), "")
	if n := r.flush(false); n != 0 {
		t.Fatalf("due before the interval: emitted %d", n)
	}
	if n := r.flush(true); n != 1 {
		t.Fatalf("stop flush emitted %d, want 1", n)
	}
	msgs, evs := r.scores()
	if len(msgs) != 2 || msgs[1].GetLikes() != 2 || msgs[0].GetLikes() != 1 {
		t.Fatalf("events %v", msgs)
	}
	if evs[0].ID() == evs[1].ID() {
		t.Fatal("two versions share an event id")
	}
	// The engagement time stood in for the unknown creation time.
	if msgs[0].GetScore() <= 0 {
		t.Fatalf("score %v", msgs[0].GetScore())
	}
}

// A replica that took a post and died before emitting leaves it leased;
// once the lease ends another flush emits it, with the same event id a
// completed first attempt would have had.
func TestLostLeaseIsTakenAgain(t *testing.T) {
	r := newRig(t, func(c *rank.Config) {
		c.Lease, c.FlushEvery, c.EmitInterval = 50*time.Millisecond, 10*time.Millisecond, 10*time.Millisecond
	})
	post := uuid.NewString()
	r.send(engagement(post, uuid.NewString(), like, time.Now()), "")
	if err := r.ranker.TakeOnly(r.ctx); err != nil { // the "crash"
		t.Fatal(err)
	}
	if n := r.flush(false); n != 0 {
		t.Fatalf("a leased post was taken again at once (%d)", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.flush(false) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the post was never emitted after its lease ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if msgs, _ := r.scores(); len(msgs) != 1 || msgs[0].GetPostId() != post {
		t.Fatalf("events %v", msgs)
	}
}

func TestDeletedPostIsNoLongerScored(t *testing.T) {
	r := newRig(t, nil)
	post, author := uuid.NewString(), uuid.NewString()
	r.send(engagement(post, author, like, time.Now()), "")
	r.send(&eventsv1.PostDeleted{PostId: post, UserId: author, DeletedAt: timestamppb.Now()}, "")
	r.send(engagement(post, author, like, time.Now()), "")
	if n := r.flush(true); n != 0 {
		t.Fatalf("a deleted post's score was emitted (%d)", n)
	}
	// Other events are acknowledged and ignored.
	r.send(&eventsv1.UserFollowed{FollowerId: uuid.NewString(), FolloweeId: author, FollowedAt: timestamppb.Now()}, "")
}

func TestLikeThenUnlikeAnnouncesNothingNew(t *testing.T) {
	r := newRig(t, nil)
	post, author := uuid.NewString(), uuid.NewString()
	r.send(engagement(post, author, like, time.Now()), "")
	r.flush(true)
	r.send(engagement(post, author, eventsv1.EngagementKind_ENGAGEMENT_KIND_UNLIKE, time.Now()), "")
	r.send(engagement(post, author, like, time.Now()), "")
	if n := r.flush(true); n != 0 {
		t.Fatalf("an unchanged score was announced again (%d)", n)
	}
}

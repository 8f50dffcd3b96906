package function_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/timestamppb"

	function "github.com/nova-social/nova/functions/trust-safety"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/eventfunc/eventfunctest"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/testrig"
)

// Posts arriving over HTTP through func-go's http runtime are judged with the rules the
// environment sets, and the decisions reach trust-safety-events through the
// function's outbox relay.
func TestPostsAreJudgedAndDecisionsPublished(t *testing.T) {
	k := testrig.Kafka(t)
	fn := eventfunctest.Serve(t, function.New(), map[string]string{
		"DATABASE_URL": testrig.PostgresURL(t), "REDIS_URL": testrig.RedisURL(t),
		"KAFKA_BROKERS": strings.Join(k.ListenAddrs(), ","), "MODERATION_KEY_PREFIX": "trust-safety:test-" + testrig.ID() + ":",
		"MODERATION_BLOCKED_TERMS": "forbidden fruit", "MODERATION_PATTERNS": `(?i)\bscam+\b`,
	})
	codec := envelope.NewCodec(catalog.Default())
	author := uuid.NewString()
	posts := map[string]string{ // post id → text
		uuid.NewString(): "an apple a day",
		uuid.NewString(): "the Forbidden Fruit tastes best",
		uuid.NewString(): "not a SCAMMM at all",
		uuid.NewString(): "buy followers", // a default term, cleared by the env
	}
	want := map[string]eventsv1.ModerationAction{}
	for pid, text := range posts {
		e, err := codec.New(&eventsv1.PostCreated{PostId: pid, UserId: author, Content: text, CreatedAt: timestamppb.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if code := fn.Status(t, e); code != http.StatusOK {
			t.Fatalf("PostCreated answered %d", code)
		}
		want[pid] = eventsv1.ModerationAction_MODERATION_ACTION_ALLOW
		if strings.Contains(text, "Fruit") || strings.Contains(text, "SCAM") {
			want[pid] = eventsv1.ModerationAction_MODERATION_ACTION_HIDE
		}
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(k.ListenAddrs()...), kgo.ConsumeTopics(catalog.TrustSafetyEvents),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := map[string]eventsv1.ModerationAction{}
	for len(got) < len(posts) {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatalf("read trust-safety-events (have %v): %v", got, err)
		}
		fs.EachRecord(func(rec *kgo.Record) {
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
			m := d.Message.(*eventsv1.ModerationDecision)
			if e.Source() != "/nova/trust-safety-service" || e.ID() != m.GetDecisionId() || string(rec.Key) != m.GetPostId() {
				t.Fatalf("event %s from %s keyed %s carries %v", e.ID(), e.Source(), rec.Key, m)
			}
			got[m.GetPostId()] = m.GetAction()
		})
	}
	for pid, w := range want {
		if got[pid] != w {
			t.Errorf("%q: %s, want %s", posts[pid], got[pid], w)
		}
	}
}

func TestConfigFromRefusesBadRules(t *testing.T) {
	base := map[string]string{"DATABASE_URL": "postgres://x", "REDIS_URL": "redis://x", "KAFKA_BROKERS": "k:9092"}
	for k, v := range map[string]string{"MODERATION_PATTERNS": "(", "MODERATION_MAX_LINKS": "many",
		"MODERATION_REPEAT_THRESHOLD": "1", "MODERATION_REPEAT_WINDOW": "soon"} {
		env := map[string]string{k: v}
		for bk, bv := range base {
			env[bk] = bv
		}
		if _, err := function.ConfigFrom(env); err == nil {
			t.Errorf("%s=%s accepted", k, v)
		}
	}
	c, err := function.ConfigFrom(base)
	if err != nil || len(c.Rules.BlockedTerms) == 0 {
		t.Fatalf("defaults: %+v %v", c.Rules, err)
	}
}

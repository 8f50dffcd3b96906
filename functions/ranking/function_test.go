package function_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/timestamppb"
	fhttp "knative.dev/func-go/http"

	function "github.com/nova-social/nova/functions/ranking"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/eventfunc/eventfunctest"
	"github.com/nova-social/nova/shared/testrig"
)

// Engagement posted over HTTP through func-go's http runtime is counted; Stop flushes the
// pending score to ranking-updates although its flusher never ran.
func TestEngagementOverHTTPIsAnnouncedByStop(t *testing.T) {
	k := testrig.Kafka(t)
	f := function.New()
	env := map[string]string{
		"REDIS_URL": testrig.RedisURL(t), "KAFKA_BROKERS": strings.Join(k.ListenAddrs(), ","),
		"RANKING_KEY_PREFIX": "ranking:test-" + testrig.ID() + ":", "RANKING_FLUSH_EVERY": "20s",
	}
	iss := eventfunctest.NewIssuer(t)
	if err := f.Start(context.Background(), iss.Env(env)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fhttp.New(f).Handler)
	defer srv.Close()
	fn := iss.Server(srv.URL, "ranking")
	eventfunctest.AwaitReady(t, srv.URL, 30*time.Second)
	codec := envelope.NewCodec(catalog.Default())
	post := uuid.NewString()
	for range 3 {
		e, err := codec.New(&eventsv1.Engagement{EngagementId: uuid.NewString(), PostId: post, UserId: uuid.NewString(),
			AuthorId: uuid.NewString(), Kind: eventsv1.EngagementKind_ENGAGEMENT_KIND_LIKE, OccurredAt: timestamppb.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if code := fn.Status(t, e); code != http.StatusOK {
			t.Fatalf("engagement answered %d", code)
		}
	}
	bad := cloudevents.NewEvent()
	bad.SetID(uuid.NewString())
	bad.SetSource("/nova/content-service")
	bad.SetType("com.example.unknown")
	if code := fn.Status(t, bad); code < 400 || code >= 500 {
		t.Fatalf("unknown type answered %d, want 4xx", code)
	}
	if err := f.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(k.ListenAddrs()...), kgo.ConsumeTopics(catalog.RankingUpdates),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), catalog.RankingUpdates)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	if n != 1 {
		t.Fatalf("%d PostScoreUpdated records, want 1 for three likes", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	recs := cl.PollFetches(ctx).Records()
	if len(recs) != 1 || string(recs[0].Key) != post {
		t.Fatalf("records %v, want one keyed by the post", recs)
	}
}

func TestConfigFromRefusesBadValues(t *testing.T) {
	base := map[string]string{"REDIS_URL": "redis://x", "KAFKA_BROKERS": "k:9092"}
	for k, v := range map[string]string{"RANKING_HALF_LIFE": "soon", "RANKING_WEIGHT_LIKE": "-1", "RANKING_EMIT_INTERVAL": "0s"} {
		env := map[string]string{k: v}
		for bk, bv := range base {
			env[bk] = bv
		}
		if _, err := function.ConfigFrom(env); err == nil {
			t.Errorf("%s=%s accepted", k, v)
		}
	}
	if _, err := function.ConfigFrom(map[string]string{"REDIS_URL": "redis://x"}); err == nil {
		t.Error("missing KAFKA_BROKERS accepted")
	}
}

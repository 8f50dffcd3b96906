package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/feed"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/emitter"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/testrig"
)

// BenchmarkPostToFeeds measures, on the whole local runtime, the time from
// POST /v1/posts returning to the post being in all 1,000 followers'
// feeds (outbox → relay → Kafka → dispatcher → feed-fanout → Redis). The
// same-run baseline is the fan-out alone: feed.Store.PostCreated to the
// same 1,000 followers, called directly.
//
//	go test -run '^$' -bench PostToFeeds -benchtime 100x ./internal/e2e
func BenchmarkPostToFeeds(b *testing.B) {
	const followers = 1000
	r := start(b)
	author := r.register("author")
	fans := seedFollowers(b, r, author.ID, followers)
	rdb := testrig.Redis(b)
	ctx := context.Background()

	var endToEnd, fanoutOnly []time.Duration
	for b.Loop() {
		p := r.must(http.StatusCreated, "POST", "/v1/posts", author.Token, map[string]any{"content": "bench", "visibility": "PUBLIC"})
		returned := time.Now()
		waitInFeeds(b, rdb, fans, p["id"].(string))
		endToEnd = append(endToEnd, time.Since(returned))
	}
	store, err := feed.NewStore(rdb, feed.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	for range len(endToEnd) {
		now := time.Now()
		begin := time.Now()
		if _, err := store.PostCreated(ctx, post.Summary{ID: uuid.Must(uuid.NewV7()).String(), AuthorID: author.ID,
			Visibility: post.Public, Type: post.Text, CreatedAt: now, UpdatedAt: now}); err != nil {
			b.Fatal(err)
		}
		fanoutOnly = append(fanoutOnly, time.Since(begin))
	}
	testrig.ReportLatency(b, "e2e", endToEnd)
	testrig.ReportLatency(b, "fanout-only", fanoutOnly)
}

// BenchmarkFeedRead measures GET /v1/feed with 50 items at a steady 500
// requests/s (open loop: requests start on schedule whether or not earlier
// ones finished). The same-run baseline is GET /v1/.well-known/jwks.json at
// the same rate: the server's cost without the feed.
//
//	go test -run '^$' -bench FeedRead -benchtime 1x ./internal/e2e
func BenchmarkFeedRead(b *testing.B) {
	r := start(b)
	author, reader := r.register("author"), r.register("reader")
	r.follow(reader, author)
	var last string
	for range 60 {
		last = r.post(author, "a post to read", "PUBLIC")
	}
	r.eventually("60 posts in the reader's feed", func() (bool, string) {
		ids, _ := r.feed(reader)
		return len(ids) == 60 && ids[0] == last, fmt.Sprint(len(ids))
	})
	for b.Loop() {
		testrig.ReportLatency(b, "feed", steady(b, r.api+"/v1/feed?limit=50", reader.Token, 500, 10*time.Second))
		testrig.ReportLatency(b, "jwks-baseline", steady(b, r.api+"/v1/.well-known/jwks.json", "", 500, 10*time.Second))
	}
}

// steady sends GETs at rate per second for d and returns their latencies.
func steady(b *testing.B, url, token string, rate int, d time.Duration) []time.Duration {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 5 * time.Second}
	n := int(d.Seconds() * float64(rate))
	lat := make([]time.Duration, n)
	interval := time.Second / time.Duration(rate)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed int
	begin := time.Now()
	for i := range n {
		time.Sleep(time.Until(begin.Add(time.Duration(i) * interval)))
		wg.Go(func() {
			req, _ := http.NewRequest("GET", url, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			t0 := time.Now()
			resp, err := client.Do(req)
			if err == nil {
				_, _ = resp.Body.Read(make([]byte, 1))
				for {
					buf := make([]byte, 32<<10)
					if _, e := resp.Body.Read(buf); e != nil {
						break
					}
				}
				resp.Body.Close()
			}
			lat[i] = time.Since(t0)
			if err != nil || resp.StatusCode != http.StatusOK {
				mu.Lock()
				failed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if failed > 0 {
		b.Fatalf("%d of %d requests to %s failed", failed, n, url)
	}
	return lat
}

// seedFollowers makes n followers of author through the event path: a
// UserFollowed each on user-events, handled by feed-fanout like any other.
// (Registering n accounts would spend minutes hashing passwords.)
func seedFollowers(b *testing.B, r *rig, author string, n int) []string {
	p, err := kafka.NewProducer(r.producerConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	em := emitter.NewKafka(envelope.NewCodec(catalog.Default()), p)
	fans := make([]string, n)
	ctx := context.Background()
	for i := range fans {
		fans[i] = uuid.Must(uuid.NewV7()).String()
		if err := em.Emit(ctx, &eventsv1.UserFollowed{FollowerId: fans[i], FolloweeId: author, FollowedAt: timestamppb.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	r.settle()
	return fans
}

// waitInFeeds polls until post is in every fan's feed.
func waitInFeeds(b *testing.B, rdb *redis.Client, fans []string, postID string) {
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		pipe := rdb.Pipeline()
		cmds := make([]*redis.FloatCmd, len(fans))
		for i, f := range fans {
			cmds[i] = pipe.ZScore(ctx, feed.FeedKey(f), postID)
		}
		pipe.Exec(ctx)
		missing := 0
		for _, c := range cmds {
			if c.Err() != nil {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("post %s missing from %d feeds after 30s", postID, missing)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

package search_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/search"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// benchPosts is the size of the generated index: NOVA_BENCH_SEARCH_POSTS,
// default one million.
func benchPosts(b *testing.B) int {
	n := 1_000_000
	if v := os.Getenv("NOVA_BENCH_SEARCH_POSTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			b.Fatalf("NOVA_BENCH_SEARCH_POSTS=%q: want an integer >= 1000", v)
		}
	}
	return n
}

// BenchmarkSearch1M searches an index of generated posts (built once per
// run, its build time reported as build-s) and reports each query shape's
// latency percentiles, against a same-run baseline: a primary-key lookup
// of a post in the same table.
//
// The corpus: 10,000 authors; 12 words a post drawn from three vocabularies
// (common: 50 words, each in ~2% of posts; medium: 5,000 words, ~0.2%;
// rare: 500,000 words, a few posts each); one tag of 200; 80% PUBLIC, 10%
// FOLLOWERS_ONLY, 10% PRIVATE, 1% hidden; ages spread over 90 days. The
// viewer follows 100 authors. 100,000 users with random 10-character
// usernames for the user search, queried by a 6-character part of one.
func BenchmarkSearch1M(b *testing.B) {
	ctx := context.Background()
	n := benchPosts(b)
	pool := testrig.Postgres(b)
	if err := search.Migrate(ctx, pool); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for _, sql := range []string{
		// Bulk load without the indexes, then build them, as a restore would.
		`DROP INDEX search_posts_document, search_posts_tags`,
		`INSERT INTO search_posts (post_id, author_id, content, tags, visibility, hidden, created_at, updated_at)
		 SELECT md5('p' || i)::uuid, md5('a' || (i % 10000))::uuid,
		        concat_ws(' ', 'c' || (i % 50), 'm' || ((i * 7919) % 5000), 'r' || ((i * 104729) % 500000),
		                  'c' || ((i * 31) % 50), 'm' || ((i * 13) % 5000), 'r' || ((i * 7) % 500000),
		                  'c' || ((i * 17) % 50), 'm' || ((i * 101) % 5000), 'r' || ((i * 1009) % 500000),
		                  'm' || ((i * 3) % 5000), 'r' || ((i * 11) % 500000), 'r' || ((i * 13) % 500000)),
		        ARRAY['t' || (i % 200)],
		        CASE WHEN i % 10 = 1 THEN 'FOLLOWERS_ONLY' WHEN i % 10 = 2 THEN 'PRIVATE' ELSE 'PUBLIC' END,
		        i % 100 = 3,
		        now() - (i % 129600) * interval '1 minute', now() - (i % 129600) * interval '1 minute'
		 FROM generate_series(1::bigint, ` + strconv.Itoa(n) + `) AS i`,
		`CREATE INDEX search_posts_document ON search_posts USING gin (document) WHERE deleted_at IS NULL AND NOT hidden`,
		`CREATE INDEX search_posts_tags ON search_posts USING gin (tag_keys) WHERE deleted_at IS NULL AND NOT hidden`,
		`INSERT INTO search_users (user_id, username, display_name, updated_at)
		 SELECT md5('a' || i)::uuid, substr(md5('n' || i), 1, 4) || substr(md5('x' || i), 1, 6), 'Person ' || i, now()
		 FROM generate_series(0, 99999) AS i`,
		`INSERT INTO search_follows (follower_id, followee_id, following, changed_at)
		 SELECT md5('viewer')::uuid, md5('a' || (i * 97 % 10000))::uuid, true, now() FROM generate_series(1, 100) AS i`,
		`ANALYZE search_posts`, `ANALYZE search_users`, `ANALYZE search_follows`,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			b.Fatalf("build: %v\n%s", err, sql)
		}
	}
	build := time.Since(start)
	b.Logf("built %d posts and their indexes in %s", n, build.Round(time.Millisecond))

	svc, err := search.New(search.Config{Pool: pool, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	var viewer id.UserID
	if err := pool.QueryRow(ctx, `SELECT md5('viewer')::uuid::text`).Scan(&viewer); err != nil {
		b.Fatal(err)
	}
	run := func(name string, op func(i int) error) {
		b.Run(name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				t0 := time.Now()
				if err := op(i); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(lat)
			pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(build.Seconds(), "build-s")
		})
	}
	posts := func(q func(i int) string) func(int) error {
		return func(i int) error {
			_, _, err := svc.Posts(ctx, viewer, q(i), nil, 20)
			return err
		}
	}
	run("baseline-lookup-by-id", func(i int) error {
		var content string
		return pool.QueryRow(ctx, `SELECT content FROM search_posts WHERE post_id = md5('p' || $1::int)::uuid`, i%n+1).Scan(&content)
	})
	run("rare-word", posts(func(i int) string { return fmt.Sprintf("r%d", (i*7)%500000) }))
	run("medium-word", posts(func(i int) string { return fmt.Sprintf("m%d", (i*7)%5000) }))
	run("two-medium-words", posts(func(i int) string { return fmt.Sprintf("m%d m%d", i%5000, (i*7919)%5000) }))
	run("common-word", posts(func(i int) string { return fmt.Sprintf("c%d", i%50) }))
	run("tag", posts(func(i int) string { return fmt.Sprintf("#t%d", i%200) }))
	run("tag-and-medium-word", posts(func(i int) string { return fmt.Sprintf("#t%d m%d", i%200, i%5000) }))
	run("users-partial", func(i int) error {
		// The first six characters of an existing username.
		var part string
		if err := pool.QueryRow(ctx, `SELECT substr(md5('n' || $1::int), 1, 4) || substr(md5('x' || $1::int), 1, 2)`, i%100000).Scan(&part); err != nil {
			return err
		}
		_, _, err := svc.Users(ctx, part, nil, 20)
		return err
	})
}

// BenchmarkIndexPosts measures indexing throughput through the Indexer
// (one upsert per PostCreated, the tsvector and the GIN indexes maintained)
// against a same-run baseline: the same rows as plain INSERTs into an
// unindexed table of the same columns.
func BenchmarkIndexPosts(b *testing.B) {
	ctx := context.Background()
	pool := testrig.Postgres(b)
	if err := search.Migrate(ctx, pool); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE plain_posts (post_id uuid PRIMARY KEY, author_id uuid NOT NULL, content text NOT NULL,
		tags text[] NOT NULL, visibility text NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	ix := search.NewIndexer(pool, quiet())
	authors := make([]string, 100)
	for i := range authors {
		authors[i] = id.NewUserID().String()
	}
	msg := func(i int) *eventsv1.PostCreated {
		return &eventsv1.PostCreated{PostId: id.NewPostID().String(), UserId: authors[i%len(authors)],
			Content:    fmt.Sprintf("post %d about kayaks, fjords and the weather on day %d with a few more words", i, i%365),
			Tags:       []string{"t" + strconv.Itoa(i%200), "bench"},
			Visibility: eventsv1.PostVisibility_POST_VISIBILITY_PUBLIC, CreatedAt: timestamppb.Now()}
	}
	b.Run("baseline-plain-insert", func(b *testing.B) {
		ms := make([]*eventsv1.PostCreated, b.N)
		for i := range ms {
			ms[i] = msg(i)
		}
		b.ResetTimer()
		for _, m := range ms {
			if _, err := pool.Exec(ctx, `INSERT INTO plain_posts VALUES ($1, $2, $3, $4, $5, $6, $6)`,
				m.PostId, m.UserId, m.Content, m.Tags, "PUBLIC", m.CreatedAt.AsTime()); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
	})
	b.Run("indexer", func(b *testing.B) {
		ms := make([]*eventsv1.PostCreated, b.N)
		for i := range ms {
			ms[i] = msg(i)
		}
		b.ResetTimer()
		for _, m := range ms {
			if err := ix.PostCreated(ctx, m, m.CreatedAt.AsTime()); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
	})
}

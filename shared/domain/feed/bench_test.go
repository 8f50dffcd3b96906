package feed_test

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/shared/domain/feed"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/testrig"
)

// BenchmarkFanout measures feed inserts per second for one post to N
// followers, beside two same-run baselines: redis-benchmark pipelining 64
// ZADDs (the server's ceiling) and the design document's loop of one awaited
// ZADD per follower.
//
//	go test -run '^$' -bench Fanout -benchtime 3x ./shared/domain/feed
func BenchmarkFanout(b *testing.B) {
	rdb := testrig.Redis(b)
	ctx := context.Background()
	for _, n := range []int{10_000, 100_000} {
		author := newID()
		seedFollowers(b, rdb, author, n)
		b.Run(fmt.Sprintf("redis-benchmark-P64/followers=%d", n), func(b *testing.B) {
			var rate float64
			for b.Loop() {
				rate = redisBenchmarkZADD(b, n)
			}
			b.ReportMetric(rate, "inserts/s")
			deletePattern(b, rdb, "feedbench:*")
		})
		b.Run(fmt.Sprintf("naive/followers=%d", n), func(b *testing.B) {
			followers := rdb.SMembers(ctx, "followers:"+author).Val()
			var inserts int
			start := time.Now()
			for b.Loop() {
				id := newID()
				for _, f := range followers {
					if err := rdb.ZAdd(ctx, "feed:"+f, redis.Z{Score: 1, Member: id}).Err(); err != nil {
						b.Fatal(err)
					}
				}
				inserts += len(followers)
			}
			b.ReportMetric(float64(inserts)/time.Since(start).Seconds(), "inserts/s")
		})
		b.Run(fmt.Sprintf("nova/followers=%d", n), func(b *testing.B) {
			store, err := feed.NewStore(rdb, feed.DefaultConfig())
			if err != nil {
				b.Fatal(err)
			}
			var inserts int64
			start := time.Now()
			for b.Loop() {
				now := time.Now()
				res, err := store.PostCreated(ctx, post.Summary{ID: newID(), AuthorID: author, Visibility: post.Public,
					Type: post.Text, CreatedAt: now, UpdatedAt: now})
				if err != nil {
					b.Fatal(err)
				}
				inserts += res.FeedsWritten
			}
			b.ReportMetric(float64(inserts)/time.Since(start).Seconds(), "inserts/s")
		})
		cleanupFollowers(b, rdb, author)
	}
}

func seedFollowers(b *testing.B, rdb *redis.Client, author string, n int) {
	b.Helper()
	ctx := context.Background()
	pipe := rdb.Pipeline()
	for i := range n {
		pipe.SAdd(ctx, "followers:"+author, fmt.Sprintf("bench-%s-%d", author[:8], i))
		if i%5000 == 4999 {
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		b.Fatal(err)
	}
}

func cleanupFollowers(b *testing.B, rdb *redis.Client, author string) {
	ctx := context.Background()
	followers := rdb.SMembers(ctx, "followers:"+author).Val()
	pipe := rdb.Pipeline()
	for i, f := range followers {
		pipe.Del(ctx, "feed:"+f)
		if i%5000 == 4999 {
			pipe.Exec(ctx)
		}
	}
	pipe.Del(ctx, "followers:"+author, "author:posts:"+author)
	pipe.Exec(ctx)
}

var rpsLine = regexp.MustCompile(`([0-9.]+) requests per second`)

// redisBenchmarkZADD runs redis-benchmark -P 64 with n ZADDs over n keys and
// returns its requests per second.
func redisBenchmarkZADD(b *testing.B, n int) float64 {
	b.Helper()
	cmd := exec.Command("redis-benchmark", "-h", "127.0.0.1", "-p", "6379", "-P", "64", "-c", "1",
		"-n", strconv.Itoa(n), "-r", strconv.Itoa(n), "-q",
		"ZADD", "feedbench:__rand_int__", "1", "member")
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("redis-benchmark (Debian package redis-tools): %v", err)
	}
	var rate float64
	sc := bufio.NewScanner(out)
	sc.Split(scanCRLF)
	for sc.Scan() {
		if m := rpsLine.FindStringSubmatch(sc.Text()); m != nil {
			rate, _ = strconv.ParseFloat(m[1], 64)
		}
	}
	if err := cmd.Wait(); err != nil {
		b.Fatalf("redis-benchmark: %v", err)
	}
	if rate == 0 {
		b.Fatal("redis-benchmark printed no rate")
	}
	return rate
}

// scanCRLF splits on \n and \r: redis-benchmark redraws its progress line
// with carriage returns.
func scanCRLF(data []byte, atEOF bool) (int, []byte, error) {
	for i, c := range data {
		if c == '\n' || c == '\r' {
			return i + 1, data[:i], nil
		}
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

func deletePattern(b *testing.B, rdb *redis.Client, pattern string) {
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) == 1000 {
			rdb.Unlink(ctx, keys...)
			keys = keys[:0]
		}
	}
	if len(keys) > 0 {
		rdb.Unlink(ctx, keys...)
	}
	if err := iter.Err(); err != nil {
		b.Fatal(err)
	}
}

package rank

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/envelope"
)

// Emitter publishes an event; *emitter.Kafka is one.
type Emitter interface {
	Emit(ctx context.Context, msg proto.Message, opts ...envelope.Option) error
}

// Ranker applies events to the counters and emits scores. It is safe for
// concurrent use; Run may run in several replicas at once.
type Ranker struct {
	rdb  *redis.Client
	emit Emitter
	cfg  Config
	log  *slog.Logger

	emitted atomic.Int64
}

// NewRanker returns a ranker over rdb emitting through emit.
func NewRanker(rdb *redis.Client, emit Emitter, cfg Config, log *slog.Logger) (*Ranker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if rdb == nil || emit == nil {
		return nil, errors.New("ranking: ranker needs Redis and an emitter")
	}
	if log == nil {
		log = slog.Default()
	}
	return &Ranker{rdb: rdb, emit: emit, cfg: cfg, log: log}, nil
}

// Emitted is how many PostScoreUpdated this ranker has emitted.
func (r *Ranker) Emitted() int64 { return r.emitted.Load() }

func (r *Ranker) postKey(id string) string { return r.cfg.Prefix + "post:" + id }
func (r *Ranker) goneKey(id string) string { return r.cfg.Prefix + "gone:" + id }
func (r *Ranker) pendingKey() string       { return r.cfg.Prefix + "pending" }
func (r *Ranker) processedKey(src, id string) string {
	return r.cfg.Prefix + "processed:" + src + ":" + id
}

// bump is the one script every counted event runs: it sets the processed
// marker (and stops if it was set), changes one field, bumps the version
// and schedules the post no earlier than one interval after its last emit.
//
// KEYS: processed, post, pending, gone.
// ARGV: field, delta, mode ("seen" = engagement time, "created" = creation
// time), time ms, author, now ms, interval ms, ttl s, retention s, post id.
var bump = redis.NewScript(`
if redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('SET', KEYS[1], '1', 'EX', ARGV[8])
  return 0
end
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[8]) then return 0 end
if ARGV[1] ~= '' then redis.call('HINCRBY', KEYS[2], ARGV[1], ARGV[2]) end
if ARGV[3] == 'created' then
  redis.call('HSET', KEYS[2], 'created', ARGV[4])
else
  local seen = tonumber(redis.call('HGET', KEYS[2], 'seen'))
  if not seen or tonumber(ARGV[4]) < seen then redis.call('HSET', KEYS[2], 'seen', ARGV[4]) end
end
if ARGV[5] ~= '' then redis.call('HSETNX', KEYS[2], 'author', ARGV[5]) end
redis.call('HINCRBY', KEYS[2], 'v', 1)
redis.call('HSET', KEYS[2], 'vt', ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[9])
local last = tonumber(redis.call('HGET', KEYS[2], 'last')) or 0
local due = math.max(tonumber(ARGV[6]), last + tonumber(ARGV[7]))
redis.call('ZADD', KEYS[3], 'NX', due, ARGV[10])
return 1
`)

// React applies one decoded event. Events of other types are ignored.
func (r *Ranker) React(ctx context.Context, d envelope.Decoded) error {
	src, evID := envelope.DedupeKey(d.Event)
	switch m := d.Message.(type) {
	case *eventsv1.Engagement:
		field, delta := "", int64(1)
		switch m.GetKind() {
		case eventsv1.EngagementKind_ENGAGEMENT_KIND_VIEW:
			field = "views"
		case eventsv1.EngagementKind_ENGAGEMENT_KIND_LIKE:
			field = "likes"
		case eventsv1.EngagementKind_ENGAGEMENT_KIND_UNLIKE:
			field, delta = "likes", -1
		case eventsv1.EngagementKind_ENGAGEMENT_KIND_COMMENT:
			field = "comments"
		case eventsv1.EngagementKind_ENGAGEMENT_KIND_SHARE:
			field = "shares"
		default:
			return nil // a kind that does not count
		}
		if m.GetPostId() == "" {
			return nil
		}
		at := eventTime(d, m.GetOccurredAt())
		_, err := r.run(ctx, src, evID, m.GetPostId(), field, delta, "seen", at, m.GetAuthorId())
		return err
	case *eventsv1.PostCreated:
		if m.GetPostId() == "" {
			return nil
		}
		_, err := r.run(ctx, src, evID, m.GetPostId(), "", 0, "created", eventTime(d, m.GetCreatedAt()), m.GetUserId())
		return err
	case *eventsv1.PostDeleted:
		return r.forget(ctx, m.GetPostId())
	default:
		return nil
	}
}

// Record counts one engagement directly (what React does for an Engagement
// event with that source and id); it reports false for a duplicate.
func (r *Ranker) Record(ctx context.Context, src, evID, postID, author string, kind eventsv1.EngagementKind, at time.Time) (bool, error) {
	field, delta := map[eventsv1.EngagementKind]string{
		eventsv1.EngagementKind_ENGAGEMENT_KIND_VIEW: "views", eventsv1.EngagementKind_ENGAGEMENT_KIND_LIKE: "likes",
		eventsv1.EngagementKind_ENGAGEMENT_KIND_UNLIKE: "likes", eventsv1.EngagementKind_ENGAGEMENT_KIND_COMMENT: "comments",
		eventsv1.EngagementKind_ENGAGEMENT_KIND_SHARE: "shares",
	}[kind], int64(1)
	if kind == eventsv1.EngagementKind_ENGAGEMENT_KIND_UNLIKE {
		delta = -1
	}
	return r.run(ctx, src, evID, postID, field, delta, "seen", at, author)
}

func (r *Ranker) run(ctx context.Context, src, evID, postID, field string, delta int64, mode string, at time.Time, author string) (bool, error) {
	n, err := bump.Run(ctx, r.rdb,
		[]string{r.processedKey(src, evID), r.postKey(postID), r.pendingKey(), r.goneKey(postID)},
		field, delta, mode, at.UnixMilli(), author, time.Now().UnixMilli(), r.cfg.EmitInterval.Milliseconds(),
		int64(r.cfg.ProcessedTTL/time.Second), int64(r.cfg.Retention/time.Second), postID).Int()
	if err != nil {
		return false, fmt.Errorf("ranking: count %s on %s: %w", src+"/"+evID, postID, err)
	}
	return n == 1, nil
}

// forget stops scoring a deleted post: a tombstone keeps later engagement
// from bringing it back.
func (r *Ranker) forget(ctx context.Context, postID string) error {
	if postID == "" {
		return nil
	}
	pipe := r.rdb.TxPipeline()
	pipe.Set(ctx, r.goneKey(postID), "1", r.cfg.ProcessedTTL)
	pipe.Del(ctx, r.postKey(postID))
	pipe.ZRem(ctx, r.pendingKey(), postID)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("ranking: forget %s: %w", postID, err)
	}
	return nil
}

// take leases due posts: it returns up to ARGV[3] members due at ARGV[1]
// and moves their due time to ARGV[2], so no other flusher takes them
// until the lease ends.
var take = redis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], ARGV[2], id) end
return ids
`)

// settle ends a lease after the emit: the post leaves the pending set,
// unless engagement arrived since the version emitted, in which case it is
// due one interval after this emit.
//
// KEYS: post, pending. ARGV: version emitted, now ms, interval ms, id, score.
var settle = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[4])
  return 0
end
redis.call('HSET', KEYS[1], 'last', ARGV[2], 'score', ARGV[5])
if redis.call('HGET', KEYS[1], 'v') == ARGV[1] then
  redis.call('ZREM', KEYS[2], ARGV[4])
else
  redis.call('ZADD', KEYS[2], tonumber(ARGV[2]) + tonumber(ARGV[3]), ARGV[4])
end
return 1
`)

// Flush emits the posts due now, or every pending post when all is true
// (on shutdown). It returns how many events it emitted.
func (r *Ranker) Flush(ctx context.Context, all bool) (int, error) {
	total := 0
	for {
		now := time.Now()
		upTo := strconv.FormatInt(now.UnixMilli(), 10)
		if all {
			upTo = "+inf"
		}
		ids, err := take.Run(ctx, r.rdb, []string{r.pendingKey()}, upTo, now.Add(r.cfg.Lease).UnixMilli(), r.cfg.FlushBatch).StringSlice()
		if err != nil {
			return total, fmt.Errorf("ranking: take due posts: %w", err)
		}
		if len(ids) == 0 {
			return total, nil
		}
		n, err := r.emitAll(ctx, ids)
		total += n
		if err != nil {
			return total, err
		}
		if len(ids) < r.cfg.FlushBatch {
			return total, nil
		}
	}
}

// emitAll emits the scores of the taken posts, EmitConcurrency at a time.
// A failed emit leaves its post leased; it is taken again when the lease
// ends.
func (r *Ranker) emitAll(ctx context.Context, ids []string) (int, error) {
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, r.postKey(id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("ranking: read counters: %w", err)
	}
	var (
		wg      sync.WaitGroup
		sem     = make(chan struct{}, r.cfg.EmitConcurrency)
		mu      sync.Mutex
		errs    []error
		emitted int
	)
	for i, id := range ids {
		h := cmds[i].Val()
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			sent, err := r.emitOne(ctx, id, h)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			} else if sent {
				emitted++
			}
		}()
	}
	wg.Wait()
	return emitted, errors.Join(errs...)
}

func (r *Ranker) emitOne(ctx context.Context, postID string, h map[string]string) (bool, error) {
	now := time.Now()
	if len(h) == 0 {
		// Deleted or expired meanwhile: nothing to announce.
		return false, r.settle(ctx, postID, "", now, 0)
	}
	num := func(k string) int64 { n, _ := strconv.ParseInt(h[k], 10, 64); return n }
	created := num("created")
	if created == 0 {
		created = num("seen")
	}
	c := Counters{Views: num("views"), Likes: num("likes"), Comments: num("comments"), Shares: num("shares")}
	score := r.cfg.Score(c, time.UnixMilli(created))
	if last, err := strconv.ParseFloat(h["score"], 64); err == nil && h["score"] != "" && math.Abs(last-score) < 1e-12 {
		// A like and its unlike: the score is where it was announced.
		return false, r.settle(ctx, postID, h["v"], now, score)
	}
	vt := time.UnixMilli(num("vt"))
	msg := &eventsv1.PostScoreUpdated{
		PostId: postID, AuthorId: h["author"], Score: score, Views: c.Views, Likes: max(0, c.Likes),
		Comments: c.Comments, Shares: c.Shares, ComputedAt: timestamppb.New(vt),
	}
	// The same (post, version) always yields the same event id, so a
	// re-emission after a lost lease is deduplicated downstream.
	if err := r.emit.Emit(ctx, msg, envelope.WithID(envelope.DerivedID(vt, "ranking", postID, h["v"])), envelope.WithTime(vt)); err != nil {
		return false, fmt.Errorf("ranking: emit score of %s: %w", postID, err)
	}
	r.emitted.Add(1)
	return true, r.settle(ctx, postID, h["v"], now, score)
}

func (r *Ranker) settle(ctx context.Context, postID, version string, now time.Time, score float64) error {
	err := settle.Run(ctx, r.rdb, []string{r.postKey(postID), r.pendingKey()},
		version, now.UnixMilli(), r.cfg.EmitInterval.Milliseconds(), postID, strconv.FormatFloat(score, 'g', -1, 64)).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("ranking: settle %s: %w", postID, err)
	}
	return nil
}

// Run flushes due posts every FlushEvery until ctx ends. It does not flush
// on the way out; the owner calls Flush(ctx, true) after Run returned.
func (r *Ranker) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := r.Flush(ctx, false); err != nil && ctx.Err() == nil {
				r.log.WarnContext(ctx, "score flush failed; retried on the next tick or when the lease ends", "error", err)
			}
		}
	}
}

// eventTime is the time a message carries, else when its event happened.
func eventTime(d envelope.Decoded, ts *timestamppb.Timestamp) time.Time {
	if ts != nil {
		return ts.AsTime()
	}
	return d.At()
}

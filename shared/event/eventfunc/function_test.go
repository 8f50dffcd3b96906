package eventfunc_test

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/redis/go-redis/v9"
	fhttp "knative.dev/func-go/http"

	"github.com/nova-social/nova/shared/event/eventfunc"
	"github.com/nova-social/nova/shared/event/eventfunc/eventfunctest"
	"github.com/nova-social/nova/shared/lifecycle"
	"github.com/nova-social/nova/shared/testrig"
)

// counter is a small real function: it counts events by id in Redis.
type counter struct {
	rdb *redis.Client
	key string
	// delay, when set, is how long a reaction takes at most.
	delay time.Duration
	// cancelled counts reactions whose request ended first.
	cancelled *atomic.Int64
}

func (c *counter) Ping(ctx context.Context) error  { return c.rdb.Ping(ctx).Err() }
func (c *counter) Close(ctx context.Context) error { return c.rdb.Close() }

func (c *counter) Receive(ctx context.Context, e event.Event) error {
	if c.delay > 0 {
		select {
		case <-time.After(time.Duration(1 + rand.Int64N(int64(c.delay)))):
		case <-ctx.Done():
			c.cancelled.Add(1)
			return ctx.Err()
		}
	}
	return c.rdb.HIncrBy(ctx, c.key, e.ID(), 1).Err()
}

func newCounter(key string, delay time.Duration, cancelled *atomic.Int64) *eventfunc.Function[*counter] {
	return eventfunc.New("counter", func(env map[string]string, _ *slog.Logger) (lifecycle.Open[*counter], error) {
		url := env["REDIS_URL"]
		if url == "" {
			return nil, errors.New("REDIS_URL is not set")
		}
		opt, err := redis.ParseURL(url)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) (*counter, error) {
			rdb := redis.NewClient(opt)
			if err := rdb.Ping(ctx).Err(); err != nil {
				rdb.Close()
				return nil, err
			}
			return &counter{rdb: rdb, key: key, delay: delay, cancelled: cancelled}, nil
		}, nil
	})
}

// A configuration error stops the function at Start; an unreachable
// dependency does not: the function serves, answers not-ready with the
// reason and 503 to events, and becomes ready once the dependency answers.
func TestFunctionWaitsForItsDependencies(t *testing.T) {
	if err := newCounter("k", 0, nil).Start(context.Background(), map[string]string{}); err == nil ||
		!strings.Contains(err.Error(), "REDIS_URL is not set") || !strings.Contains(err.Error(), "counter") {
		t.Fatalf("Start without REDIS_URL = %v, want a configuration error naming the function", err)
	}

	addr, up := testrig.LateService(t, testrig.Redis(t).Options().Addr)

	key := "eventfunc-test:" + testrig.ID()
	f := newCounter(key, 0, nil)
	iss := eventfunctest.NewIssuer(t)
	if err := f.Start(context.Background(), iss.Env(map[string]string{"REDIS_URL": "redis://" + addr + "/0"})); err != nil {
		t.Fatalf("Start with Redis down: %v", err)
	}
	srv := httptest.NewServer(fhttp.New(f).Handler)
	defer srv.Close()
	defer f.Stop(context.Background())
	fn := iss.Server(srv.URL, "counter")

	if code, body := eventfunctest.Get(t, srv.URL+"/health/liveness"); code != http.StatusOK {
		t.Fatalf("liveness while waiting: %d %s", code, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := eventfunctest.Get(t, srv.URL+"/health/readiness")
		if code == http.StatusOK {
			t.Fatal("ready with Redis down")
		}
		if strings.Contains(body, "connection refused") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readiness answer %d %q does not give the reason", code, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, body := fn.Send(t, sample("ok")); code != http.StatusServiceUnavailable {
		t.Fatalf("event while not ready: %d %s, want 503 (retried by the source)", code, body)
	}

	up() // Redis comes up
	eventfunctest.AwaitReady(t, srv.URL, 30*time.Second)
	if code, body := fn.Send(t, sample("ok")); code != http.StatusOK {
		t.Fatalf("event once ready: %d %s", code, body)
	}
	if n, _ := testrig.Redis(t).HGet(context.Background(), key, sample("ok").ID()).Int(); n != 1 {
		t.Fatalf("event counted %d times, want 1", n)
	}
}

// Concurrent deliveries, a quarter of them abandoned by their client
// mid-flight: every delivery whose client waits gets its answer, none is
// stranded behind a cancelled one, and the server drains at shutdown. This
// is the case func-go's cloudevents runtime (sdk-go's receive handler)
// gets wrong.
func TestConcurrentDeliveriesWithCancellations(t *testing.T) {
	key := "eventfunc-test:" + testrig.ID()
	var cancelled atomic.Int64
	f := newCounter(key, 8*time.Millisecond, &cancelled)
	fn := eventfunctest.Serve(t, f, map[string]string{"REDIS_URL": testrig.RedisAdminURL(t)})
	token := "Bearer " + fn.Issuer.Token(t, fn.From, fn.Audience)

	const n = 400
	// The waiting and the abandoning deliveries dial through transports of
	// their own: net/http may hand a dial that a cancelled request started,
	// and its context error, to another request queued for a connection,
	// which would be the client's failure, not the server's.
	waiting := &http.Client{Timeout: 20 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	abandoning := &http.Client{Timeout: 20 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []string
		answered atomic.Int64
		gaveUp   atomic.Int64
	)
	for i := range n {
		wg.Go(func() {
			e := sample("ok")
			e.SetID(testrig.ID())
			req := request(t, fn.URL, e)
			req.Header.Set("Authorization", token)
			client := waiting
			if i%4 == 0 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+rand.IntN(4))*time.Millisecond)
				defer cancel()
				req = req.WithContext(ctx)
				client = abandoning
			}
			resp, err := client.Do(req)
			if err != nil {
				if i%4 == 0 {
					gaveUp.Add(1)
					return
				}
				mu.Lock()
				failures = append(failures, err.Error())
				mu.Unlock()
				return
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				answered.Add(1)
			} else if i%4 != 0 {
				mu.Lock()
				failures = append(failures, resp.Status)
				mu.Unlock()
			}
		})
		if i%100 == 99 {
			wg.Wait()
		}
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d deliveries whose client waited failed: %v", len(failures), failures[:min(5, len(failures))])
	}
	if answered.Load() < n*3/4 {
		t.Fatalf("%d of %d deliveries answered 200", answered.Load(), n)
	}
	t.Logf("%d answered, %d abandoned by their client (%d reactions saw the cancellation)", answered.Load(), gaveUp.Load(), cancelled.Load())
	// Nothing is stuck: a new delivery is answered at once.
	if code, body := fn.Send(t, sample("ok")); code != http.StatusOK {
		t.Fatalf("delivery after the burst: %d %s", code, body)
	}
}

func request(t *testing.T, url string, e event.Event) *http.Request {
	t.Helper()
	body, err := e.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/cloudevents+json")
	return req
}

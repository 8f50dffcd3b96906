package funchost_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/nova-social/nova/shared/funchost"
)

// slowSink takes a while per event and fails when its context ends early.
type slowSink struct{ cancelled atomic.Int64 }

func (s *slowSink) Handle(ctx context.Context, _ event.Event) error {
	select {
	case <-time.After(time.Duration(1+rand.IntN(7)) * time.Millisecond):
		return nil
	case <-ctx.Done():
		s.cancelled.Add(1)
		return ctx.Err()
	}
}

// Concurrent deliveries to a CloudEvent function each get their answer:
// none is cancelled because another request finished, and none is left
// waiting after the burst (func-go's receiver pairs requests with handler
// goroutines through one shared channel, so a handler goroutine must not
// give up when the request that started it ends).
func TestConcurrentEventsAreAllAnswered(t *testing.T) {
	inst := &slowSink{}
	f, err := funchost.Serve(context.Background(), funchost.Options{
		Name: "sink", Instance: inst, Invoke: funchost.InvokeCloudEvent, Addr: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		f.Stop(ctx)
	}()
	client := &http.Client{Timeout: 10 * time.Second}
	post := func(i int) error {
		req, _ := http.NewRequest(http.MethodPost, f.URL(), strings.NewReader(`{}`))
		req.Header.Set("Ce-Specversion", "1.0")
		req.Header.Set("Ce-Id", fmt.Sprint(i))
		req.Header.Set("Ce-Source", "/test")
		req.Header.Set("Ce-Type", "test.event")
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("event %d: %d", i, resp.StatusCode)
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for i := range 400 {
		wg.Go(func() {
			if err := post(i); err != nil {
				errs <- err
			}
		})
		if i%100 == 99 {
			wg.Wait()
		}
	}
	wg.Wait()
	close(errs)
	var failed []string
	for err := range errs {
		failed = append(failed, err.Error())
	}
	if len(failed) > 0 || inst.cancelled.Load() > 0 {
		t.Fatalf("%d of 400 events failed (%d handlers cancelled): %v", len(failed), inst.cancelled.Load(), failed[:min(5, len(failed))])
	}
	// And the function stops: no request is left hanging.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.Stop(ctx); err != nil {
		t.Fatalf("stop after the burst: %v", err)
	}
}

// Requests the CloudEvents receiver answers without taking an event (GET,
// OPTIONS, DELETE) are answered before it, so none leaves a goroutine
// waiting for an event that never comes; events still go through after them.
func TestNonEventRequestsLeaveNoWaitingGoroutine(t *testing.T) {
	f, err := funchost.Serve(context.Background(), funchost.Options{
		Name: "sink", Instance: &slowSink{}, Invoke: funchost.InvokeCloudEvent, Addr: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop(context.Background())
	before := runtime.NumGoroutine()
	for i := range 300 {
		method := []string{http.MethodGet, http.MethodOptions, http.MethodDelete}[i%3]
		req, _ := http.NewRequest(method, f.URL()+"/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("%s /: %d, want 405", method, resp.StatusCode)
		}
	}
	http.DefaultClient.CloseIdleConnections()
	// Goroutines come and go with connections; 300 stranded waiters would not.
	var now int
	for range 100 {
		if now = runtime.NumGoroutine(); now < before+50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if now >= before+50 {
		t.Fatalf("%d goroutines after 300 non-event requests, %d before", now, before)
	}
	if code, _ := get(t, f.URL()+"/health/readiness"); code != http.StatusOK {
		t.Fatalf("readiness: %d", code)
	}
}

package funchost_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/nova-social/nova/cmd/nova/internal/funchost"
	"github.com/nova-social/nova/shared/event/eventfunc"
)

// sample is an event function instance in the instanced style kn func
// scaffolds (invoke: http): Start/Stop/Ready hooks and a Handle taking
// CloudEvents through shared/event/eventfunc.
type sample struct {
	mu       sync.Mutex
	cfg      map[string]string
	ready    chan struct{} // closed when Ready may report true
	got      []event.Event
	stopped  bool
	failWith error
}

func newSample() *sample { return &sample{ready: make(chan struct{})} }

func (s *sample) Start(_ context.Context, cfg map[string]string) error {
	s.mu.Lock()
	s.cfg = cfg
	s.mu.Unlock()
	return nil
}

func (s *sample) Ready(context.Context) (bool, error) {
	select {
	case <-s.ready:
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.cfg != nil, nil
	default:
		return false, nil
	}
}

func (s *sample) Stop(context.Context) error {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	return nil
}

func (s *sample) receive(_ context.Context, e event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, e)
	return s.failWith
}

func (s *sample) Handle(w http.ResponseWriter, r *http.Request) {
	eventfunc.NewHandler(s.receive, eventfunc.HandlerConfig{}).ServeHTTP(w, r)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeEventFunction(t *testing.T) {
	inst := newSample()
	ctx := context.Background()
	done := make(chan struct{})
	var f *funchost.Function
	var serveErr error
	go func() {
		defer close(done)
		f, serveErr = funchost.Serve(ctx, funchost.Options{
			Name: "sample", Instance: inst, Invoke: funchost.InvokeHTTP,
			Addr: "127.0.0.1:0", Config: map[string]string{"K": "v"},
		})
	}()
	// Serve must not return while the instance says it is not ready.
	select {
	case <-done:
		t.Fatalf("Serve returned before the instance was ready (err %v)", serveErr)
	case <-time.After(100 * time.Millisecond):
	}
	close(inst.ready)
	<-done
	if serveErr != nil {
		t.Fatalf("serve: %v", serveErr)
	}
	if inst.cfg["K"] != "v" {
		t.Errorf("Start got %v", inst.cfg)
	}

	if code, body := get(t, f.URL()+"/health/readiness"); code != 200 || body != "READY" {
		t.Errorf("readiness: %d %q", code, body)
	}
	if code, body := get(t, f.URL()+"/health/liveness"); code != 200 || body != "ALIVE" {
		t.Errorf("liveness: %d %q", code, body)
	}

	c, err := cloudevents.NewClientHTTP()
	if err != nil {
		t.Fatal(err)
	}
	e := cloudevents.NewEvent()
	e.SetID("e-1")
	e.SetSource("/test")
	e.SetType("com.nova.test.sample")
	_ = e.SetData("application/json", map[string]string{"hello": "world"})
	res := c.Send(cloudevents.ContextWithTarget(ctx, f.URL()), e)
	if !cloudevents.IsACK(res) {
		t.Fatalf("send: %v", res)
	}
	inst.mu.Lock()
	if len(inst.got) != 1 || inst.got[0].ID() != "e-1" || !strings.Contains(string(inst.got[0].Data()), "world") {
		t.Errorf("function got %v", inst.got)
	}
	// A handler error is a failed delivery, as in production.
	inst.failWith = errors.New("boom")
	inst.mu.Unlock()
	e.SetID("e-2")
	if res := c.Send(cloudevents.ContextWithTarget(ctx, f.URL()), e); cloudevents.IsACK(res) {
		t.Errorf("a failing handler was acknowledged")
	}

	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := f.Stop(sctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if !inst.stopped {
		t.Error("Stop hook not called")
	}
	if _, err := http.Get(f.URL() + "/health/liveness"); err == nil {
		t.Error("still serving after Stop")
	}
}

type api struct{}

func (api) Handle(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, "api "+r.URL.Path)
}

func TestServeHTTPFunction(t *testing.T) {
	f, err := funchost.Serve(context.Background(), funchost.Options{
		Name: "api", Instance: api{}, Invoke: funchost.InvokeHTTP, Addr: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop(context.Background())
	if code, body := get(t, f.URL()+"/v1/posts"); code != 200 || body != "api /v1/posts" {
		t.Errorf("GET /v1/posts: %d %q", code, body)
	}
	if code, _ := get(t, f.URL()+"/health/readiness"); code != 200 {
		t.Errorf("readiness: %d", code)
	}
}

func TestServeWrapsHandlerInMiddleware(t *testing.T) {
	f, err := funchost.Serve(context.Background(), funchost.Options{
		Name: "api", Instance: api{}, Invoke: funchost.InvokeHTTP, Addr: "127.0.0.1:0",
		Middleware: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.URL.Path, "/v1/") {
					http.Error(w, "injected", http.StatusInternalServerError)
					return
				}
				next.ServeHTTP(w, r)
			})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop(context.Background())
	if code, body := get(t, f.URL()+"/v1/posts"); code != 500 || !strings.Contains(body, "injected") {
		t.Errorf("GET /v1/posts through the middleware: %d %q, want 500 injected", code, body)
	}
	if code, _ := get(t, f.URL()+"/health/readiness"); code != 200 {
		t.Errorf("readiness past the middleware: %d", code)
	}
}

type failingStart struct{ api }

func (failingStart) Start(context.Context, map[string]string) error {
	return errors.New("no database")
}

func (failingStart) Ready(context.Context) (bool, error) { return false, nil }

func TestServeReportsStartFailure(t *testing.T) {
	_, err := funchost.Serve(context.Background(), funchost.Options{
		Name: "bad", Instance: failingStart{}, Invoke: funchost.InvokeHTTP, Addr: "127.0.0.1:0",
	})
	if err == nil || !strings.Contains(err.Error(), "no database") {
		t.Fatalf("got %v, want the Start error", err)
	}
}

func TestServeRefusesNonFunction(t *testing.T) {
	_, err := funchost.Serve(context.Background(), funchost.Options{
		Name: "x", Instance: struct{}{}, Invoke: funchost.InvokeHTTP, Addr: "127.0.0.1:0",
	})
	if err == nil {
		t.Fatal("served a value without Handle")
	}
}

// func-go's cloudevents runtime is not hosted: what the host runs is what
// production runs, and Nova's event functions are invoke: http.
func TestServeRefusesCloudEventInvoke(t *testing.T) {
	_, err := funchost.Serve(context.Background(), funchost.Options{
		Name: "x", Instance: newSample(), Invoke: funchost.InvokeCloudEvent, Addr: "127.0.0.1:0",
	})
	if err == nil || !strings.Contains(err.Error(), "invoke: http") {
		t.Fatalf("got %v, want invoke cloudevent refused with the way out", err)
	}
}

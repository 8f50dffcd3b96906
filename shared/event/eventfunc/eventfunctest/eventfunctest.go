// Package eventfunctest serves a function instance in a test the way its
// production image serves it (func-go's http runtime, func.yaml invoke:
// http) and sends it events the way Knative's dispatchers do.
package eventfunctest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	fhttp "knative.dev/func-go/http"
)

// Instance is what a function's New() returns.
type Instance interface {
	fhttp.Handler
	Start(ctx context.Context, env map[string]string) error
	Stop(ctx context.Context) error
	Ready(ctx context.Context) (bool, error)
}

// Serve starts inst with env, serves it through func-go's http Service
// handler (health endpoints included) and returns its URL once
// /health/readiness answers 200. The instance is stopped when the test ends.
func Serve(t testing.TB, inst Instance, env map[string]string) string {
	t.Helper()
	// func-go logs every readiness probe at debug level, process-wide;
	// a failing test's output should show the failure.
	fhttp.SetLogLevel(fhttp.LogWarn)
	if err := inst.Start(context.Background(), env); err != nil {
		t.Fatalf("start: %v", err)
	}
	srv := httptest.NewServer(fhttp.New(inst).Handler)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := inst.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	AwaitReady(t, srv.URL, 30*time.Second)
	return srv.URL
}

// AwaitReady polls url's /health/readiness as Knative's readiness probe
// does, failing the test with the last answer after timeout.
func AwaitReady(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		code, body := Get(t, url+"/health/readiness")
		if code == http.StatusOK {
			return
		}
		last = body
		if time.Now().After(deadline) {
			t.Fatalf("not ready after %s: %d %s", timeout, code, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Get returns the status and body of a GET.
func Get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// Send posts e in binary mode, as KafkaSource and the Kafka broker deliver,
// and returns the status and body of the answer.
func Send(t testing.TB, url string, e event.Event) (int, string) {
	t.Helper()
	return send(t, url, e, false)
}

// Status posts e as Send does and returns only the status code.
func Status(t testing.TB, url string, e event.Event) int {
	t.Helper()
	code, _ := send(t, url, e, false)
	return code
}

// SendStructured posts e in structured mode (application/cloudevents+json).
func SendStructured(t testing.TB, url string, e event.Event) (int, string) {
	t.Helper()
	return send(t, url, e, true)
}

func send(t testing.TB, url string, e event.Event, structured bool) (int, string) {
	t.Helper()
	ctx := binding.WithForceBinary(context.Background())
	if structured {
		ctx = binding.WithForceStructured(context.Background())
	}
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&e), req); err != nil {
		t.Fatalf("encode %s: %v", e.Type(), err)
	}
	return do(t, req)
}

// Post sends a raw request body with the given headers, for malformed
// events.
func Post(t testing.TB, url string, header http.Header, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	return do(t, req)
}

func do(t testing.TB, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// Readier is a started instance's readiness hook.
type Readier interface {
	Ready(ctx context.Context) (bool, error)
}

// WaitReady calls r.Ready until it reports true, failing the test with the
// last reason after timeout: for tests that serve an instance's Handle
// without func-go's health endpoints.
func WaitReady(t testing.TB, r Readier, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := r.Ready(context.Background())
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after %s: %v", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

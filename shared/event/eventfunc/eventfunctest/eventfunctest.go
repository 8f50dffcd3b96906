// Package eventfunctest serves a function instance in a test the way its
// production image serves it (func-go's http runtime, func.yaml invoke:
// http) and sends it events the way Knative's dispatchers do: with a
// token the cluster's OIDC issuer signed for the sender (an Issuer of the
// test's own stands in for it).
package eventfunctest

import (
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	fhttp "knative.dev/func-go/http"

	"github.com/nova-social/nova/shared/event/sender"
	"github.com/nova-social/nova/shared/event/sender/issuer"
)

// Namespace is the namespace functions served here believe they run in.
const Namespace = "nova-test"

// DefaultSender is the sender a served function admits unless the test's
// environment names others, and the one its events come from.
var DefaultSender = sender.Ref{Kind: sender.KindKafkaSource, Name: "eventfunctest"}

// Issuer is the cluster's OIDC issuer for one test: its discovery document
// and keys served over HTTP, tokens signed as the API server signs a
// dispatcher's.
type Issuer struct {
	*issuer.Issuer
}

// NewIssuer starts an issuer that stops when the test ends.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	iss, err := issuer.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	h = iss.Handler()
	return &Issuer{iss}
}

// Env returns env with the sender check pointed at i: discovery, the
// namespace, and DefaultSender as the only sender unless env names some.
func (i *Issuer) Env(env map[string]string) map[string]string {
	env = maps.Clone(env)
	if env == nil {
		env = map[string]string{}
	}
	env[sender.EnvDiscoveryURL] = i.URL()
	env[sender.EnvNamespace] = Namespace
	if _, set := env[sender.EnvSenders]; !set {
		env[sender.EnvSenders] = DefaultSender.String()
	}
	return env
}

// Server is how to send events as DefaultSender to function, served at
// url with i.Env's settings.
func (i *Issuer) Server(url, function string) *Server {
	return &Server{URL: url, Issuer: i, Audience: sender.AudiencePrefix + function, From: DefaultSender}
}

// Token signs a token of from's service account for audience aud.
func (i *Issuer) Token(t testing.TB, from sender.Ref, aud string) string {
	t.Helper()
	tok, _, err := i.Mint(Namespace, from.ServiceAccount(), aud, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Server is a served function and how to send it events.
type Server struct {
	URL      string
	Issuer   *Issuer
	Audience string
	// From is who the events come from; the zero Ref sends no token.
	From sender.Ref
}

// As returns s sending as from (the zero Ref: without a token).
func (s *Server) As(from sender.Ref) *Server {
	c := *s
	c.From = from
	return &c
}

// Send posts e in binary mode, as KafkaSource and the Kafka broker deliver,
// and returns the status and body of the answer.
func (s *Server) Send(t testing.TB, e event.Event) (int, string) {
	t.Helper()
	return send(t, s.URL, s.header(t), e, false)
}

// Status posts e as Send does and returns only the status code.
func (s *Server) Status(t testing.TB, e event.Event) int {
	t.Helper()
	code, _ := s.Send(t, e)
	return code
}

// SendStructured posts e in structured mode (application/cloudevents+json).
func (s *Server) SendStructured(t testing.TB, e event.Event) (int, string) {
	t.Helper()
	return send(t, s.URL, s.header(t), e, true)
}

// Post sends a raw body with the given headers (and the sender's token),
// for malformed events.
func (s *Server) Post(t testing.TB, header http.Header, body string) (int, string) {
	t.Helper()
	h := s.header(t)
	maps.Copy(h, header)
	return Post(t, s.URL, h, body)
}

func (s *Server) header(t testing.TB) http.Header {
	t.Helper()
	h := http.Header{}
	if s.From != (sender.Ref{}) {
		h.Set("Authorization", "Bearer "+s.Issuer.Token(t, s.From, s.Audience))
	}
	return h
}

// Instance is what a function's New() returns.
type Instance interface {
	fhttp.Handler
	Start(ctx context.Context, env map[string]string) error
	Stop(ctx context.Context) error
	Ready(ctx context.Context) (bool, error)
}

// Serve starts inst with env and the sender check of a cluster (an Issuer
// of the test's own; DefaultSender admitted unless env names the
// senders), serves it through func-go's http Service handler (health
// endpoints included) and returns it once /health/readiness answers 200.
// The instance is stopped when the test ends.
func Serve(t testing.TB, inst Instance, env map[string]string) *Server {
	t.Helper()
	iss := NewIssuer(t)
	env = iss.Env(env)
	aud := env[sender.EnvAudience]
	if n, ok := inst.(interface{ Name() string }); ok && aud == "" {
		aud = sender.AudiencePrefix + n.Name()
	}
	return &Server{URL: ServeEnv(t, inst, env), Issuer: iss, Audience: aud, From: DefaultSender}
}

// ServeEnv starts inst with env as it is (no sender check unless env
// configures one) and returns its URL once it is ready.
func ServeEnv(t testing.TB, inst Instance, env map[string]string) string {
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

// Send posts e in binary mode without a token, to a handler served with
// no sender check.
func Send(t testing.TB, url string, e event.Event) (int, string) {
	t.Helper()
	return send(t, url, nil, e, false)
}

// Status posts e as Send does and returns only the status code.
func Status(t testing.TB, url string, e event.Event) int {
	t.Helper()
	code, _ := send(t, url, nil, e, false)
	return code
}

// SendWith posts e in binary mode with header added (a forged or stolen
// Authorization, say).
func SendWith(t testing.TB, url string, header http.Header, e event.Event) (int, string) {
	t.Helper()
	return send(t, url, header, e, false)
}

// SendStructured posts e in structured mode (application/cloudevents+json)
// without a token.
func SendStructured(t testing.TB, url string, e event.Event) (int, string) {
	t.Helper()
	return send(t, url, nil, e, true)
}

func send(t testing.TB, url string, header http.Header, e event.Event, structured bool) (int, string) {
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
	maps.Copy(req.Header, header)
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

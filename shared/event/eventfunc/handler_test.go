package eventfunc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/eventfunc"
	"github.com/nova-social/nova/shared/event/eventfunc/eventfunctest"
	"github.com/nova-social/nova/shared/lifecycle"
)

// recorder keeps what it received and fails events as their subject asks.
type recorder struct {
	mu  sync.Mutex
	got []event.Event
}

func (r *recorder) receive(_ context.Context, e event.Event) error {
	switch e.Subject() {
	case "permanent":
		return delivery.Permanent(errors.New("post belongs to a deleted account"))
	case "transient":
		return fmt.Errorf("store: %w", errors.New("database is down"))
	case "not-ready":
		return fmt.Errorf("sample: %w: attempt 1 failed: connection refused", lifecycle.ErrNotReady)
	case "panic":
		panic("reaction bug")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, e)
	return nil
}

func (r *recorder) events() []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event.Event(nil), r.got...)
}

func serve(t *testing.T, cfg eventfunc.HandlerConfig) (*recorder, string) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(eventfunc.NewHandler(rec.receive, cfg))
	t.Cleanup(srv.Close)
	return rec, srv.URL
}

func sample(subject string) event.Event {
	e := event.New()
	e.SetID("0196f9f6-0000-7000-8000-000000000001")
	e.SetSource("/nova/content-service")
	e.SetType("com.nova.content.post.created")
	e.SetSubject(subject)
	e.SetExtension("partitionkey", "u1")
	_ = e.SetData("application/json", map[string]string{"post_id": "p1"})
	return e
}

// errorOf decodes the JSON error body every failed answer carries.
func errorOf(t *testing.T, body string) (code, message string) {
	t.Helper()
	var b struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal([]byte(body), &b); err != nil || b.Error.Code == "" {
		t.Fatalf("answer %q is not a JSON error: %v", body, err)
	}
	return b.Error.Code, b.Error.Message
}

// Both content modes reach the function with every attribute, extension
// and the data intact, and a handled event is a 200 with no body.
func TestBinaryAndStructuredEvents(t *testing.T) {
	rec, url := serve(t, eventfunc.HandlerConfig{})
	want := sample("ok")
	for name, send := range map[string]func(testing.TB, string, event.Event) (int, string){
		"binary": eventfunctest.Send, "structured": eventfunctest.SendStructured,
	} {
		code, body := send(t, url, want)
		if code != http.StatusOK || body != "" {
			t.Fatalf("%s: answered %d %q, want 200 with no body", name, code, body)
		}
	}
	got := rec.events()
	if len(got) != 2 {
		t.Fatalf("received %d events, want 2", len(got))
	}
	for _, e := range got {
		if e.ID() != want.ID() || e.Source() != want.Source() || e.Type() != want.Type() || e.Subject() != want.Subject() ||
			e.Extensions()["partitionkey"] != "u1" || string(e.Data()) != string(want.Data()) || e.DataContentType() != "application/json" {
			t.Errorf("received %v, sent %v", e, want)
		}
	}
}

// What `kn func invoke --format cloudevent` sends: a binary-mode event with
// its defaults (type boson.fn, source /boson/fn, JSON data).
func TestKnFuncInvokeShape(t *testing.T) {
	rec, url := serve(t, eventfunc.HandlerConfig{})
	h := http.Header{}
	h.Set("Ce-Specversion", "1.0")
	h.Set("Ce-Id", "8c4ad6fa-1c0e-4d8a-8a5e-0c4b0e0a1f00")
	h.Set("Ce-Source", "/boson/fn")
	h.Set("Ce-Type", "boson.fn")
	h.Set("Ce-Time", "2026-12-06T10:00:00Z")
	h.Set("Content-Type", "application/json")
	if code, body := eventfunctest.Post(t, url, h, `{"message":"Hello World"}`); code != http.StatusOK {
		t.Fatalf("answered %d %s", code, body)
	}
	if got := rec.events(); len(got) != 1 || got[0].Type() != "boson.fn" || string(got[0].Data()) != `{"message":"Hello World"}` {
		t.Fatalf("received %v", got)
	}
}

// The reaction's error decides the status the dispatcher acts on, and the
// reason travels in the body (the dead-letter sink stores it).
func TestResults(t *testing.T) {
	_, url := serve(t, eventfunc.HandlerConfig{})
	for _, c := range []struct {
		subject  string
		status   int
		code     string
		contains string
	}{
		{"permanent", http.StatusBadRequest, eventfunc.CodeRejected, "deleted account"},
		{"transient", http.StatusInternalServerError, eventfunc.CodeFailed, "database is down"},
		{"not-ready", http.StatusServiceUnavailable, eventfunc.CodeUnavailable, "connection refused"},
		{"panic", http.StatusInternalServerError, eventfunc.CodeInternal, "reaction bug"},
	} {
		code, body := eventfunctest.Send(t, url, sample(c.subject))
		if code != c.status {
			t.Errorf("%s: answered %d %s, want %d", c.subject, code, body, c.status)
			continue
		}
		if ec, msg := errorOf(t, body); ec != c.code || !strings.Contains(msg, c.contains) {
			t.Errorf("%s: error %s %q, want %s containing %q", c.subject, ec, msg, c.code, c.contains)
		}
	}
}

// Malformed requests are 4xx with a JSON reason and never reach the
// function; a 4xx is what sends them straight to the dead-letter sink.
func TestMalformedEvents(t *testing.T) {
	rec, url := serve(t, eventfunc.HandlerConfig{MaxBodyBytes: 1024})
	binary := func(drop string) http.Header {
		h := http.Header{}
		for k, v := range map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "1", "Ce-Source": "/s", "Ce-Type": "t"} {
			if k != drop {
				h.Set(k, v)
			}
		}
		h.Set("Content-Type", "application/json")
		return h
	}
	structured := http.Header{"Content-Type": {"application/cloudevents+json"}}
	for _, c := range []struct {
		name   string
		header http.Header
		body   string
		status int
		code   string
		says   string
	}{
		{"plain JSON, no CloudEvent", http.Header{"Content-Type": {"application/json"}}, `{"a":1}`,
			http.StatusBadRequest, eventfunc.CodeNotACloudEvent, "not a CloudEvent"},
		{"structured, bad JSON", structured, `{"specversion":"1.0",`,
			http.StatusBadRequest, eventfunc.CodeInvalidEvent, "malformed"},
		{"structured, no id", structured, `{"specversion":"1.0","source":"/s","type":"t"}`,
			http.StatusBadRequest, eventfunc.CodeInvalidEvent, "id"},
		{"structured, unknown specversion", structured, `{"specversion":"9.9","id":"1","source":"/s","type":"t"}`,
			http.StatusBadRequest, eventfunc.CodeInvalidEvent, "specversion"},
		{"binary, no type", binary("Ce-Type"), `{}`,
			http.StatusBadRequest, eventfunc.CodeInvalidEvent, "type"},
		{"binary, no source", binary("Ce-Source"), `{}`,
			http.StatusBadRequest, eventfunc.CodeInvalidEvent, "source"},
		{"binary, too large", binary(""), `"` + strings.Repeat("x", 4096) + `"`,
			http.StatusRequestEntityTooLarge, eventfunc.CodeTooLarge, "1024"},
		{"structured, too large", structured, `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":"` + strings.Repeat("x", 4096) + `"}`,
			http.StatusRequestEntityTooLarge, eventfunc.CodeTooLarge, "1024"},
		{"batch", http.Header{"Content-Type": {"application/cloudevents-batch+json"}}, `[]`,
			http.StatusBadRequest, eventfunc.CodeInvalidEvent, ""},
	} {
		code, body := eventfunctest.Post(t, url, c.header, c.body)
		if code != c.status {
			t.Errorf("%s: answered %d %s, want %d", c.name, code, body, c.status)
			continue
		}
		if ec, msg := errorOf(t, body); ec != c.code || !strings.Contains(msg, c.says) {
			t.Errorf("%s: error %s %q, want %s mentioning %q", c.name, ec, msg, c.code, c.says)
		}
	}
	if got := rec.events(); len(got) != 0 {
		t.Fatalf("malformed requests reached the function: %v", got)
	}
}

func TestOnlyPost(t *testing.T) {
	_, url := serve(t, eventfunc.HandlerConfig{})
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodOptions} {
		req, _ := http.NewRequest(m, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
			t.Errorf("%s: %d Allow=%q, want 405 Allow=POST", m, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
}

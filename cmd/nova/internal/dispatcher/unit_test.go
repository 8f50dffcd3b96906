package dispatcher

import (
	"context"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/source"
)

func TestTrackerCommitsOnlyContiguousDoneOffsets(t *testing.T) {
	tr := newTracker()
	var marks []int64
	mark := func(next int64) { marks = append(marks, next) }
	for _, o := range []int64{10, 11, 12, 14, 15} { // 13 compacted away
		tr.start(o)
	}
	tr.finish(12, mark)
	tr.finish(11, mark)
	if len(marks) != 0 {
		t.Fatalf("marked %v while offset 10 is unfinished", marks)
	}
	tr.finish(10, mark)
	tr.finish(15, mark)
	tr.finish(14, mark)
	if !slices.Equal(marks, []int64{13, 16}) {
		t.Fatalf("marks = %v, want [13 16]", marks)
	}
}

func TestConfigDefaultsAndValidate(t *testing.T) {
	c := Config{}.Defaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if c.MaxInFlight != 50 || c.Registry == nil || c.HTTPClient == nil || c.Convert == nil {
		t.Fatalf("defaults = %+v", c)
	}
	for name, mod := range map[string]func(*Config){
		"in flight":  func(c *Config) { c.MaxInFlight = 0 },
		"heartbeat":  func(c *Config) { c.HeartbeatInterval = c.SessionTimeout },
		"commit":     func(c *Config) { c.CommitInterval = -time.Second },
		"broker":     func(c *Config) { c.Brokers = []string{""} },
		"client id":  func(c *Config) { c.ClientID = "" },
		"dls backof": func(c *Config) { c.DeadLetterBackoffMax = -1 },
	} {
		bad := c
		mod(&bad)
		if bad.Validate() == nil {
			t.Errorf("%s: Validate accepted %+v", name, bad)
		}
	}
}

func TestResolve(t *testing.T) {
	res := MapResolver{"nova/feed-fanout": "http://127.0.0.1:8081", "dead-letter": "http://127.0.0.1:8090/"}
	rel, _ := url.Parse("/events")
	abs, _ := url.Parse("http://elsewhere:9000/x")
	for _, tc := range []struct {
		d    source.Destination
		want string
	}{
		{source.Destination{Ref: &source.Reference{Name: "feed-fanout", Namespace: "nova"}}, "http://127.0.0.1:8081"},
		{source.Destination{Ref: &source.Reference{Name: "dead-letter", Namespace: "any"}, URI: rel}, "http://127.0.0.1:8090/events"},
		{source.Destination{URI: abs}, "http://elsewhere:9000/x"},
	} {
		u, err := resolve(context.Background(), res, tc.d)
		if err != nil || u.String() != tc.want {
			t.Errorf("resolve(%v) = %v, %v; want %s", tc.d, u, err, tc.want)
		}
	}
	if _, err := resolve(context.Background(), MapResolver{"x": "not a url"}, source.Destination{Ref: &source.Reference{Name: "x"}}); err == nil {
		t.Error("a relative address was accepted")
	}
}

func TestResultRetryable(t *testing.T) {
	for code, want := range map[int]bool{500: true, 503: true, 404: true, 408: true, 409: true, 429: true,
		400: false, 401: false, 403: false, 410: false, 301: false} {
		if got := (result{status: code}).retryable(); got != want {
			t.Errorf("%d retryable = %v, want %v", code, got, want)
		}
	}
	if !(result{err: context.DeadlineExceeded}).retryable() {
		t.Error("a transport error is not retryable")
	}
}

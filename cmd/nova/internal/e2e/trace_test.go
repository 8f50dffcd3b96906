package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/jaeger"
	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/shared/telemetry"
)

// startJaeger runs a Jaeger of the test's own on free ports.
func startJaeger(t testing.TB) *jaeger.Jaeger {
	t.Helper()
	bin := os.Getenv("NOVA_JAEGER_BIN")
	if bin == "" {
		root, err := system.FindRoot(".")
		if err != nil {
			t.Fatal(err)
		}
		bin = filepath.Join(root, "bin", "jaeger")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the trace test needs Jaeger at %s (NOVA_JAEGER_BIN): build it with `make jaeger`", bin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	j, err := jaeger.Start(ctx, jaeger.Config{Bin: bin, Dir: t.TempDir(),
		OTLPAddr: "127.0.0.1:0", UIAddr: "127.0.0.1:0", HealthAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := j.Stop(ctx); err != nil {
			t.Errorf("stop jaeger: %v", err)
		}
	})
	return j
}

// TestPostTraceCrossesEveryHop posts with tracing exported to a real Jaeger
// and reads the post's trace back through Jaeger's query API: one trace,
// from nova-api's request through the outbox relay's publish, the
// dispatcher's delivery and feed-fanout's reaction to its Redis write, each
// span the child of the one before.
func TestPostTraceCrossesEveryHop(t *testing.T) {
	j := startJaeger(t)
	r := startWith(t, system.Config{Environ: map[string]string{
		telemetry.EnvTracesEndpoint: j.OTLPTracesURL(),
		telemetry.EnvSampler:        "parentbased_always_on",
	}, ConsoleAddr: "127.0.0.1:0", ConsoleTraceAPI: j.UIURL()})
	author, follower := r.register("tracer"), r.register("watcher")
	r.follow(follower, author)

	body, _ := json.Marshal(map[string]any{"content": "follow me through Nova", "visibility": "public", "tags": []string{"trace"}})
	req, _ := http.NewRequest(http.MethodPost, r.api+"/v1/posts", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+author.Token)
	// A client's own trace context is linked, never adopted (nova-api is a
	// public endpoint): the trace must be a new one.
	const clientTrace = "0af7651916cd43dd8448eb211c80319c"
	req.Header.Set("traceparent", "00-"+clientTrace+"-b7ad6b7169203331-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		ID string `json:"id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v1/posts = %d", resp.StatusCode)
	}
	parts := strings.Split(resp.Header.Get("Traceresponse"), "-")
	if len(parts) != 4 || len(parts[1]) != 32 {
		t.Fatalf("traceresponse header %q is not a W3C trace context", resp.Header.Get("Traceresponse"))
	}
	traceID := parts[1]
	if traceID == clientTrace {
		t.Fatal("nova-api adopted the client's trace id; a public endpoint must start its own trace")
	}
	r.feedIs(follower, created.ID)

	// Every hop's span, and what each must descend from.
	type hop struct {
		what    string
		matches func(jaeger.Span) bool
	}
	hops := []hop{
		{"nova-api's request", func(s jaeger.Span) bool { return s.Service == "nova-api" && s.OperationName == "POST /v1/posts" }},
		// Whichever relay publishes content-events sends the row: nova-api's
		// or another function's that writes the topic.
		{"the outbox relay's publish", func(s jaeger.Span) bool { return s.OperationName == "send content-events" }},
		{"the dispatcher's delivery to feed-fanout", func(s jaeger.Span) bool {
			src, _ := s.Tag("knative.source")
			return s.Service == system.DispatcherService && s.OperationName == "process content-events" &&
				strings.HasSuffix(src.(string), "feed-fanout")
		}},
		{"feed-fanout's reaction", func(s jaeger.Span) bool {
			return s.Service == "feed-fanout" && s.OperationName == "feed-fanout receive com.nova.content.post.created"
		}},
		{"feed-fanout's Redis write", func(s jaeger.Span) bool {
			sys, _ := s.Tag("db.system.name")
			return s.Service == "feed-fanout" && sys == "redis" && strings.Contains(strings.ToLower(s.OperationName), "pipeline")
		}},
	}
	var spans []jaeger.Span
	deadline := time.Now().Add(60 * time.Second)
	var missing string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		spans, err = jaeger.Trace(ctx, j.UIURL(), traceID)
		cancel()
		if err != nil && !errors.Is(err, jaeger.ErrNotFound) {
			t.Fatal(err)
		}
		missing = ""
		for _, h := range hops {
			if !hasSpan(spans, h.matches) {
				missing = h.what
				break
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace %s lacks %s after 60s; it holds:\n%s", traceID, missing, describe(spans))
		}
		time.Sleep(250 * time.Millisecond)
	}
	// Each hop descends from the one before it, in this one trace.
	byID := map[string]jaeger.Span{}
	for _, s := range spans {
		byID[s.SpanID] = s
	}
	for i := 1; i < len(hops); i++ {
		child := findSpan(spans, hops[i].matches)
		if !descends(byID, child, hops[i-1].matches) {
			t.Errorf("%s (%s) does not descend from %s; trace:\n%s", hops[i].what, child.OperationName, hops[i-1].what, describe(spans))
		}
	}
	// The request links the client's context instead.
	root := findSpan(spans, hops[0].matches)
	if root.Parent() != "" {
		t.Errorf("nova-api's span has a parent (%s): a client's traceparent was trusted", root.Parent())
	}
	// The console draws it.
	page := r.sys.ConsoleURL() + "traces/" + traceID
	resp, err = http.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(html), "feed-fanout receive com.nova.content.post.created") ||
		!strings.Contains(string(html), "process content-events") {
		t.Errorf("GET %s = %d without the trace's spans:\n%.2000s", page, resp.StatusCode, html)
	}
	t.Logf("trace %s: %d spans; %s", traceID, len(spans), page)
}

func hasSpan(spans []jaeger.Span, match func(jaeger.Span) bool) bool {
	for _, s := range spans {
		if match(s) {
			return true
		}
	}
	return false
}

func findSpan(spans []jaeger.Span, match func(jaeger.Span) bool) jaeger.Span {
	for _, s := range spans {
		if match(s) {
			return s
		}
	}
	return jaeger.Span{}
}

// descends reports whether an ancestor of s matches.
func descends(byID map[string]jaeger.Span, s jaeger.Span, match func(jaeger.Span) bool) bool {
	for p := s.Parent(); p != ""; {
		ps, ok := byID[p]
		if !ok {
			return false
		}
		if match(ps) {
			return true
		}
		p = ps.Parent()
	}
	return false
}

func describe(spans []jaeger.Span) string {
	var b strings.Builder
	for _, s := range spans {
		b.WriteString("  " + s.Service + ": " + s.OperationName + " (" + s.SpanID + " ← " + s.Parent() + ")\n")
	}
	return b.String()
}

package console

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nova-social/nova/cmd/nova/internal/jaeger"
)

// A trace as Jaeger's query API gives it: a request, its relay publish
// started later, a delivery under the publish, and a span whose parent
// Jaeger does not hold (exported elsewhere).
const jaegerTrace = `[
 {"spanID":"a","operationName":"POST /v1/posts","startTime":1000,"duration":4000,"tags":[{"key":"span.kind","value":"server"}]},
 {"spanID":"c","operationName":"process content-events","startTime":6000,"duration":3000,
  "references":[{"refType":"CHILD_OF","spanID":"b"}],
  "tags":[{"key":"otel.status_code","value":"ERROR"},{"key":"otel.status_description","value":"delivery failed"}],
  "logs":[{"timestamp":7000,"fields":[{"key":"event","value":"retry"},{"key":"http.response.status_code","value":503}]}]},
 {"spanID":"b","operationName":"send content-events","startTime":5000,"duration":500,"references":[{"refType":"CHILD_OF","spanID":"a"}]},
 {"spanID":"x","operationName":"orphan","startTime":2000,"duration":10,"references":[{"refType":"CHILD_OF","spanID":"gone"}]}
]`

func TestWaterfallOrdersSpansUnderTheirParents(t *testing.T) {
	var spans []jaeger.Span
	if err := json.Unmarshal([]byte(jaegerTrace), &spans); err != nil {
		t.Fatal(err)
	}
	v := waterfall("0af7651916cd43dd8448eb211c80319c", spans)
	var got []string
	for _, r := range v.Spans {
		got = append(got, strings.Repeat(">", r.Depth)+r.Name)
	}
	want := "POST /v1/posts,>send content-events,>>process content-events,orphan"
	if strings.Join(got, ",") != want {
		t.Fatalf("rows %v, want %s", got, want)
	}
	if v.Duration != "8ms" {
		t.Errorf("duration %q, want 8ms (1000µs to 9000µs)", v.Duration)
	}
	relay, delivery := v.Spans[1], v.Spans[2]
	if relay.Left != "50.000%" || relay.Width != "6.250%" || relay.Start != "+4ms" {
		t.Errorf("relay bar at %s width %s start %s", relay.Left, relay.Width, relay.Start)
	}
	if !delivery.Failed || delivery.ErrText != "delivery failed" || len(delivery.Events) != 1 || delivery.Events[0].Name != "retry" {
		t.Errorf("delivery row %+v: want failed, its reason and the retry event", delivery)
	}
	if delivery.Indent != "depth-2" {
		t.Errorf("indent %q", delivery.Indent)
	}
}

func TestTraceLinksGoToTheConsoleWhenItReadsTraces(t *testing.T) {
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	c := &Console{cfg: Config{TraceAPI: "http://127.0.0.1:16686", TraceURL: "http://ui.example"}}
	if got := c.traceLink(tp); got != "/traces/0af7651916cd43dd8448eb211c80319c" {
		t.Errorf("link %q, want the console's trace page", got)
	}
	c.cfg.TraceAPI = ""
	if got := c.traceLink(tp); got != "http://ui.example/trace/0af7651916cd43dd8448eb211c80319c" {
		t.Errorf("link %q, want the trace UI's", got)
	}
	if got := c.traceLink("00-zz"); got != "" {
		t.Errorf("a malformed traceparent linked to %q", got)
	}
}

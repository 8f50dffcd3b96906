package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/jaeger"
)

// traceView is one trace drawn as a waterfall: every span in start order,
// indented under its parent, with a bar placed on the trace's time line.
type traceView struct {
	ID       string
	Duration string
	Services []string
	Spans    []spanRow
	Error    string
}

type spanRow struct {
	Service, Name string
	Depth         int
	// Indent is Depth as a CSS class (depth-0 … depth-9): the console's
	// policy allows no inline style.
	Indent string
	// Left and Width place the bar, in percent of the trace's duration
	// (SVG attributes, not styles).
	Left, Width   string
	Start, Took   string
	Failed        bool
	Attributes    []attr
	Events        []spanEvent
	Kind, ErrText string
}

type attr struct{ Key, Value string }

type spanEvent struct {
	At, Name string
	Fields   []attr
}

// trace draws the trace of id from Jaeger's query API.
func (c *Console) trace(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !lowerHex(id, 32) {
		c.render(w, http.StatusBadRequest, "trace", page{Title: "trace", Body: traceView{ID: id, Error: "not a trace id: 32 lowercase hex digits"}})
		return
	}
	if c.cfg.TraceAPI == "" {
		c.render(w, http.StatusNotFound, "trace", page{Title: "trace", Body: traceView{ID: id,
			Error: "this run keeps no traces: start it with --trace (make run TRACE=1)"}})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	spans, err := jaeger.Trace(ctx, c.cfg.TraceAPI, id)
	switch {
	case errors.Is(err, jaeger.ErrNotFound):
		c.render(w, http.StatusNotFound, "trace", page{Title: "trace " + id[:8], Body: traceView{ID: id,
			Error: "Jaeger holds no trace of this id (yet: spans are exported within a second or two; or it was never sampled)"}})
		return
	case err != nil:
		c.render(w, http.StatusBadGateway, "trace", page{Title: "trace " + id[:8], Body: traceView{ID: id, Error: err.Error()}})
		return
	}
	c.render(w, http.StatusOK, "trace", page{Title: "trace " + id[:8], Body: waterfall(id, spans)})
}

// waterfall orders the spans depth-first from the roots, children by start
// time, and places each on the trace's time line.
func waterfall(id string, spans []jaeger.Span) traceView {
	v := traceView{ID: id}
	if len(spans) == 0 {
		return v
	}
	start, end := spans[0].StartTime, spans[0].StartTime+spans[0].Duration
	byID := map[string]bool{}
	services := map[string]bool{}
	for _, s := range spans {
		start = min(start, s.StartTime)
		end = max(end, s.StartTime+s.Duration)
		byID[s.SpanID] = true
		services[s.Service] = true
	}
	total := max(end-start, 1)
	v.Duration = micros(total)
	for s := range services {
		v.Services = append(v.Services, s)
	}
	slices.Sort(v.Services)
	children := map[string][]jaeger.Span{}
	var roots []jaeger.Span
	for _, s := range spans {
		if p := s.Parent(); p != "" && byID[p] {
			children[p] = append(children[p], s)
		} else {
			// A root, or a span whose parent is in no span Jaeger holds
			// (Knative's, say, exported elsewhere).
			roots = append(roots, s)
		}
	}
	byStart := func(a, b jaeger.Span) int { return int(a.StartTime - b.StartTime) }
	slices.SortFunc(roots, byStart)
	var walk func(s jaeger.Span, depth int)
	walk = func(s jaeger.Span, depth int) {
		v.Spans = append(v.Spans, row(s, depth, start, total))
		kids := children[s.SpanID]
		slices.SortFunc(kids, byStart)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	return v
}

func row(s jaeger.Span, depth int, start, total int64) spanRow {
	r := spanRow{Service: s.Service, Name: s.OperationName, Depth: depth, Indent: fmt.Sprintf("depth-%d", min(depth, 9)),
		Left:  percent(s.StartTime-start, total),
		Width: percent(max(s.Duration, total/500), total),
		Start: "+" + micros(s.StartTime-start), Took: micros(s.Duration)}
	for _, t := range s.Tags {
		val := fmt.Sprint(t.Value)
		switch t.Key {
		case "span.kind":
			r.Kind = val
		case "error":
			r.Failed = r.Failed || val == "true"
		case "otel.status_code":
			r.Failed = r.Failed || val == "ERROR"
		case "otel.status_description":
			r.ErrText = val
		}
		r.Attributes = append(r.Attributes, attr{t.Key, val})
	}
	for _, l := range s.Logs {
		e := spanEvent{At: "+" + micros(l.Timestamp-start)}
		for _, f := range l.Fields {
			if f.Key == "event" {
				e.Name = fmt.Sprint(f.Value)
				continue
			}
			e.Fields = append(e.Fields, attr{f.Key, fmt.Sprint(f.Value)})
		}
		r.Events = append(r.Events, e)
	}
	return r
}

func percent(part, total int64) string {
	return fmt.Sprintf("%.3f%%", 100*float64(part)/float64(total))
}

// micros formats a duration in microseconds as a person reads it.
func micros(us int64) string {
	d := time.Duration(us) * time.Microsecond
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", us)
	case d < time.Second:
		return strings.TrimSuffix(fmt.Sprintf("%.2f", float64(us)/1000), ".00") + "ms"
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

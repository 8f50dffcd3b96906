package jaeger

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// Span is a span as Jaeger's query API returns it, with its service.
type Span struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	// StartTime (µs since the epoch) and Duration (µs).
	StartTime int64  `json:"startTime"`
	Duration  int64  `json:"duration"`
	ProcessID string `json:"processID"`
	Tags      []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
	Logs []struct {
		Timestamp int64 `json:"timestamp"`
		Fields    []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"fields"`
	} `json:"logs"`
	// Service is the span's process's service name, filled by Trace.
	Service string `json:"-"`
}

// Tag returns the value of the span's attribute key.
func (s Span) Tag(key string) (any, bool) {
	for _, t := range s.Tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return nil, false
}

// Parent is the span's parent span id ("" for a root).
func (s Span) Parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

// ErrNotFound means Jaeger holds no trace of that id (yet).
var ErrNotFound = fmt.Errorf("jaeger: trace not found")

// Trace reads one trace's spans through the query API the UI uses.
func Trace(ctx context.Context, ui, traceID string) ([]Span, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ui+"/api/traces/"+url.PathEscape(traceID), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jaeger: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("jaeger: %w", err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, ErrNotFound
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jaeger: GET trace %s: %s: %s", traceID, resp.Status, body)
	}
	var out struct {
		Data []struct {
			Spans     []Span `json:"spans"`
			Processes map[string]struct {
				ServiceName string `json:"serviceName"`
			} `json:"processes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("jaeger: trace %s: %w", traceID, err)
	}
	if len(out.Data) == 0 {
		return nil, ErrNotFound
	}
	spans := out.Data[0].Spans
	for i := range spans {
		spans[i].Service = out.Data[0].Processes[spans[i].ProcessID].ServiceName
	}
	return spans, nil
}

package testrig

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// JSONRequest is a request to a JSON API: body (nil for none) encoded as
// the JSON payload, token (empty for none) as its bearer.
func JSONRequest(ctx context.Context, method, url, token string, body any) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req, nil
}

// DoJSON sends req and decodes the JSON object it answers (nil for an
// empty body), as a client sees it: a transport error or any status,
// never a test failure.
func DoJSON(c *http.Client, req *http.Request) (int, map[string]any, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			return resp.StatusCode, nil, fmt.Errorf("non-JSON answer %q", raw)
		}
	}
	return resp.StatusCode, out, nil
}

package httpapi_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
)

type createPost struct {
	Content    string         `json:"content"`
	Visibility string         `json:"visibility"`
	Tags       []string       `json:"tags"`
	ReplyTo    id.PostID      `json:"reply_to,omitempty"`
	Count      int            `json:"count"`
	Meta       map[string]int `json:"meta"`
}

func TestDecodeJSON(t *testing.T) {
	const limit = 256
	for _, c := range []struct {
		name, ct, body string
		status         int
		code, message  string
	}{
		{"ok", "application/json", `{"content":"hi","tags":["a"]}`, 0, "", ""},
		{"ok with charset", "application/json; charset=UTF-8", `{"content":"hi"}`, 0, "", ""},
		{"ok trailing whitespace", "application/json", "{\"content\":\"hi\"}\n\t ", 0, "", ""},
		{"no content type", "", `{}`, 415, "unsupported_media_type", "application/json"},
		{"form", "application/x-www-form-urlencoded", `content=hi`, 415, "unsupported_media_type", ""},
		{"text", "text/plain", `{}`, 415, "unsupported_media_type", ""},
		{"latin1", "application/json; charset=iso-8859-1", `{}`, 415, "unsupported_media_type", "charset"},
		{"too large", "application/json", `{"content":"` + strings.Repeat("x", 300) + `"}`, 413, "payload_too_large", "256 bytes"},
		{"empty", "application/json", ``, 400, "invalid_json", "empty"},
		{"syntax", "application/json", `{"content":}`, 400, "invalid_json", "byte"},
		{"truncated", "application/json", `{"content":"hi"`, 400, "invalid_json", "truncated"},
		{"unknown field", "application/json", `{"content":"hi","admin":true}`, 400, "invalid_json", `"admin"`},
		{"duplicate member", "application/json", `{"content":"hi","content":"evil"}`, 400, "invalid_json", `"content" appears twice`},
		{"duplicate nested member", "application/json", `{"content":"hi","meta":{"a":1,"a":2}}`, 400, "invalid_json", `"meta.a" appears twice`},
		{"member in another case", "application/json", `{"Content":"hi"}`, 400, "invalid_json", "case-sensitive"},
		{"invalid UTF-8", "application/json", "{\"content\":\"caf\xe9\"}", 400, "invalid_json", "UTF-8"},
		{"wrong type", "application/json", `{"content":42}`, 400, "invalid_json", `"content" must be a string`},
		{"wrong type int", "application/json", `{"count":"many"}`, 400, "invalid_json", `"count" must be an integer`},
		{"array body", "application/json", `[1,2]`, 400, "invalid_json", "object"},
		{"two values", "application/json", `{"content":"a"}{"content":"b"}`, 400, "invalid_json", "single JSON value"},
		{"value then garbage", "application/json", `{"content":"a"} x`, 400, "invalid_json", "single JSON value"},
		{"bad id", "application/json", `{"reply_to":"not-a-uuid"}`, 400, "invalid_json", "invalid post id"},
		{"null", "application/json", `null`, 0, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/v1/posts", strings.NewReader(c.body))
			if c.ct != "" {
				req.Header.Set("Content-Type", c.ct)
			}
			rec := httptest.NewRecorder()
			var dst createPost
			err := httpapi.DecodeJSON(rec, req, &dst, limit)
			if c.status == 0 {
				if err != nil {
					t.Fatalf("DecodeJSON = %v", err)
				}
				return
			}
			var he *httpapi.Error
			if !errors.As(err, &he) {
				t.Fatalf("DecodeJSON = %v, want *httpapi.Error", err)
			}
			if he.Status != c.status || he.Code != c.code || !strings.Contains(he.Message, c.message) {
				t.Fatalf("got %d %s %q, want %d %s containing %q", he.Status, he.Code, he.Message, c.status, c.code, c.message)
			}
			log, _ := newLogger()
			httpapi.WriteError(rec, req, log, err)
			if rec.Code != c.status {
				t.Fatalf("written status %d", rec.Code)
			}
			decodeError(t, rec)
		})
	}
}

// A body that lies about its size (no Content-Length, streamed) is cut at
// the limit all the same.
func TestDecodeJSONStreamedOversize(t *testing.T) {
	body := `{"content":"` + strings.Repeat("x", 2000) + `"}`
	req := httptest.NewRequest("POST", "/", strings.NewReader(body))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	var dst createPost
	err := httpapi.DecodeJSON(httptest.NewRecorder(), req, &dst, 1000)
	var he *httpapi.Error
	if !errors.As(err, &he) || he.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("streamed oversize body: %v", err)
	}
	// Trailing data beyond the limit after a complete value is also 413.
	body = `{"content":"a"}` + strings.Repeat(" ", 100) + "x"
	req = httptest.NewRequest("POST", "/", strings.NewReader(body))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	err = httpapi.DecodeJSON(httptest.NewRecorder(), req, &dst, 50)
	if !errors.As(err, &he) || he.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversize trailing data: %v", err)
	}
}

func BenchmarkDecodeJSON(b *testing.B) {
	body := `{"content":"hello world, this is a post","visibility":"PUBLIC","tags":["a","b","c"]}`
	for b.Loop() {
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		var dst createPost
		if err := httpapi.DecodeJSON(httptest.NewRecorder(), req, &dst, 0); err != nil {
			b.Fatal(err)
		}
	}
}

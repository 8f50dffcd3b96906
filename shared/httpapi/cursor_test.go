package httpapi_test

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
)

// feedCursor is a typical keyset position.
type feedCursor struct {
	Score int64     `json:"s"`
	Post  id.PostID `json:"p"`
}

func (c feedCursor) Validate() error {
	if c.Score < 0 || c.Post.IsZero() {
		return errors.New("score negative or post missing")
	}
	return nil
}

func TestCursorRoundTrip(t *testing.T) {
	in := feedCursor{Score: 1767225600123, Post: "01932c07-a5d4-7c2e-8b3a-2f6d1e9c4b7a"}
	s, err := httpapi.EncodeCursor(in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(s, "+/=") {
		t.Fatalf("cursor %q is not URL-safe", s)
	}
	out, err := httpapi.DecodeCursor[feedCursor](s)
	if err != nil || out != in {
		t.Fatalf("DecodeCursor = %+v, %v", out, err)
	}
}

func TestCursorRejects(t *testing.T) {
	enc := func(v any) string { s, _ := httpapi.EncodeCursor(v); return s }
	good := enc(feedCursor{Score: 1, Post: "01932c07-a5d4-7c2e-8b3a-2f6d1e9c4b7a"})
	for name, s := range map[string]string{
		"empty":          "",
		"not base64":     "!!!",
		"padded":         good + "=",
		"std alphabet":   strings.ReplaceAll(good, "-", "+") + "/",
		"not json":       enc("just a string"),
		"unknown field":  enc(map[string]any{"s": 1, "p": "01932c07-a5d4-7c2e-8b3a-2f6d1e9c4b7a", "admin": true}),
		"bad post id":    enc(map[string]any{"s": 1, "p": "../../x"}),
		"fails Validate": enc(map[string]any{"s": -5, "p": "01932c07-a5d4-7c2e-8b3a-2f6d1e9c4b7a"}),
		"missing post":   enc(map[string]any{"s": 5}),
		"too long":       strings.Repeat("A", 600),
		"wrong type":     enc(map[string]any{"s": "soon", "p": "01932c07-a5d4-7c2e-8b3a-2f6d1e9c4b7a"}),
	} {
		_, err := httpapi.DecodeCursor[feedCursor](s)
		var he *httpapi.Error
		if !errors.As(err, &he) || he.Status != 400 || he.Code != "invalid_cursor" {
			t.Errorf("%s: %v, want 400 invalid_cursor", name, err)
		}
	}
}

func TestParsePage(t *testing.T) {
	cur, _ := httpapi.EncodeCursor(feedCursor{Score: 7, Post: "01932c07-a5d4-7c2e-8b3a-2f6d1e9c4b7a"})
	cfg := httpapi.PageConfig{DefaultLimit: 20, MaxLimit: 50}
	p, err := httpapi.ParsePage[feedCursor](httptest.NewRequest("GET", "/v1/feed", nil), cfg)
	if err != nil || p.Limit != 20 || p.HasCursor {
		t.Fatalf("first page: %+v, %v", p, err)
	}
	p, err = httpapi.ParsePage[feedCursor](httptest.NewRequest("GET", "/v1/feed?limit=50&cursor="+cur, nil), cfg)
	if err != nil || p.Limit != 50 || !p.HasCursor || p.Cursor.Score != 7 {
		t.Fatalf("next page: %+v, %v", p, err)
	}
	for _, q := range []string{"limit=0", "limit=51", "limit=-1", "limit=ten", "limit=", "limit=5&limit=6", "cursor=zz!", "cursor=" + cur + "&cursor=" + cur} {
		_, err := httpapi.ParsePage[feedCursor](httptest.NewRequest("GET", "/v1/feed?"+q, nil), cfg)
		var he *httpapi.Error
		if !errors.As(err, &he) || he.Status != 400 {
			t.Errorf("?%s: %v, want 400", q, err)
		}
	}
	if _, err := httpapi.ParsePage[feedCursor](httptest.NewRequest("GET", "/", nil), httpapi.PageConfig{DefaultLimit: 10, MaxLimit: 5}); err == nil {
		t.Error("inconsistent PageConfig accepted")
	}
}

func TestPageJSON(t *testing.T) {
	b, _ := json.Marshal(httpapi.NewPage[string](nil, ""))
	if string(b) != `{"items":[],"next_cursor":null}` {
		t.Fatalf("last empty page: %s", b)
	}
	b, _ = json.Marshal(httpapi.NewPage([]string{"a"}, "abc"))
	if string(b) != `{"items":["a"],"next_cursor":"abc"}` {
		t.Fatalf("page: %s", b)
	}
}

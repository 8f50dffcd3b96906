package openapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/nova-social/nova/shared/api/openapi"
	"github.com/nova-social/nova/shared/api/openapi/openapitest"
	"github.com/nova-social/nova/shared/httpapi"
)

func spec(t *testing.T) *openapitest.Spec {
	t.Helper()
	s, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Every example in the document matches the schema it illustrates: the
// request bodies the tests send and the answers the reference page shows.
func TestExamplesMatchTheirSchemas(t *testing.T) {
	for _, op := range spec(t).Operations() {
		if op.RequestType == "application/json" {
			if err := op.CheckRequest(op.RequestExample); err != nil {
				t.Errorf("%s: example request: %v", op.ID, err)
			}
		}
		for _, ex := range op.Examples() {
			if err := op.CheckValue(ex.Status, ex.ContentType, ex.Body); err != nil {
				t.Errorf("%s: example answer: %v", op.ID, err)
			}
		}
	}
}

// The schemas are strict enough to catch a wrong answer: the checker is
// not a rubber stamp.
func TestCheckRefusesAnswersTheDocumentDoesNotDescribe(t *testing.T) {
	s := spec(t)
	login := s.Lookup("POST", "/v1/sessions")
	if login == nil {
		t.Fatal("no POST /v1/sessions in the document")
	}
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	good := []byte(`{"token":"a.b.c","token_type":"Bearer","expires_in":3600}`)
	if err := login.Check(200, jsonHeader, good); err != nil {
		t.Fatalf("a documented answer: %v", err)
	}
	for name, c := range map[string]struct {
		status int
		header http.Header
		body   string
	}{
		"undocumented member": {200, jsonHeader, `{"token":"a.b.c","token_type":"Bearer","expires_in":3600,"refresh":"x"}`},
		"missing member":      {200, jsonHeader, `{"token":"a.b.c","token_type":"Bearer"}`},
		"wrong type":          {200, jsonHeader, `{"token":"a.b.c","token_type":"Bearer","expires_in":"soon"}`},
		"undocumented status": {418, jsonHeader, `{"error":{"code":"teapot","message":"no"}}`},
		"other content type":  {200, http.Header{"Content-Type": {"text/plain"}}, string(good)},
		"error shape":         {401, jsonHeader, `{"error":"unauthorized"}`},
		"429 without headers": {429, jsonHeader, `{"error":{"code":"rate_limited","message":"slow down"}}`},
	} {
		if err := login.Check(c.status, c.header, []byte(c.body)); err == nil {
			t.Errorf("%s: accepted %d %s", name, c.status, c.body)
		}
	}
	if err := s.Lookup("POST", "/v1/posts/{id}/views").Check(202, http.Header{}, []byte(`{"unexpected":true}`)); err == nil {
		t.Error("a body where the document gives none was accepted")
	}
}

// What the page and the tests rely on is in every operation: an id, a
// tag, a summary, an example of each parameter and JSON request body.
func TestEveryOperationIsComplete(t *testing.T) {
	ids := map[string]bool{}
	for _, op := range spec(t).Operations() {
		if ids[op.ID] {
			t.Errorf("operationId %s twice", op.ID)
		}
		ids[op.ID] = true
		for _, p := range op.Params {
			if p.Example == nil {
				t.Errorf("%s: parameter %s has no example", op.ID, p.Name)
			}
		}
		if op.RequestType != "" && op.RequestExample == nil {
			t.Errorf("%s: the request body has no example", op.ID)
		}
		if op.ExampleStatus == 0 {
			t.Errorf("%s: no success answer", op.ID)
		}
	}
}

// GET /v1/openapi.json serves the document, GET /v1/docs the page, both
// anonymous and cacheable, revalidated by ETag; the page's CSP allows its
// style sheet and nothing else.
func TestServed(t *testing.T) {
	routes := httpapi.NewRoutes()
	if err := openapi.Mount(routes); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.Chain(routes, httpapi.SecurityHeaders))
	defer srv.Close()
	s := spec(t)
	d, err := openapi.Load()
	if err != nil {
		t.Fatal(err)
	}

	get := func(path string, h http.Header) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp, buf.Bytes()
	}
	for _, c := range []struct{ path, contentType string }{
		{openapi.DocumentPath, "application/json"}, {openapi.DocsPath, "text/html; charset=utf-8"},
	} {
		op := s.Lookup("GET", c.path)
		if op == nil {
			t.Fatalf("GET %s is not in the document", c.path)
		}
		resp, body := get(c.path, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != c.contentType {
			t.Fatalf("GET %s: %d %q", c.path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if err := op.Check(resp.StatusCode, resp.Header, body); err != nil {
			t.Error(err)
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "public, max-age=") {
			t.Errorf("GET %s: Cache-Control %q", c.path, cc)
		}
		etag := resp.Header.Get("ETag")
		resp, body = get(c.path, http.Header{"If-None-Match": {`"other", ` + etag}})
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("GET %s with its ETag: %d, %d bytes", c.path, resp.StatusCode, len(body))
		}
		if err := op.Check(resp.StatusCode, resp.Header, body); err != nil {
			t.Error(err)
		}
	}

	_, body := get(openapi.DocumentPath, nil)
	var served any
	if err := json.Unmarshal(body, &served); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, d.JSON()) || served.(map[string]any)["openapi"] != "3.1.0" {
		t.Errorf("the served document is not the embedded one")
	}

	resp, page := get(openapi.DocsPath, nil)
	csp := resp.Header.Get("Content-Security-Policy")
	style := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindAllSubmatch(page, -1)
	if len(style) != 1 {
		t.Fatalf("the page has %d style sheets", len(style))
	}
	sum := sha256.Sum256(style[0][1])
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %s", csp, want)
		}
	}
	// Nothing runs and nothing is fetched: no script, no loaded resource.
	for _, bad := range []string{"<script", "<link", " src=", "<img", "<iframe"} {
		if bytes.Contains(page, []byte(bad)) {
			t.Errorf("the page holds %s", bad)
		}
	}
	for _, op := range s.Operations() {
		if !bytes.Contains(page, []byte(`id="op-`+op.ID+`"`)) {
			t.Errorf("the page has no section for %s", op.ID)
		}
	}
}

// Package openapi holds nova-api's OpenAPI 3.1 document, openapi.yaml, and
// serves it: GET /v1/openapi.json (the document as JSON) and GET /v1/docs
// (an HTML reference page rendered from it here, with no script and nothing
// fetched from elsewhere).
//
// The document is written by hand and held to the code by tests:
// shared/api's fail when the assembled API serves a route the document
// lacks or the document names one it does not serve, and send every
// operation's example to a running nova-api, checking each answer against
// the document (openapitest); redocly lint (make openapi-lint) checks it
// against the specification with the rules in redocly.yaml.
package openapi

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"sigs.k8s.io/yaml"

	"github.com/nova-social/nova/shared/httpapi"
)

//go:embed openapi.yaml
var source []byte

// Paths served.
const (
	DocumentPath = "/v1/openapi.json"
	DocsPath     = "/v1/docs"
)

// cacheControl lets browsers and shared caches keep both answers a while:
// they change only with a new release, and the ETag revalidates them.
const cacheControl = "public, max-age=300"

// YAML is the document as written.
func YAML() []byte { return bytes.Clone(source) }

// Document is the parsed document and its two renderings.
type Document struct {
	// Spec is the document as JSON values (objects are map[string]any).
	Spec map[string]any
	json []byte
	html []byte
	// csp allows the page's one inline style sheet by its hash.
	csp string
}

var load = sync.OnceValues(func() (*Document, error) {
	raw, err := yaml.YAMLToJSON(source)
	if err != nil {
		return nil, fmt.Errorf("openapi: openapi.yaml: %w", err)
	}
	d := &Document{}
	if err := json.Unmarshal(raw, &d.Spec); err != nil {
		return nil, fmt.Errorf("openapi: openapi.yaml: %w", err)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return nil, fmt.Errorf("openapi: openapi.yaml: %w", err)
	}
	d.json = buf.Bytes()
	if d.html, err = renderPage(d.Spec); err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(pageStyle))
	d.csp = "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return d, nil
})

// Load parses the embedded document once.
func Load() (*Document, error) { return load() }

// JSON is the document as GET /v1/openapi.json serves it.
func (d *Document) JSON() []byte { return bytes.Clone(d.json) }

// HTML is the reference page as GET /v1/docs serves it.
func (d *Document) HTML() []byte { return bytes.Clone(d.html) }

// Mount registers GET /v1/openapi.json and GET /v1/docs on mux. Both are
// anonymous and cacheable. It fails only when the embedded document does
// not parse, which the package's tests rule out.
func Mount(mux httpapi.Router) error {
	d, err := Load()
	if err != nil {
		return err
	}
	mux.Handle("GET "+DocumentPath, serve(d.json, "application/json", ""))
	mux.Handle("GET "+DocsPath, serve(d.html, "text/html; charset=utf-8", d.csp))
	return nil
}

// serve answers with body, revalidated by its hash (If-None-Match → 304).
func serve(body []byte, contentType, csp string) http.Handler {
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	length := strconv.Itoa(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", cacheControl)
		h.Set("ETag", etag)
		if matches(r.Header.Get("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", contentType)
		h.Set("Content-Length", length)
		if csp != "" {
			h.Set("Content-Security-Policy", csp)
		}
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(body)
		}
	})
}

// matches reports whether an If-None-Match list names etag (weakly, as
// RFC 9110 compares for GET) or is "*".
func matches(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

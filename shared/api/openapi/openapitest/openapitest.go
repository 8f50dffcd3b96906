// Package openapitest holds nova-api's answers to its OpenAPI document in
// tests: Load compiles every schema the document gives an operation, and
// Operation.Check says whether a real answer (status, headers, body) is
// one the document describes. Only tests import it, so nova-api does not
// carry the JSON Schema validator.
package openapitest

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/nova-social/nova/shared/api/openapi"
)

// base names the document as a schema resource; nothing is fetched.
const base = "https://nova.invalid/openapi.json"

// RuntimePrefix marks the paths the function runtime (func-go) answers
// beside nova-api's routes: its health probes. They are in the document
// but not in nova-api's route table.
const RuntimePrefix = "/health/"

// Spec is the document with its schemas compiled.
type Spec struct {
	doc map[string]any
	ops []*Operation
}

// Operation is one method on one path of the document.
type Operation struct {
	Method, Path, ID string
	// Anonymous: the operation takes no token (security: []).
	Anonymous bool
	Params    []Param
	// RequestType is the request body's media type ("" without a body);
	// RequestExample its example, as JSON values.
	RequestType    string
	RequestExample any
	// ExampleStatus is the success status whose answer has an example
	// (an "example"; "examples" are named alternatives, such as a retry's),
	// or the first success status; ResponseExample is that answer.
	ExampleStatus   int
	ResponseExample any

	request   *jsonschema.Schema // the JSON request body's schema
	responses map[string]*response
}

// Param is a parameter of an operation.
type Param struct {
	Name, In string
	Required bool
	Example  any
}

type response struct {
	where   string // JSON pointer, for messages
	content map[string]*media
	headers map[string]*header
}

type media struct {
	schema  *jsonschema.Schema // nil: any body of the type
	example any
	has     bool // an example is given (example)
	// others are the named alternatives (examples), e.g. a retry's answer.
	others []any
}

type header struct {
	required bool
	schema   *jsonschema.Schema
	integer  bool
}

// Load parses the embedded document and compiles its schemas.
func Load() (*Spec, error) {
	d, err := openapi.Load()
	if err != nil {
		return nil, err
	}
	// The validator wants its own number type: parse the JSON again.
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(d.JSON()))
	if err != nil {
		return nil, fmt.Errorf("openapitest: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(base, doc); err != nil {
		return nil, fmt.Errorf("openapitest: %w", err)
	}
	s := &Spec{doc: doc.(map[string]any)}
	compile := func(ptr string) (*jsonschema.Schema, error) {
		sch, err := c.Compile(base + "#" + ptr)
		if err != nil {
			return nil, fmt.Errorf("openapitest: schema at %s: %w", ptr, err)
		}
		return sch, nil
	}
	paths := obj(s.doc["paths"])
	for _, path := range sortedKeys(paths) {
		item := obj(paths[path])
		for _, method := range []string{"get", "put", "post", "patch", "delete"} {
			raw, ok := item[method].(map[string]any)
			if !ok {
				continue
			}
			op, err := s.operation(path, method, item, raw, compile)
			if err != nil {
				return nil, err
			}
			s.ops = append(s.ops, op)
		}
	}
	return s, nil
}

func (s *Spec) operation(path, method string, item, raw map[string]any, compile func(string) (*jsonschema.Schema, error)) (*Operation, error) {
	opPtr := "/paths/" + escape(path) + "/" + method
	op := &Operation{Method: strings.ToUpper(method), Path: path, ID: str(raw["operationId"]), responses: map[string]*response{}}
	if sec, ok := raw["security"].([]any); ok && len(sec) == 0 {
		op.Anonymous = true
	}
	for _, p := range append(list(item["parameters"]), list(raw["parameters"])...) {
		prm, _ := s.resolve(obj(p), "")
		op.Params = append(op.Params, Param{Name: str(prm["name"]), In: str(prm["in"]), Required: prm["required"] == true, Example: prm["example"]})
	}
	if rb, ptr := s.resolve(obj(raw["requestBody"]), opPtr+"/requestBody"); rb != nil {
		for ct, mt := range obj(rb["content"]) {
			op.RequestType, op.RequestExample = ct, obj(mt)["example"]
			if ct == "application/json" {
				sch, err := compile(ptr + "/content/" + escape(ct) + "/schema")
				if err != nil {
					return nil, err
				}
				op.request = sch
			}
		}
	}
	responses := obj(raw["responses"])
	for _, status := range sortedKeys(responses) {
		resp, ptr := s.resolve(obj(responses[status]), opPtr+"/responses/"+status)
		r := &response{where: op.Method + " " + path + " " + status, content: map[string]*media{}, headers: map[string]*header{}}
		for ct, raw := range obj(resp["content"]) {
			mt := obj(raw)
			m := &media{}
			m.example, m.has = mt["example"]
			for _, name := range sortedKeys(obj(mt["examples"])) {
				ex, _ := s.resolve(obj(obj(mt["examples"])[name]), "")
				m.others = append(m.others, ex["value"])
			}
			if mt["schema"] != nil {
				sch, err := compile(ptr + "/content/" + escape(ct) + "/schema")
				if err != nil {
					return nil, err
				}
				m.schema = sch
			}
			r.content[ct] = m
		}
		for name, raw := range obj(resp["headers"]) {
			h, hptr := s.resolve(obj(raw), ptr+"/headers/"+escape(name))
			sch, err := compile(hptr + "/schema")
			if err != nil {
				return nil, err
			}
			r.headers[name] = &header{required: h["required"] == true, schema: sch, integer: obj(h["schema"])["type"] == "integer"}
		}
		op.responses[status] = r
		code, err := strconv.Atoi(status)
		if err != nil || code < 200 || code > 299 {
			continue
		}
		// The success status with an example (not a named alternative);
		// else the first success.
		if m := r.content["application/json"]; m != nil && m.has && op.ResponseExample == nil {
			op.ExampleStatus, op.ResponseExample = code, m.example
		} else if op.ExampleStatus == 0 {
			op.ExampleStatus = code
		}
	}
	if op.ID == "" {
		return nil, fmt.Errorf("openapitest: %s %s has no operationId", op.Method, path)
	}
	if op.ExampleStatus == 0 {
		return nil, fmt.Errorf("openapitest: %s has no success response", op.ID)
	}
	return op, nil
}

// resolve follows $refs to components; ptr is where m is, and the result's
// pointer is where the component is.
func (s *Spec) resolve(m map[string]any, ptr string) (map[string]any, string) {
	for range 8 {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m, ptr
		}
		ptr = strings.TrimPrefix(ref, "#")
		var v any = s.doc
		for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
			v = obj(v)[strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")]
		}
		m = obj(v)
	}
	return m, ptr
}

// Operations lists every operation, by path and method.
func (s *Spec) Operations() []*Operation { return slices.Clone(s.ops) }

// Lookup finds the operation of a method and a path as the document
// writes it ("/v1/users/{id}"); nil when there is none.
func (s *Spec) Lookup(method, path string) *Operation {
	for _, op := range s.ops {
		if op.Method == method && op.Path == path {
			return op
		}
	}
	return nil
}

// Route finds the operation of a ServeMux pattern as nova-api registers
// it ("GET /v1/media/files/{key...}"); nil when there is none.
func (s *Spec) Route(pattern string) *Operation {
	method, path, _ := strings.Cut(Pattern(pattern), " ")
	return s.Lookup(method, path)
}

// Pattern writes a ServeMux pattern as the document names the operation:
// "METHOD /path/{name}", a trailing wildcard's "..." dropped (OpenAPI has
// no such thing; the parameter's description says it spans segments).
func Pattern(p string) string { return strings.ReplaceAll(p, "...}", "}") }

// Pattern is the operation as a ServeMux pattern without wildcard dots.
func (o *Operation) Pattern() string { return o.Method + " " + o.Path }

// Example is a documented example of an answer.
type Example struct {
	Status      int
	ContentType string
	Body        any
}

// Examples lists every example answer the operation documents.
func (o *Operation) Examples() []Example {
	var out []Example
	for _, status := range sortedKeys(o.responses) {
		code, _ := strconv.Atoi(status)
		for ct, m := range o.responses[status].content {
			if m.has {
				out = append(out, Example{Status: code, ContentType: ct, Body: m.example})
			}
			for _, ex := range m.others {
				out = append(out, Example{Status: code, ContentType: ct, Body: ex})
			}
		}
	}
	return out
}

// CheckRequest validates a decoded JSON request body against the
// operation's request schema.
func (o *Operation) CheckRequest(v any) error {
	if o.request == nil {
		return fmt.Errorf("%s %s takes no JSON body", o.Method, o.Path)
	}
	if err := o.request.Validate(v); err != nil {
		return fmt.Errorf("%s %s: the request body does not match the document: %w", o.Method, o.Path, err)
	}
	return nil
}

// CheckValue validates a decoded JSON value (jsonschema.UnmarshalJSON's,
// or plain encoding/json values) as the body of status with contentType.
func (o *Operation) CheckValue(status int, contentType string, v any) error {
	r, err := o.response(status)
	if err != nil {
		return err
	}
	m, err := r.media(contentType)
	if err != nil {
		return err
	}
	if m.schema == nil {
		return nil
	}
	if err := m.schema.Validate(v); err != nil {
		return fmt.Errorf("%s: %s body does not match the document: %w", r.where, contentType, err)
	}
	return nil
}

// Check says whether an answer is one the document describes for the
// operation: its status documented, a required header present and every
// documented header as its schema says, the body of a documented media
// type and, for JSON, valid against its schema; no body where none is
// documented.
func (o *Operation) Check(status int, h http.Header, body []byte) error {
	r, err := o.response(status)
	if err != nil {
		return err
	}
	var errs []error
	for name, hd := range r.headers {
		v := h.Get(name)
		if v == "" {
			if hd.required {
				errs = append(errs, fmt.Errorf("%s: no %s header", r.where, name))
			}
			continue
		}
		var val any = v
		if hd.integer {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %s %q is not an integer", r.where, name, v))
				continue
			}
			val = n
		}
		if err := hd.schema.Validate(val); err != nil {
			errs = append(errs, fmt.Errorf("%s: %s %q: %w", r.where, name, v, err))
		}
	}
	if len(r.content) == 0 {
		if len(body) > 0 {
			errs = append(errs, fmt.Errorf("%s: the document gives no body, the answer has %d bytes: %.200q", r.where, len(body), body))
		}
		return errors.Join(errs...)
	}
	ct := h.Get("Content-Type")
	m, err := r.media(ct)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if mt, _, _ := mime.ParseMediaType(ct); mt == "application/json" && m.schema != nil {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
		if err != nil {
			return errors.Join(append(errs, fmt.Errorf("%s: the body is not JSON: %w: %.200q", r.where, err, body))...)
		}
		if err := m.schema.Validate(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: the body does not match the document: %w\nbody: %.600s", r.where, err, body))
		}
	} else if m.schema != nil {
		if err := m.schema.Validate(string(body)); err != nil {
			errs = append(errs, fmt.Errorf("%s: the body does not match the document: %w", r.where, err))
		}
	}
	return errors.Join(errs...)
}

// response is the documented answer for status: exact, then its class
// ("4XX"), then "default".
func (o *Operation) response(status int) (*response, error) {
	for _, k := range []string{strconv.Itoa(status), strconv.Itoa(status/100) + "XX", "default"} {
		if r, ok := o.responses[k]; ok {
			return r, nil
		}
	}
	return nil, fmt.Errorf("%s %s: status %d is not in the document (it lists %s)", o.Method, o.Path, status, strings.Join(sortedKeys(o.responses), ", "))
}

// media is the documented content for a Content-Type, wildcards such as
// image/* matching.
func (r *response) media(contentType string) (*media, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, fmt.Errorf("%s: Content-Type %q: %w", r.where, contentType, err)
	}
	if m, ok := r.content[mt]; ok {
		return m, nil
	}
	major, _, _ := strings.Cut(mt, "/")
	if m, ok := r.content[major+"/*"]; ok {
		return m, nil
	}
	return nil, fmt.Errorf("%s: Content-Type %q is not in the document (it lists %s)", r.where, contentType, strings.Join(sortedKeys(r.content), ", "))
}

// escape writes a JSON pointer token.
func escape(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1") }

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func list(v any) []any         { l, _ := v.([]any); return l }
func str(v any) string         { s, _ := v.(string); return s }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

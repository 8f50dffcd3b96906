package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// The reference page: plain HTML rendered once from the document, one
// inline style sheet (allowed by its hash in the page's CSP) and no script,
// so it works under the API's strict headers and offline.

// methods in the order the page lists an operation's verbs.
var methods = []string{"get", "put", "post", "patch", "delete", "head", "options", "trace"}

type page struct {
	Title, Version, Summary string
	Intro                   template.HTML
	Auth                    []authView
	Tags                    []tagView
	Schemas                 []schemaView
	Style                   template.CSS
}

type authView struct {
	Name        string
	Kind        string
	Description template.HTML
}

type tagView struct {
	Name, ID    string
	Description template.HTML
	Ops         []opView
}

type opView struct {
	ID, Method, Path, Summary string
	Description               template.HTML
	Anonymous                 bool
	Params                    []paramView
	Request                   []bodyView
	Responses                 []responseView
}

type paramView struct {
	Name, In    string
	Required    bool
	Schema      template.HTML
	Description template.HTML
	Example     string
}

type bodyView struct {
	ContentType string
	Schema      template.HTML
	Example     string
	Named       []namedExample
}

type namedExample struct{ Name, Summary, Value string }

type responseView struct {
	Status      string
	Description template.HTML
	Headers     []headerView
	Bodies      []bodyView
}

type headerView struct {
	Name        string
	Required    bool
	Schema      template.HTML
	Description template.HTML
}

type schemaView struct {
	Name, ID    string
	Description template.HTML
	Body        template.HTML
}

// renderer walks the document; refs are JSON pointers into it.
type renderer struct{ spec map[string]any }

func renderPage(spec map[string]any) ([]byte, error) {
	r := renderer{spec: spec}
	info := obj(spec["info"])
	p := page{Title: str(info["title"]), Version: str(info["version"]), Summary: str(info["summary"]),
		Intro: markdown(str(info["description"])), Style: template.CSS(pageStyle)} //nolint:gosec // the package's own constant

	schemes := obj(obj(spec["components"])["securitySchemes"])
	for _, name := range sortedKeys(schemes) {
		s := obj(schemes[name])
		kind := str(s["type"])
		if s["scheme"] != nil {
			kind += " " + str(s["scheme"])
		}
		if s["bearerFormat"] != nil {
			kind += " (" + str(s["bearerFormat"]) + ")"
		}
		p.Auth = append(p.Auth, authView{Name: name, Kind: kind, Description: markdown(str(s["description"]))})
	}

	byTag := map[string][]opView{}
	paths := obj(spec["paths"])
	for _, path := range sortedKeys(paths) {
		item := obj(paths[path])
		for _, m := range methods {
			op, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			v, err := r.operation(path, m, item, op)
			if err != nil {
				return nil, err
			}
			tag := "Other"
			if tags, _ := op["tags"].([]any); len(tags) > 0 {
				tag = str(tags[0])
			}
			byTag[tag] = append(byTag[tag], v)
		}
	}
	seen := map[string]bool{}
	for _, t := range list(spec["tags"]) {
		tag := obj(t)
		name := str(tag["name"])
		seen[name] = true
		p.Tags = append(p.Tags, tagView{Name: name, ID: "tag-" + anchor(name), Description: markdown(str(tag["description"])), Ops: byTag[name]})
	}
	for _, name := range sortedKeys(byTag) {
		if !seen[name] {
			p.Tags = append(p.Tags, tagView{Name: name, ID: "tag-" + anchor(name), Ops: byTag[name]})
		}
	}

	schemas := obj(obj(spec["components"])["schemas"])
	for _, name := range sortedKeys(schemas) {
		s := obj(schemas[name])
		p.Schemas = append(p.Schemas, schemaView{Name: name, ID: "schema-" + anchor(name),
			Description: markdown(str(s["description"])), Body: template.HTML(r.schema(s, false))}) //nolint:gosec // built from escaped text
	}

	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, p); err != nil {
		return nil, fmt.Errorf("openapi: render the reference page: %w", err)
	}
	return buf.Bytes(), nil
}

func (r renderer) operation(path, method string, item, op map[string]any) (opView, error) {
	v := opView{ID: str(op["operationId"]), Method: strings.ToUpper(method), Path: path, Summary: str(op["summary"]),
		Description: markdown(str(op["description"]))}
	if sec, ok := op["security"].([]any); ok && len(sec) == 0 {
		v.Anonymous = true
	}
	params := append(list(item["parameters"]), list(op["parameters"])...)
	for _, raw := range params {
		prm := r.resolve(obj(raw))
		pv := paramView{Name: str(prm["name"]), In: str(prm["in"]), Required: prm["required"] == true,
			Schema: template.HTML(r.schema(obj(prm["schema"]), true)), Description: markdown(str(prm["description"]))} //nolint:gosec // built from escaped text
		if ex, ok := prm["example"]; ok {
			pv.Example = exampleText(ex)
		}
		v.Params = append(v.Params, pv)
	}
	if rb := r.resolve(obj(op["requestBody"])); rb != nil {
		v.Request = r.bodies(obj(rb["content"]), true)
	}
	responses := obj(op["responses"])
	for _, status := range sortedKeys(responses) {
		resp := r.resolve(obj(responses[status]))
		// Errors share one body shape: their examples would only repeat it.
		rv := responseView{Status: status, Description: markdown(str(resp["description"])),
			Bodies: r.bodies(obj(resp["content"]), status < "400")}
		headers := obj(resp["headers"])
		for _, name := range sortedKeys(headers) {
			h := r.resolve(obj(headers[name]))
			rv.Headers = append(rv.Headers, headerView{Name: name, Required: h["required"] == true,
				Schema: template.HTML(r.schema(obj(h["schema"]), true)), Description: template.HTML(inline(str(h["description"])))}) //nolint:gosec // built from escaped text
		}
		v.Responses = append(v.Responses, rv)
	}
	if v.ID == "" {
		return v, fmt.Errorf("openapi: %s %s has no operationId", v.Method, path)
	}
	return v, nil
}

// bodies renders the content of a request or answer; examples (for
// requests and successes) also shows the examples and expands the schema.
func (r renderer) bodies(content map[string]any, examples bool) []bodyView {
	var out []bodyView
	for _, ct := range sortedKeys(content) {
		mt := obj(content[ct])
		b := bodyView{ContentType: ct}
		if s := obj(mt["schema"]); s != nil {
			b.Schema = template.HTML(r.schema(s, !examples)) //nolint:gosec // built from escaped text
		}
		if !examples {
			out = append(out, b)
			continue
		}
		if ex, ok := mt["example"]; ok {
			b.Example = exampleText(ex)
		}
		named := obj(mt["examples"])
		for _, name := range sortedKeys(named) {
			ex := r.resolve(obj(named[name]))
			b.Named = append(b.Named, namedExample{Name: name, Summary: str(ex["summary"]), Value: exampleText(ex["value"])})
		}
		out = append(out, b)
	}
	return out
}

// resolve follows a $ref to a component (parameter, response, header,
// request body); anything else is returned as it is.
func (r renderer) resolve(m map[string]any) map[string]any {
	for range 8 {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		m = obj(r.pointer(ref))
	}
	return m
}

// pointer reads a local JSON pointer ("#/components/schemas/User").
func (r renderer) pointer(ref string) any {
	var v any = r.spec
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		v = obj(v)[tok]
	}
	return v
}

// schema renders a schema: its type line and, for objects, its properties.
// short stops at the type line (parameters, headers).
func (r renderer) schema(s map[string]any, short bool) string {
	var b strings.Builder
	b.WriteString(`<span class="type">`)
	b.WriteString(r.typeLine(s))
	b.WriteString(`</span>`)
	if short {
		return b.String()
	}
	// A named schema's properties are shown where it is used too, one
	// level deep; below that its name links to it.
	if ref, ok := s["$ref"].(string); ok {
		s = obj(r.pointer(ref))
	}
	b.WriteString(r.details(s))
	return b.String()
}

// typeLine is a schema in one line: a link to a named schema, a type with
// its format and constraints, an array of something.
func (r renderer) typeLine(s map[string]any) string {
	if ref, ok := s["$ref"].(string); ok {
		name := ref[strings.LastIndex(ref, "/")+1:]
		return `<a href="#schema-` + anchor(name) + `">` + html.EscapeString(name) + `</a>`
	}
	var parts []string
	switch t := s["type"].(type) {
	case string:
		parts = append(parts, html.EscapeString(t))
	case []any:
		var ts []string
		for _, x := range t {
			ts = append(ts, html.EscapeString(str(x)))
		}
		parts = append(parts, strings.Join(ts, " | "))
	}
	if items := obj(s["items"]); items != nil && len(parts) > 0 && parts[0] == "array" {
		parts[0] = "array of " + r.typeLine(items)
	}
	for _, k := range []string{"allOf", "oneOf", "anyOf"} {
		if xs := list(s[k]); len(xs) > 0 {
			var ts []string
			for _, x := range xs {
				ts = append(ts, r.typeLine(obj(x)))
			}
			word := map[string]string{"allOf": "all of", "oneOf": "one of", "anyOf": "any of"}[k]
			parts = append(parts, word+" ("+strings.Join(ts, ", ")+")")
		}
	}
	if f := str(s["format"]); f != "" {
		parts = append(parts, "("+html.EscapeString(f)+")")
	}
	if enum := list(s["enum"]); len(enum) > 0 {
		var vs []string
		for _, e := range enum {
			vs = append(vs, "<code>"+html.EscapeString(exampleText(e))+"</code>")
		}
		parts = append(parts, "one of "+strings.Join(vs, ", "))
	}
	if c, ok := s["const"]; ok {
		parts = append(parts, "always <code>"+html.EscapeString(exampleText(c))+"</code>")
	}
	for _, c := range []struct{ key, text string }{
		{"minLength", "at least %v characters"}, {"maxLength", "at most %v characters"},
		{"minItems", "at least %v items"}, {"maxItems", "at most %v items"},
		{"minimum", "≥ %v"}, {"maximum", "≤ %v"}, {"default", "default %v"},
	} {
		if v, ok := s[c.key]; ok {
			parts = append(parts, html.EscapeString(fmt.Sprintf(c.text, exampleText(v))))
		}
	}
	if p := str(s["pattern"]); p != "" {
		parts = append(parts, "matching <code>"+html.EscapeString(p)+"</code>")
	}
	if len(parts) == 0 {
		return "any"
	}
	return strings.Join(parts, ", ")
}

// details lists an object's properties, nested objects and arrays of them
// included.
func (r renderer) details(s map[string]any) string {
	props := obj(s["properties"])
	if items := obj(s["items"]); items != nil && items["$ref"] == nil {
		props = obj(items["properties"])
		s = items
	}
	if len(props) == 0 {
		return ""
	}
	required := map[string]bool{}
	for _, q := range list(s["required"]) {
		required[str(q)] = true
	}
	var b strings.Builder
	b.WriteString(`<ul class="props">`)
	for _, name := range sortedKeys(props) {
		p := obj(props[name])
		b.WriteString(`<li><code>` + html.EscapeString(name) + `</code> <span class="type">` + r.typeLine(p) + `</span>`)
		if required[name] {
			b.WriteString(` <span class="req">required</span>`)
		}
		if d := str(p["description"]); d != "" {
			b.WriteString(` — ` + inline(d))
		}
		if p["$ref"] == nil {
			b.WriteString(r.details(p))
		}
		b.WriteString(`</li>`)
	}
	b.WriteString(`</ul>`)
	return b.String()
}

var (
	codeSpan   = regexp.MustCompile("`([^`]+)`")
	strongSpan = regexp.MustCompile(`\*\*([^*]+)\*\*`)
)

// inline renders the Markdown the document uses in a line: `code` and
// **strong**, over escaped text.
func inline(s string) string {
	s = html.EscapeString(strings.TrimSpace(s))
	s = codeSpan.ReplaceAllString(s, "<code>$1</code>")
	return strongSpan.ReplaceAllString(s, "<strong>$1</strong>")
}

// markdown renders paragraphs (blank-line separated) of inline Markdown.
func markdown(s string) template.HTML {
	var b strings.Builder
	for _, para := range strings.Split(strings.TrimSpace(s), "\n\n") {
		if para = strings.TrimSpace(para); para != "" {
			b.WriteString("<p>" + inline(strings.Join(strings.Fields(para), " ")) + "</p>")
		}
	}
	return template.HTML(b.String()) //nolint:gosec // built from escaped text
}

// exampleText shows an example: a string as it is, anything else as
// indented JSON.
func exampleText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func anchor(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, s)
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func list(v any) []any         { l, _ := v.([]any); return l }
func str(v any) string         { s, _ := v.(string); return s }

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

const pageStyle = `
body{margin:0;font:15px/1.5 system-ui,sans-serif;color:#1d2330;background:#fff}
nav{position:fixed;top:0;bottom:0;left:0;width:18rem;overflow-y:auto;padding:1rem;background:#f4f5f8;border-right:1px solid #dde0e7;box-sizing:border-box;font-size:13px}
nav a{color:#1d2330;text-decoration:none}nav ul{list-style:none;padding-left:.6rem;margin:.2rem 0 .8rem}
main{margin-left:18rem;padding:1rem 2.5rem 4rem;max-width:62rem}
h1{margin-top:0}h2{border-bottom:1px solid #dde0e7;padding-bottom:.3rem;margin-top:2.5rem}
section.op{border:1px solid #dde0e7;border-radius:6px;padding:.2rem 1rem 1rem;margin:1.2rem 0}
.m{display:inline-block;min-width:4.2rem;text-align:center;border-radius:4px;color:#fff;font:bold 12px/1.8 ui-monospace,monospace;margin-right:.4rem}
.GET{background:#2f7d4f}.POST{background:#2f5f9e}.PUT{background:#8a5a00}.PATCH{background:#6b4c9a}.DELETE{background:#a33a3a}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px}
pre{background:#f4f5f8;border:1px solid #dde0e7;border-radius:4px;padding:.6rem;overflow-x:auto}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eceef2;padding:.3rem .5rem;text-align:left;vertical-align:top}
td:nth-child(3){width:45%}td:last-child{max-width:16rem;word-break:break-all}td p{margin:.2rem 0}
.type{color:#5a6275}.req{color:#a33a3a;font-size:12px}.anon{color:#2f7d4f;font-size:13px}.auth{color:#8a5a00;font-size:13px}
.status{font-weight:bold;font-family:ui-monospace,monospace}ul.props{margin:.2rem 0;padding-left:1.2rem}
`

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} reference</title>
<style>{{.Style}}</style>
</head>
<body>
<nav>
<strong>{{.Title}}</strong> v{{.Version}}
<ul><li><a href="#overview">Overview</a></li><li><a href="#auth">Authentication</a></li></ul>
{{range .Tags}}<a href="#{{.ID}}"><strong>{{.Name}}</strong></a>
<ul>{{range .Ops}}<li><a href="#op-{{.ID}}"><code>{{.Method}}</code> {{.Path}}</a></li>{{end}}</ul>
{{end}}<a href="#schemas"><strong>Schemas</strong></a>
</nav>
<main>
<h1 id="overview">{{.Title}} <small>v{{.Version}}</small></h1>
<p>{{.Summary}} The machine-readable document: <a href="/v1/openapi.json">/v1/openapi.json</a> (OpenAPI 3.1).</p>
{{.Intro}}
<h2 id="auth">Authentication</h2>
{{range .Auth}}<p><code>{{.Name}}</code>: {{.Kind}}</p>{{.Description}}{{end}}
{{range .Tags}}
<h2 id="{{.ID}}">{{.Name}}</h2>
{{.Description}}
{{range .Ops}}
<section class="op" id="op-{{.ID}}">
<h3><span class="m {{.Method}}">{{.Method}}</span><code>{{.Path}}</code></h3>
<p><strong>{{.Summary}}</strong> {{if .Anonymous}}<span class="anon">anonymous</span>{{else}}<span class="auth">bearer token</span>{{end}} <span class="type">({{.ID}})</span></p>
{{.Description}}
{{if .Params}}<h4>Parameters</h4>
<table><tr><th>name</th><th>in</th><th>type</th><th>example</th></tr>
{{range .Params}}<tr><td><code>{{.Name}}</code>{{if .Required}} <span class="req">required</span>{{end}}</td><td>{{.In}}</td><td>{{.Schema}}{{.Description}}</td><td><code>{{.Example}}</code></td></tr>
{{end}}</table>{{end}}
{{range .Request}}<h4>Request body <code>{{.ContentType}}</code></h4>
{{.Schema}}
{{if .Example}}<pre>{{.Example}}</pre>{{end}}
{{end}}
<h4>Responses</h4>
{{range .Responses}}<p><span class="status">{{.Status}}</span></p>{{.Description}}
{{if .Headers}}<ul>{{range .Headers}}<li><code>{{.Name}}</code>{{if .Required}} <span class="req">always</span>{{end}} {{.Schema}} {{.Description}}</li>{{end}}</ul>{{end}}
{{range .Bodies}}<p><code>{{.ContentType}}</code> {{.Schema}}</p>{{if .Example}}<pre>{{.Example}}</pre>{{end}}{{range .Named}}<p><em>{{.Name}}</em>: {{.Summary}}</p><pre>{{.Value}}</pre>{{end}}{{end}}
{{end}}
</section>
{{end}}
{{end}}
<h2 id="schemas">Schemas</h2>
{{range .Schemas}}<section id="{{.ID}}"><h3>{{.Name}}</h3>{{.Description}}{{.Body}}</section>
{{end}}
</main>
</body>
</html>
`))
